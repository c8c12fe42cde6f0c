"""Send one built issue as a test email through SMTP, to check it in real inboxes.

Rules:
- Credentials come only from environment variables, never from config.yaml (which lives in git):
  DIGEST_SMTP_HOST, DIGEST_SMTP_PORT (default 587), DIGEST_SMTP_USER, DIGEST_SMTP_PASSWORD,
  DIGEST_SMTP_SECURITY = starttls (default) | ssl | none.
- The message is multipart/alternative: the plain text first, the HTML last (preferred).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid, parseaddr

from digest.core.errors import DigestError, Problem
from digest.core.models import Config, Issue


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    security: str  # starttls | ssl | none

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
        return cls(host, int(port_text), environ.get("DIGEST_SMTP_USER") or None, environ.get("DIGEST_SMTP_PASSWORD") or None, security)


def build_message(config: Config, issue: Issue, html: str, text: str, to: str) -> EmailMessage:
    # --to is one address as typed: a line break would start a header of its own
    # ("Bcc: ..."), a comma a second recipient; either is a user error, not a crash.
    if "\r" in to or "\n" in to or len(getaddresses([to])) != 1 or "@" not in parseaddr(to)[1]:
        raise DigestError([Problem("--to", None, f"must be one email address, got {to!r}")])
    msg = EmailMessage()
    msg["Subject"] = issue.subject
    sender = config.email.from_ or (f"{config.author.name} <{config.author.email}>" if config.author.email else None)
    if not sender:
        raise DigestError([Problem("config.yaml", None, "set email.from (or author.email) to send email", "email.from")])
    msg["From"] = sender
    msg["To"] = to
    if config.email.reply_to:
        msg["Reply-To"] = config.email.reply_to
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(" >") or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    """Deliver ``message``; SMTP failures become a clear user error."""
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, context=ssl.create_default_context(), timeout=30)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=30)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.user and settings.password:
                client.login(settings.user, settings.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as e:
        raise DigestError([Problem("environment", None, f"could not send through {settings.host}:{settings.port}: {e}")]) from e


def smtp_from_environment() -> SmtpSettings:
    return SmtpSettings.from_env(os.environ)
