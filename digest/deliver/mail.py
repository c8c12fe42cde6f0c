"""Send one built issue as a test email through SMTP, to check it in real inboxes.

Rules:
- Credentials come only from environment variables, never from config.yaml (which lives in git):
  DIGEST_SMTP_HOST, DIGEST_SMTP_PORT (default 587), DIGEST_SMTP_USER, DIGEST_SMTP_PASSWORD,
  DIGEST_SMTP_SECURITY = starttls (default) | ssl | none, and DIGEST_SMTP_CA_FILE: a PEM
  file of the certificate authorities to trust instead of the system's (a company relay
  with its own CA, a self-signed test server).
- TLS always verifies the server's certificate and host name.
- Every step has a total deadline, DIGEST_SMTP_TIMEOUT seconds (default 30): connecting and being
  greeted together, then each command (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA) and the answer to the
  message itself. A per-read timeout alone is not enough: a server that sends one byte every 20
  seconds never trips a 30-second read timeout. :class:`_Deadline` shuts the connection down when
  a step's time is up, which ends whatever read or write smtplib is blocked in.
- Once the whole message has been handed to the server, a failure (no answer, a dropped
  connection) leaves the outcome unknown: the server may deliver it. That is said, not "nothing
  was sent".
- A refused connection, a TLS failure or an authentication failure is one clear line
  (exit 1), never a traceback; the password is never part of it.
"""

from __future__ import annotations

import email.policy
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import EmailPolicy
from pathlib import Path
from typing import Any

from digest.core.errors import DigestError, Problem

