"""`digest send`: a real SMTP conversation with an aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import email.utils
import shutil
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from conftest import REPO, run

from digest.cli import main

pytestmark = pytest.mark.slow  # server tests (SMTP on 127.0.0.1): the fast tier is -m 'not slow'

TO = "reader@example.com"
USER = "smtp-user-5b1f"
PASSWORD = "pw-8c2e-do-not-print"
SMTP_VARS = (
    "DIGEST_SMTP_HOST",
    "DIGEST_SMTP_PORT",
    "DIGEST_SMTP_USER",
    "DIGEST_SMTP_PASSWORD",
    "DIGEST_SMTP_SECURITY",
    "DIGEST_SMTP_CA_FILE",
)


@dataclass
class Inbox:
    """What the SMTP server received."""

    envelopes: list[Any] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    accept_login: bool = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd itself answers a refusal with 535.
        return AuthResult(success=self.accept_login, handled=False)

    def message(self) -> EmailMessage:
        assert len(self.envelopes) == 1
        return email.message_from_bytes(self.envelopes[0].content, policy=email.policy.default)  # type: ignore[return-value]


class LoopbackController(Controller):
    """aiosmtpd's Controller on a socket already bound to 127.0.0.1:0 (no guessing a free port)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A running SMTP server: (inbox, port).  It offers AUTH without TLS, as security=none implies."""
    inbox = Inbox()
    controller = LoopbackController(inbox, authenticator=inbox.authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def send(root: Path, number: int, to: str | list[str] = TO, **env: str | None) -> Result:
    """`digest send NUMBER --to TO... --root ROOT` with exactly the given DIGEST_SMTP_* variables."""
    environment: dict[str, str | None] = dict.fromkeys(SMTP_VARS)
    environment.update(env)
    args = [a for address in ([to] if isinstance(to, str) else to) for a in ("--to", address)]
    return CliRunner().invoke(
        main, ["send", str(number), *args, "--root", str(root)], env=environment, catch_exceptions=False
    )


def plain(port: int, **more: str) -> dict[str, str]:
    """The DIGEST_SMTP_* variables for the test server on 127.0.0.1:``port``, without TLS."""
    return {"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port), "DIGEST_SMTP_SECURITY": "none", **more}


def part_text(part: Any) -> str:
    """A text part's decoded content, with SMTP's CRLF line ends back to LF."""
    return str(part.get_content()).replace("\r\n", "\n")


def as_mime_text(file_text: str) -> str:
    """A file's text as a MIME text part carries it: a text part always ends with a line break."""
    return file_text if file_text.endswith("\n") else file_text + "\n"


def built(root: Path) -> Path:
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    return root / "site"


def test_send_delivers_the_built_issue_as_multipart_alternative(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    site = built(golden_root)
    result = send(golden_root, 7, **plain(port))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"sent issue 7 to reader@example.com via 127.0.0.1:{port}\n"
    assert result.stderr == ""

    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "news@example.com"
    assert envelope.rcpt_tos == [TO]
    assert inbox.logins == []  # no credentials set, so no AUTH attempted

    msg = inbox.message()
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]  # the last is the preferred one
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert msg["Subject"] == "Golden Weekly #7: leap day special"
    assert msg["From"] == "Golden Weekly <news@example.com>"
    assert msg["Reply-To"] == "editor@example.com"
    assert msg["To"] == TO
    assert msg["Message-ID"].endswith("@example.com>")

    assert part_text(parts[1]) == as_mime_text((site / "issues" / "7" / "email.html").read_text(encoding="utf-8"))
    assert part_text(parts[0]) == as_mime_text((site / "issues" / "7" / "email.txt").read_text(encoding="utf-8"))


def test_send_encodes_a_right_to_left_subject_and_sender(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    root = tmp_path / "arabic"
    root.mkdir()
    shutil.copy2(REPO / "examples" / "arabic" / "config.yaml", root)
    shutil.copytree(REPO / "examples" / "arabic" / "issues", root / "issues")
    site = built(root)
    result = send(root, 263, **plain(port))
    assert result.exit_code == 0, result.output
    raw = inbox.envelopes[0].content
    assert raw.isascii()  # non-ASCII headers are RFC 2047 encoded, bodies transfer-encoded
    msg = inbox.message()
    assert msg["Subject"] == "العدد 263: ضيوف ألبانيا الإيرانيون، وأرشيف رقمي لذاكرة بيروت"
    assert msg["From"] == "النشرة الأسبوعية <ar@digest.example.org>"
    assert msg["Reply-To"] == "arabic@digest.example.org"
    html = part_text(list(msg.iter_parts())[1])
    assert html == as_mime_text((site / "issues" / "263" / "email.html").read_text(encoding="utf-8"))


def test_credentials_are_used_and_never_printed(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    result = send(
        golden_root,
        7,
        **plain(port, DIGEST_SMTP_USER=USER, DIGEST_SMTP_PASSWORD=PASSWORD),
    )
    assert result.exit_code == 0, result.output
    assert inbox.logins == [(USER.encode(), PASSWORD.encode())]
    assert result.stdout == f"sent issue 7 to reader@example.com via 127.0.0.1:{port}\n"
    assert PASSWORD not in result.output and USER not in result.output


def test_rejected_credentials_are_a_clear_error_without_the_secret(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.accept_login = False
    result = send(
        golden_root,
        7,
        **plain(port, DIGEST_SMTP_USER=USER, DIGEST_SMTP_PASSWORD=PASSWORD),
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        result.stderr
        == f"environment: could not send through 127.0.0.1:{port}: the server refused DIGEST_SMTP_USER and"
        " DIGEST_SMTP_PASSWORD (535 5.7.8 Authentication credentials invalid)\n1 error; nothing was sent\n"
    )
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output
    assert inbox.envelopes == []


def test_missing_host_is_an_exact_error(golden_root: Path) -> None:
    result = send(golden_root, 7, DIGEST_SMTP_PASSWORD=PASSWORD)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        result.stderr
        == "environment: set DIGEST_SMTP_HOST (and DIGEST_SMTP_USER / DIGEST_SMTP_PASSWORD) to send email\n"
        "1 error; nothing was sent\n"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIGEST_SMTP_SECURITY": "tls"}, "environment: DIGEST_SMTP_SECURITY must be starttls, ssl or none, got 'tls'"),
        ({"DIGEST_SMTP_PORT": "twenty-five"}, "environment: DIGEST_SMTP_PORT must be a number, got 'twenty-five'"),
    ],
)
def test_bad_smtp_settings_are_exact_errors(golden_root: Path, env: dict[str, str], message: str) -> None:
    result = send(golden_root, 7, DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PASSWORD=PASSWORD, **env)
    assert result.exit_code == 1
    assert result.stderr == f"{message}\n1 error; nothing was sent\n"
    assert PASSWORD not in result.output


def test_closed_port_is_a_clear_error_without_traceback(golden_root: Path) -> None:
    # A socket bound but not listening: connecting to it is refused, and nobody else can take the port meanwhile.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        result = send(
            golden_root,
            7,
            **plain(port, DIGEST_SMTP_USER=USER, DIGEST_SMTP_PASSWORD=PASSWORD),
        )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        result.stderr
        == f"environment: could not send through 127.0.0.1:{port}: the connection was refused (check DIGEST_SMTP_HOST"
        " and DIGEST_SMTP_PORT)\n1 error; nothing was sent\n"
    )
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output and USER not in result.output


def test_unknown_issue_is_an_error_and_nothing_is_sent(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    result = send(golden_root, 99, **plain(port))
    assert result.exit_code == 1
    assert result.stderr == "issues: there is no issue 99\n1 error; nothing was sent\n"
    assert inbox.envelopes == []


@pytest.mark.parametrize(
    "to",
    [
        "reader@example.com\r\nBcc: evil@example.net",
        "reader@example.com\nSubject: hijacked",
        "not an address",
        "a@example.com, b@example.com",
    ],
)
def test_to_must_be_one_address_and_cannot_inject_headers(golden_root: Path, smtp: tuple[Inbox, int], to: str) -> None:
    inbox, port = smtp
    result = send(golden_root, 7, to, **plain(port))
    assert result.exit_code == 1  # a user error, not an "internal error" (exit 2)
    assert result.stderr == f"--to: must be one email address, got {to!r}\n1 error; nothing was sent\n"
    assert inbox.envelopes == []


def test_to_may_carry_a_display_name(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    to = "Zoë Reader <reader@example.com>"
    result = send(golden_root, 7, to, **plain(port))
    assert result.exit_code == 0, result.output
    assert inbox.envelopes[0].rcpt_tos == ["reader@example.com"]
    assert inbox.message()["To"] == to


# The proof's headers, several recipients, TLS, and `digest export`.


def test_the_proof_carries_the_list_headers(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    config = golden_root / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'unsubscribe_url: "*|UNSUB|*"',
            "unsubscribe_url: https://golden.example.com/leave?u=1\n  unsubscribe_mailto: leave@example.com",
        ),
        encoding="utf-8",
    )
    result = send(golden_root, 7, **plain(port))
    assert result.exit_code == 0, result.output
    msg = inbox.message()
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Id"] == "Golden Weekly <news.golden.example.com>"
    assert (
        msg["List-Unsubscribe"]
        == "<https://golden.example.com/leave?u=1>, <mailto:leave@example.com?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    sent = email.utils.parsedate_to_datetime(msg["Date"])
    assert sent.tzinfo is not None and abs((sent - email.utils.localtime()).total_seconds()) < 3600
    assert len(msg.get_all("MIME-Version") or []) == 1


def test_a_merge_tag_unsubscribe_has_no_one_click_header(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    assert send(golden_root, 7, **plain(port)).exit_code == 0
    msg = inbox.message()
    assert msg["List-Unsubscribe"] == "<*|UNSUB|*>"  # the mailing service fills it in
    assert msg["List-Unsubscribe-Post"] is None  # one-click needs an https URL


def test_several_recipients_receive_one_message(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    result = send(golden_root, 7, [TO, "Editor <editor@example.org>"], **plain(port))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"sent issue 7 to reader@example.com, Editor <editor@example.org> via 127.0.0.1:{port}\n"
    assert inbox.envelopes[0].rcpt_tos == [TO, "editor@example.org"]
    assert inbox.message()["To"] == "reader@example.com, Editor <editor@example.org>"


@dataclass
class Tls:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    """A certificate authority made for this test, and a server certificate for 127.0.0.1 that it signed."""
    ca = trustme.CA()
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    return Tls(ca_file, server)


def test_starttls_delivers_and_logs_in_only_after_tls(golden_root: Path, tls: Tls) -> None:
    inbox = Inbox()
    # auth_require_tls: the server refuses AUTH before STARTTLS, so a login proves TLS was up.
    controller = LoopbackController(
        inbox, tls_context=tls.server, require_starttls=True, authenticator=inbox.authenticate, auth_require_tls=True
    )
    controller.start()
    try:
        env = {
            "DIGEST_SMTP_HOST": "127.0.0.1",
            "DIGEST_SMTP_PORT": str(controller.port),
            "DIGEST_SMTP_CA_FILE": str(tls.ca_file),
        }
        result = send(
            golden_root, 7, DIGEST_SMTP_USER=USER, DIGEST_SMTP_PASSWORD=PASSWORD, **env
        )  # security: starttls by default
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert inbox.logins == [(USER.encode(), PASSWORD.encode())]
    parts = list(inbox.message().iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]


@pytest.fixture
def smtps(tls: Tls) -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1 that speaks TLS from the first byte (implicit TLS)."""
    inbox = Inbox()
    controller = LoopbackController(inbox, ssl_context=tls.server)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_implicit_tls_delivers(golden_root: Path, smtps: tuple[Inbox, int], tls: Tls) -> None:
    inbox, port = smtps
    result = send(
        golden_root,
        7,
        DIGEST_SMTP_HOST="127.0.0.1",
        DIGEST_SMTP_PORT=str(port),
        DIGEST_SMTP_SECURITY="ssl",
        DIGEST_SMTP_CA_FILE=str(tls.ca_file),
    )
    assert result.exit_code == 0, result.output
    assert inbox.message()["Subject"] == "Golden Weekly #7: leap day special"


def test_an_untrusted_certificate_is_one_clear_line(golden_root: Path, smtps: tuple[Inbox, int]) -> None:
    inbox, port = smtps
    # No DIGEST_SMTP_CA_FILE: the system's authorities never signed the test's certificate.
    result = send(golden_root, 7, DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(port), DIGEST_SMTP_SECURITY="ssl")
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"environment: could not send through 127.0.0.1:{port}: the server's TLS certificate is not trusted"
        " (unable to get local issuer certificate); if it is signed by your own authority, set DIGEST_SMTP_CA_FILE\n"
        "1 error; nothing was sent\n"
    )
    assert inbox.envelopes == []


def test_tls_against_a_plaintext_server_is_one_clear_line(golden_root: Path, smtp: tuple[Inbox, int], tls: Tls) -> None:
    inbox, port = smtp
    result = send(
        golden_root,
        7,
        DIGEST_SMTP_HOST="127.0.0.1",
        DIGEST_SMTP_PORT=str(port),
        DIGEST_SMTP_SECURITY="ssl",
        DIGEST_SMTP_CA_FILE=str(tls.ca_file),
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"environment: could not send through 127.0.0.1:{port}: TLS failed: ")
    assert result.stderr.endswith("\n1 error; nothing was sent\n") and result.stderr.count("\n") == 2
    assert inbox.envelopes == []


def test_a_server_without_starttls_is_one_clear_line(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    result = send(golden_root, 7, DIGEST_SMTP_HOST="127.0.0.1", DIGEST_SMTP_PORT=str(port))
    assert result.exit_code == 1
    assert (
        result.stderr == f"environment: could not send through 127.0.0.1:{port}: the server does not offer STARTTLS: "
        "STARTTLS extension not supported by server.; set DIGEST_SMTP_SECURITY=ssl or none\n"
        "1 error; nothing was sent\n"
    )
    assert inbox.envelopes == []


def test_export_writes_the_message_send_would_send(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    out = golden_root / "7.eml"
    result = run("export", "7", "--out", str(out), "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert result.stdout == f"wrote issue 7 to {out} ({len(data):,} bytes)\n"
    exported = email.message_from_bytes(data, policy=email.policy.default)
    assert send(golden_root, 7, **plain(port)).exit_code == 0
    sent = inbox.message()
    for name in ("Subject", "From", "Reply-To", "List-Id", "List-Unsubscribe", "MIME-Version", "Content-Type"):
        assert exported[name].split(";")[0] == sent[name].split(";")[0], name
    assert exported["To"] == "Golden Weekly <news@example.com>"  # no --to: addressed to the sender
    assert [part_text(p) for p in exported.iter_parts()] == [part_text(p) for p in sent.iter_parts()]


def test_export_without_out_writes_to_standard_output(golden_root: Path) -> None:
    result = run("export", "7", "--to", TO, "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    msg = email.message_from_bytes(result.stdout_bytes, policy=email.policy.default)
    assert msg["To"] == TO
    assert msg.get_content_type() == "multipart/alternative"
    assert not (golden_root / "site").exists()


def test_an_email_gmail_would_clip_is_neither_sent_nor_exported(golden_root: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    long_text = " ".join(f"word{i}" for i in range(25_000))
    (golden_root / "issues" / "0009.yaml").write_text(
        f"date: 2024-03-14\nintro: {long_text}\nsections:\n  - items:\n      - title: One\n", encoding="utf-8"
    )
    result = send(golden_root, 9, **plain(port))
    assert result.exit_code == 1
    line = result.stderr.splitlines()[0]
    assert line.startswith("issues/0009.yaml: email.html is ") and line.endswith(
        " bytes as sent, over Gmail's clipping limit of 102,000: Gmail would hide the rest and the unsubscribe link;"
        " shorten it or split it"
    )
    assert result.stderr.splitlines()[1:] == ["1 error; nothing was sent"]
    assert inbox.envelopes == []
    exported = run("export", "9", "--root", str(golden_root))
    assert exported.exit_code == 1
    assert exported.stderr == f"{line}\n1 error; nothing was written\n"
    assert exported.stdout == ""
