"""Send one built issue as a test email through SMTP, to check it in real inboxes.

Rules:
- Credentials come only from environment variables, never from config.yaml (which lives in git):
  DIGEST_SMTP_HOST, DIGEST_SMTP_PORT (default 587), DIGEST_SMTP_USER, DIGEST_SMTP_PASSWORD,
  DIGEST_SMTP_SECURITY = starttls (default) | ssl | none, and DIGEST_SMTP_CA_FILE: a PEM
  file of the certificate authorities to trust instead of the system's (a company relay
  with its own CA, a self-signed test server).
- TLS always verifies the server's certificate and host name.
- A refused connection, a TLS failure or an authentication failure is one clear line
  (exit 1), never a traceback; the password is never part of it.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from digest.core.errors import DigestError, Problem


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    security: str  # starttls | ssl | none
    ca_file: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings:
        host = environ.get("DIGEST_SMTP_HOST", "").strip()
        if not host:
            raise DigestError([Problem("environment", None, "set DIGEST_SMTP_HOST (and DIGEST_SMTP_USER / DIGEST_SMTP_PASSWORD) to send email")])
        security = environ.get("DIGEST_SMTP_SECURITY", "starttls").strip().lower()
        if security not in ("starttls", "ssl", "none"):
            raise DigestError([Problem("environment", None, f"DIGEST_SMTP_SECURITY must be starttls, ssl or none, got {security!r}")])
        port_text = environ.get("DIGEST_SMTP_PORT", "465" if security == "ssl" else "587")
        if not port_text.isdigit():
            raise DigestError([Problem("environment", None, f"DIGEST_SMTP_PORT must be a number, got {port_text!r}")])
        ca_text = environ.get("DIGEST_SMTP_CA_FILE", "").strip()
        if ca_text and not Path(ca_text).is_file():
            raise DigestError([Problem("environment", None, f"DIGEST_SMTP_CA_FILE is not a file: {ca_text!r}")])
        user, password = environ.get("DIGEST_SMTP_USER") or None, environ.get("DIGEST_SMTP_PASSWORD") or None
        return cls(host, int(port_text), user, password, security, Path(ca_text) if ca_text else None)

    def tls(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as e:
            raise DigestError([Problem("environment", None, f"DIGEST_SMTP_CA_FILE cannot be read as PEM certificates: {e}")]) from e


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    """Deliver ``message``; SMTP failures become one clear user error."""
    context = settings.tls() if settings.security != "none" else None
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, context=context, timeout=30)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=30)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.user and settings.password:
                client.login(settings.user, settings.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as e:
        raise DigestError([Problem("environment", None, f"could not send through {settings.host}:{settings.port}: {_why(e, settings)}")]) from e


def _why(e: BaseException, settings: SmtpSettings) -> str:
    """One line an editor can act on (the password is never part of an SMTP answer digest shows)."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not trusted ({e.verify_message}); if it is signed by your own authority, set DIGEST_SMTP_CA_FILE"
    if isinstance(e, ssl.SSLError):
        hint = " (port 465 wants DIGEST_SMTP_SECURITY=ssl, port 587 starttls)" if settings.port in (465, 587) else ""
        return f"TLS failed: {e.reason or e}{hint}"
    if isinstance(e, smtplib.SMTPAuthenticationError):
        return f"the server refused DIGEST_SMTP_USER and DIGEST_SMTP_PASSWORD ({e.smtp_code} {_text(e.smtp_error)})"
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return f"the server does not offer {'STARTTLS' if 'STARTTLS' in str(e) else 'that'}: {e}; set DIGEST_SMTP_SECURITY=ssl or none"
    if isinstance(e, smtplib.SMTPResponseException):
        return f"the server answered {e.smtp_code} {_text(e.smtp_error)}"
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return "the server refused " + ", ".join(f"{to} ({code} {_text(text)})" for to, (code, text) in e.recipients.items())
    if isinstance(e, ConnectionRefusedError):
        return "the connection was refused (check DIGEST_SMTP_HOST and DIGEST_SMTP_PORT)"
    if isinstance(e, socket.gaierror):
        return "the host name does not resolve (check DIGEST_SMTP_HOST)"
    if isinstance(e, TimeoutError):
        return "no answer within 30 seconds"
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({e or 'no reason given'})"
    return f"{e.strerror or e}" if isinstance(e, OSError) else str(e)


def _text(answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    return " ".join(text.split())


def smtp_from_environment() -> SmtpSettings:
    return SmtpSettings.from_env(os.environ)