TIMEOUT = 30.0  # seconds: the default deadline of each step
MAX_TIMEOUT = 600.0
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
_EOL = re.compile(rb"\r\n|\r|\n")
UNKNOWN = "the outcome is unknown: the server may have received the message; check the inbox before sending again"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    security: str  # starttls | ssl | none
    ca_file: Path | None = None
    timeout: float = TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings:
        host = environ.get("DIGEST_SMTP_HOST", "").strip()
        if not host:
            raise DigestError(
                [
                    _env(
                        "set DIGEST_SMTP_HOST (and DIGEST_SMTP_USER / DIGEST_SMTP_PASSWORD) to send email",
                    )
                ]
            )
        if not _valid_host(host):
            raise DigestError([_env(f"DIGEST_SMTP_HOST must be a host name or an IP address, got {host!r}")])
        security = environ.get("DIGEST_SMTP_SECURITY", "starttls").strip().lower()
        if security not in ("starttls", "ssl", "none"):
            raise DigestError([_env(f"DIGEST_SMTP_SECURITY must be starttls, ssl or none, got {security!r}")])
        port_text = environ.get("DIGEST_SMTP_PORT", "465" if security == "ssl" else "587")
        # isdigit() alone accepts '²' and other digits int() refuses.
        if not (port_text.isascii() and port_text.isdigit()):
            raise DigestError([_env(f"DIGEST_SMTP_PORT must be a number, got {port_text!r}")])
        if not 1 <= int(port_text) <= 65535:
            raise DigestError([_env(f"DIGEST_SMTP_PORT must be a port number from 1 to 65535, got {port_text!r}")])
        ca_text = environ.get("DIGEST_SMTP_CA_FILE", "").strip()
        if ca_text and not Path(ca_text).is_file():
            raise DigestError([_env(f"DIGEST_SMTP_CA_FILE is not a file: {ca_text!r}")])
        timeout = _timeout(environ.get("DIGEST_SMTP_TIMEOUT", "").strip())
        user, password = environ.get("DIGEST_SMTP_USER") or None, environ.get("DIGEST_SMTP_PASSWORD") or None
        return cls(host, int(port_text), user, password, security, Path(ca_text) if ca_text else None, timeout)

    def tls(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as e:
            raise DigestError([_env(f"DIGEST_SMTP_CA_FILE cannot be read as PEM certificates: {e}")]) from e


def _env(message: str) -> Problem:
    return Problem("environment", None, message)


def _timeout(text: str) -> float:
    if not text:
        return TIMEOUT
    try:
        value = float(text) if text.isascii() else -1.0
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT:  # also refuses nan and inf
        raise DigestError(
            [
                _env(
                    f"DIGEST_SMTP_TIMEOUT must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, got"
                    f" {text!r}",
                )
            ]
        )
    return value


def _valid_host(host: str) -> bool:
    """An IP address, or a name whose labels DNS allows once in ASCII (IDNA); what the socket module
    would otherwise refuse with a UnicodeError ('a..b', a label over 63 characters)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


class _Deadline:
    """A total time limit per step of the SMTP conversation: when it passes, the connection is shut
    down (the kernel socket, below TLS), so the read or write smtplib is blocked in returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.client: smtplib.SMTP | None = None
        self.step = "connect"
        self.expired = False
        self.handed_over = False  # the whole message is with the server: a failure now leaves the outcome unknown
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @contextmanager
    def of(self, step: str) -> Iterator[None]:
        """Run one step under the deadline. Once it has expired the connection is dead, so it stays
        expired; a step that ends after its time is a failure even if smtplib returned (a reply cut
        short by the shutdown can read as complete: '250 tr')."""
        with self._lock:
            self.step = step
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()
        try:
            yield
        finally:
            with self._lock:
                self._timer.cancel()
        if self.expired:
            raise TimeoutError(f"{step}: deadline passed")

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sock = self.client.sock if self.client is not None else None
        if sock is None:  # still connecting: the socket's own timeout (the same seconds) ends that
            return
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


# smtplib connects and reads the greeting inside the constructor: these subclasses hand the
# client to its deadline as connect() (a public method) begins, so the deadline can end a
# greeting that trickles in. (Connecting later, after construction, would leave smtplib without
# the host name TLS verifies.)


class _Client(smtplib.SMTP):
    def __init__(self, deadline: _Deadline, host: str, port: int, *, timeout: float) -> None:
        self.deadline = deadline
        super().__init__(host, port, timeout=timeout)

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> tuple[int, bytes]:
        self.deadline.client = self
        return super().connect(host, port, source_address)


class _TlsClient(smtplib.SMTP_SSL):
    def __init__(
        self,
        deadline: _Deadline,
        host: str,
        port: int,
        *,
        timeout: float,
        context: ssl.SSLContext | None,
    ) -> None:
        self.deadline = deadline
        super().__init__(host, port, timeout=timeout, context=context)

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> tuple[int, bytes]:
        self.deadline.client = self
        return super().connect(host, port, source_address)


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    """Deliver ``message``; SMTP failures become one clear user error."""
    context = settings.tls() if settings.security != "none" else None
    deadline = _Deadline(settings.timeout)
    try:
        with deadline.of("connect"):
            if settings.security == "ssl":
                client: smtplib.SMTP = _TlsClient(
                    deadline,
                    settings.host,
                    settings.port,
                    timeout=settings.timeout,
                    context=context,
                )
            else:
                client = _Client(deadline, settings.host, settings.port, timeout=settings.timeout)
        try:
            with deadline.of("EHLO"):
                client.ehlo()
            if settings.security == "starttls":
                with deadline.of("STARTTLS"):
                    client.starttls(context=context)
                    client.ehlo()
            if settings.user and settings.password:
                with deadline.of("AUTH"):
                    client.login(settings.user, settings.password)
            _transmit(client, message, deadline)
        finally:
            _close(client, settings.timeout)
    except (OSError, ValueError, smtplib.SMTPException) as e:
        # ValueError: what an SSL socket may raise when the deadline shut it down under a read.
        why = _late(deadline) if deadline.expired else _why(e, settings)
        where = f"could not send through {settings.host}:{settings.port}"
        if deadline.handed_over:
            raise DigestError([_env(f"{where}: the server took the whole message but {why}")], outcome=UNKNOWN) from e
        if isinstance(e, ValueError) and not isinstance(e, OSError) and not deadline.expired:
            raise
        raise DigestError([_env(f"{where}: {why}")]) from e


def _transmit(client: smtplib.SMTP, message: EmailMessage, deadline: _Deadline) -> None:
    """MAIL, RCPT and DATA one by one: smtplib's send_message hides which step failed, and so
    whether the server has the message (``deadline.handed_over``)."""
    sender = message["From"].addresses[0].addr_spec
    recipients = [a.addr_spec for a in message["To"].addresses]
    # RFC 6531/6532: an address with a non-ASCII local part travels only over SMTPUTF8.
    international = not all(a.isascii() for a in (sender, *recipients))
    if international and not client.has_extn("smtputf8"):
        raise smtplib.SMTPNotSupportedError("SMTPUTF8")
    base = message.policy if isinstance(message.policy, EmailPolicy) else email.policy.default
    policy = base.clone(linesep="\r\n", utf8=international)
    data = _EOL.sub(b"\r\n", message.as_bytes(policy=policy))
    # RFC 5321 4.5.2: a line starting with a period gets one more; the message ends with CRLF . CRLF.
    data = re.sub(rb"(?m)^\.", b"..", data)
    data += b"" if data.endswith(b"\r\n") else b"\r\n"
    with deadline.of("MAIL FROM"):
        code, answer = client.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"] if international else [])
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, answer, sender)
    refused = {}
    for to in recipients:
        with deadline.of("RCPT TO"):
            code, answer = client.rcpt(to)
        if code not in (250, 251):
            refused[to] = (code, answer)
    if refused:  # a proof goes to everyone asked or to no one
        raise smtplib.SMTPRecipientsRefused(refused)
    with deadline.of("DATA"):
        code, answer = client.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, answer)
    with deadline.of("the message"):
        client.send(data + b".\r\n")
        deadline.handed_over = True
        code, answer = client.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, answer)


