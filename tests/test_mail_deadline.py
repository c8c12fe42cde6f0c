"""Issue 20 items 6, 9, 14 and 15 and issue 19's SMTP wording: `digest send` against servers on
127.0.0.1 that trickle bytes, hang after taking the message, or speak SMTPUTF8; settings that used
to crash (exit 2). The deadline is lowered with DIGEST_SMTP_TIMEOUT so each case takes about a second.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run
from test_mail import Inbox, LoopbackController, plain, send, smtp  # noqa: F401 - smtp is a fixture

pytestmark = pytest.mark.slow  # server tests (SMTP servers on 127.0.0.1 that trickle or never answer)

SECOND = "1 second (DIGEST_SMTP_TIMEOUT)"


class Trickler:
    """A TCP server on 127.0.0.1 that answers like SMTP, but sends the answer to ``slow`` (None:
    the greeting) one byte every ``gap`` seconds, as the hostile server in the issue did."""

    def __init__(self, slow: str | None, gap: float = 0.4) -> None:
        self.slow, self.gap = slow, gap
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _say(self, conn: socket.socket, text: str, slow: bool) -> None:
        data = text.encode() + b"\r\n"
        if not slow:
            conn.sendall(data)
            return
        for byte in data:
            if self.stop.wait(self.gap):
                return
            conn.sendall(bytes([byte]))

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            try:
                self._say(conn, "220 trickle.example ESMTP ready", self.slow is None)
                for line in conn.makefile("rb"):
                    command = line.decode().split()[0].upper() if line.strip() else ""
                    self._say(
                        conn, "250 trickle.example" if command in ("EHLO", "HELO") else "250 ok", command == self.slow
                    )
            except OSError:
                pass  # the client went away: what the deadline does

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        self.thread.join()


@pytest.fixture
def trickler(request: pytest.FixtureRequest) -> Iterator[Trickler]:
    server = Trickler(request.param)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize(
    ("trickler", "why"),
    [(None, f"it did not connect and greet within {SECOND}"), ("EHLO", f"no answer to EHLO within {SECOND}")],
    indirect=["trickler"],
)
def test_a_trickling_server_is_left_at_the_deadline(golden_root: Path, trickler: Trickler, why: str) -> None:
    started = time.monotonic()
    result = send(golden_root, 7, **plain(trickler.port, DIGEST_SMTP_TIMEOUT="1"))
    elapsed = time.monotonic() - started
    assert (
        result.stderr
        == f"environment: could not send through 127.0.0.1:{trickler.port}: {why}\n1 error; nothing was sent\n"
    )
    assert result.exit_code == 1
    print(f"gave up after {elapsed:.2f} s")  # the figure for the report; no test asserts a time


class Silent(Inbox):
    """Takes the whole message, then never answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        await self.release.wait()  # until the test ends
        return "250 too late"


def test_a_server_that_takes_the_message_and_never_answers_leaves_the_outcome_unknown(golden_root: Path) -> None:
    inbox = Silent()
    controller = LoopbackController(inbox)
    controller.start()
    try:
        result = send(golden_root, 7, **plain(controller.port, DIGEST_SMTP_TIMEOUT="1"))
    finally:
        controller.loop.call_soon_threadsafe(inbox.release.set)
        controller.stop()
    assert (
        result.stderr
        == f"environment: could not send through 127.0.0.1:{controller.port}: the server took the whole message but"
        f" gave no answer within {SECOND}\n1 error; the outcome is unknown: the server may have received the"
        " message; check the inbox before sending again\n"
    )
    assert result.exit_code == 1
    assert len(inbox.envelopes) == 1  # it did receive it


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIGEST_SMTP_PORT": "²"}, "DIGEST_SMTP_PORT must be a number, got '²'"),
        ({"DIGEST_SMTP_PORT": "70000"}, "DIGEST_SMTP_PORT must be a port number from 1 to 65535, got '70000'"),
        ({"DIGEST_SMTP_HOST": "a..b"}, "DIGEST_SMTP_HOST must be a host name or an IP address, got 'a..b'"),
        (
            {"DIGEST_SMTP_HOST": "x" * 64 + ".org"},
            f"DIGEST_SMTP_HOST must be a host name or an IP address, got '{'x' * 64}.org'",
        ),
        (
            {"DIGEST_SMTP_TIMEOUT": "0"},
            "DIGEST_SMTP_TIMEOUT must be a number of seconds above 0 and at most 600, got '0'",
        ),
        (
            {"DIGEST_SMTP_TIMEOUT": "nan"},
            "DIGEST_SMTP_TIMEOUT must be a number of seconds above 0 and at most 600, got 'nan'",
        ),
        (
            {"DIGEST_SMTP_TIMEOUT": "٣"},
            "DIGEST_SMTP_TIMEOUT must be a number of seconds above 0 and at most 600, got '٣'",
        ),
    ],
)
def test_settings_that_crashed_are_one_line(golden_root: Path, env: dict[str, str], message: str) -> None:
    result = send(golden_root, 7, **{"DIGEST_SMTP_HOST": "127.0.0.1", **env})
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"environment: {message}\n1 error; nothing was sent\n",
    )


