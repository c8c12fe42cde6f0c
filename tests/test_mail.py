"""`digest send`: a real SMTP conversation with an aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from conftest import REPO, run

from digest.cli import main

TO = "reader@example.com"
USER = "smtp-user-5b1f"
PASSWORD = "pw-8c2e-do-not-print"
SMTP_VARS = ("DIGEST_SMTP_HOST", "DIGEST_SMTP_PORT", "DIGEST_SMTP_USER", "DIGEST_SMTP_PASSWORD", "DIGEST_SMTP_SECURITY")


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


def send(root: Path, number: int, to: str = TO, **env: str | None) -> Result:
    """`digest send NUMBER --to TO --root ROOT` with exactly the given DIGEST_SMTP_* variables."""
    environment: dict[str, str | None] = dict.fromkeys(SMTP_VARS)
    environment.update(env)
    return CliRunner().invoke(main, ["send", str(number), "--to", to, "--root", str(root)], env=environment, catch_exceptions=False)


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
        golden_root, 7,
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
        golden_root, 7,
        **plain(port, DIGEST_SMTP_USER=USER, DIGEST_SMTP_PASSWORD=PASSWORD),
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"environment: could not send through 127.0.0.1:{port}: ")
    assert "535" in lines[0]  # the server's answer: authentication failed
    assert lines[1:] == ["1 error; nothing was sent"]
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output
    assert inbox.envelopes == []


def test_missing_host_is_an_exact_error(golden_root: Path) -> None:
    result = send(golden_root, 7, DIGEST_SMTP_PASSWORD=PASSWORD)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "environment: set DIGEST_SMTP_HOST (and DIGEST_SMTP_USER / DIGEST_SMTP_PASSWORD) to send email\n"
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
            golden_root, 7,
            **plain(port, DIGEST_SMTP_USER=USER, DIGEST_SMTP_PASSWORD=PASSWORD),
        )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"environment: could not send through 127.0.0.1:{port}: [Errno 111] Connection refused\n"
        "1 error; nothing was sent\n"
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
    ["reader@example.com\r\nBcc: evil@example.net", "reader@example.com\nSubject: hijacked", "not an address", "a@example.com, b@example.com"],
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