def _close(client: smtplib.SMTP, seconds: float) -> None:
    """QUIT politely within a deadline of its own; the message is already accepted or refused by now."""
    if client.sock is None:
        return
    deadline = _Deadline(seconds)
    deadline.client = client
    try:
        with deadline.of("QUIT"):
            client.quit()
    except (OSError, ValueError, smtplib.SMTPException):
        client.close()


def _late(deadline: _Deadline) -> str:
    seconds = f"{deadline.seconds:g} second{'s' if deadline.seconds != 1 else ''}"
    if deadline.step == "connect":
        return f"it did not connect and greet within {seconds} (DIGEST_SMTP_TIMEOUT)"
    if deadline.step == "the message":
        return f"gave no answer within {seconds} (DIGEST_SMTP_TIMEOUT)"
    return f"no answer to {deadline.step} within {seconds} (DIGEST_SMTP_TIMEOUT)"


def _why(e: BaseException, settings: SmtpSettings) -> str:
    """One line an editor can act on (the password is never part of an SMTP answer digest shows)."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return (
            f"the server's TLS certificate is not trusted ({e.verify_message}); if it is signed by your own authority,"
            " set DIGEST_SMTP_CA_FILE"
        )
    if isinstance(e, ssl.SSLError):
        hint = " (port 465 wants DIGEST_SMTP_SECURITY=ssl, port 587 starttls)" if settings.port in (465, 587) else ""
        return f"TLS failed: {e.reason or e}{hint}"
    if isinstance(e, smtplib.SMTPAuthenticationError):
        return f"the server refused DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD ({e.smtp_code} {_text(e.smtp_error)})"
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return _unsupported(str(e), settings)
    if isinstance(e, smtplib.SMTPResponseException):
        return f"the server answered {e.smtp_code} {_text(e.smtp_error)}"
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return "the server refused " + ", ".join(
            f"{to} ({code} {_text(text)})" for to, (code, text) in e.recipients.items()
        )
    if isinstance(e, ConnectionRefusedError):
        return "the connection was refused (check DIGEST_SMTP_HOST and DIGEST_SMTP_PORT)"
    if isinstance(e, socket.gaierror):
        return "the host name does not resolve (check DIGEST_SMTP_HOST)"
    if isinstance(e, TimeoutError):
        return f"no answer within {settings.timeout:g} seconds (DIGEST_SMTP_TIMEOUT)"
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({e or 'no reason given'})"
    return f"{e.strerror or e}" if isinstance(e, OSError) else str(e)


def _unsupported(what: str, settings: SmtpSettings) -> str:
    if what == "SMTPUTF8":
        return (
            "the server does not offer SMTPUTF8, which an address with non-ASCII characters before the @ needs"
            " (RFC 6531); use an ASCII address or a server that offers it"
        )
    if "AUTH" in what:
        if settings.security == "none":
            return (
                "the server does not offer a login (SMTP AUTH) over a connection without TLS;"
                " set DIGEST_SMTP_SECURITY=starttls (port 587) or ssl (port 465), or unset DIGEST_SMTP_USER"
                " and DIGEST_SMTP_PASSWORD if it needs no login"
            )
        return (
            "the server does not offer a login (SMTP AUTH); unset DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD"
            " if it needs none"
        )
    return f"the server does not offer STARTTLS: {what}; set DIGEST_SMTP_SECURITY=ssl or none"


def _text(answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    return " ".join(text.split())


def smtp_from_environment() -> SmtpSettings:
    return SmtpSettings.from_env(os.environ)