def test_a_login_over_a_plain_connection_is_advised_towards_tls(golden_root: Path) -> None:
    inbox = Inbox()
    controller = LoopbackController(inbox, authenticator=inbox.authenticate)  # AUTH only after TLS (aiosmtpd's default)
    controller.start()
    try:
        result = send(
            golden_root, 7, **plain(controller.port, DIGEST_SMTP_USER="me", DIGEST_SMTP_PASSWORD="secret-7c1")
        )
    finally:
        controller.stop()
    assert (
        result.stderr
        == f"environment: could not send through 127.0.0.1:{controller.port}: the server does not offer a login (SMTP"
        " AUTH) over a connection without TLS; set DIGEST_SMTP_SECURITY=starttls (port 587) or ssl (port 465), or"
        " unset DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD if it needs no login\n1 error; nothing was sent\n"
    )
    assert "DIGEST_SMTP_SECURITY=none" not in result.stderr and "secret-7c1" not in result.output
    assert inbox.envelopes == []


# Internationalised addresses (item 15): an ASCII local part keeps the message ASCII (the domain
# as IDNA); a non-ASCII local part is written in UTF-8 (RFC 6532) and sent only with SMTPUTF8.


def test_export_writes_an_internationalised_address_as_utf8(golden_root: Path) -> None:
    result = run("export", "7", "--to", "Zoë <ü@例え.jp>", "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    head = result.stdout_bytes.split(b"\n\n", 1)[0]
    assert "\nTo: Zoë <ü@例え.jp>\n".encode() in head
    assert b"=?" not in head  # no encoded word anywhere in the headers, inside an address or not


def test_a_non_ascii_domain_is_written_as_idna(golden_root: Path) -> None:
    config = golden_root / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("news@example.com", "news@例え.jp"), encoding="utf-8")
    result = run("export", "7", "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    head = result.stdout_bytes.split(b"\n\n", 1)[0]
    assert head.isascii()
    assert b"\nFrom: Golden Weekly <news@xn--r8jz45g.jp>\n" in head
    assert b"@xn--r8jz45g.jp>\nList-Id:" in head  # the Message-ID's domain


def test_an_invalid_international_domain_is_one_line(golden_root: Path) -> None:
    config = golden_root / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("news@example.com", "news@例え..jp"), encoding="utf-8")
    result = run("check", "--root", str(golden_root))
    assert (result.exit_code, result.stderr) == (
        1,
        (
            "config.yaml:10: email.from: must be one email address like Name <name@example.org>, "
            "got 'Golden Weekly <news@例え..jp>'\n1 error\n"
        ),
    )


@pytest.mark.parametrize("smtputf8", [True, False])
def test_send_to_an_internationalised_address_needs_smtputf8(golden_root: Path, smtputf8: bool) -> None:
    inbox = Inbox()
    controller = LoopbackController(inbox, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        result = send(golden_root, 7, "ü@例え.jp", **plain(controller.port))
    finally:
        controller.stop()
    if not smtputf8:
        assert (
            result.stderr
            == f"environment: could not send through 127.0.0.1:{controller.port}: the server does not offer SMTPUTF8,"
            " which an address with non-ASCII characters before the @ needs (RFC 6531); use an ASCII address or a"
            " server that offers it\n1 error; nothing was sent\n"
        )
        assert inbox.envelopes == []
        return
    assert result.exit_code == 0, result.output
    envelope = inbox.envelopes[0]
    assert envelope.rcpt_tos == ["ü@例え.jp"]
    assert "SMTPUTF8" in envelope.mail_options
    assert "\r\nTo: ü@例え.jp\r\n".encode() in envelope.original_content
    assert inbox.message()["To"] == "ü@例え.jp"


def test_the_help_never_puts_the_password_on_a_command_line() -> None:
    """Issue 19 item 12: the example typed the password where the shell's history and `ps` keep it."""
    result = run("send", "--help")
    assert result.exit_code == 0
    assert "DIGEST_SMTP_PASSWORD=" not in result.output
    assert "read -rs DIGEST_SMTP_PASSWORD && export DIGEST_SMTP_PASSWORD" in result.output


def test_list_unsubscribe_holds_ascii_uris(golden_root: Path) -> None:
    """RFC 2369: URIs, not encoded words (a client reads no link in =?utf-8?…?=)."""
    config = golden_root / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'unsubscribe_url: "*|UNSUB|*"',
            "unsubscribe_url: https://golden.example.com/désabonner?u=1\n  unsubscribe_mailto: désinscrire@例え.jp",
        ),
        encoding="utf-8",
    )
    result = run("export", "7", "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    head = result.stdout_bytes.split(b"\n\n", 1)[0]
    assert head.isascii() and b"=?" not in head
    assert (
        b"\nList-Unsubscribe: <https://golden.example.com/d%C3%A9sabonner?u=1>,\n"
        b" <mailto:d%C3%A9sinscrire@xn--r8jz45g.jp?subject=unsubscribe>\n" in head
    )
