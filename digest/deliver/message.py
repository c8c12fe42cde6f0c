"""One issue as a finished email message: what `digest send` delivers and `digest export` writes.

Rules:
- multipart/alternative, UTF-8: the plain text first, the HTML last (the part a client prefers).
- The headers a mailing list needs to be trusted by inboxes: Date, MIME-Version, Message-ID,
  List-Id, and List-Unsubscribe (the unsubscribe URL, and a mailto when
  email.unsubscribe_mailto is set) with List-Unsubscribe-Post for one-click unsubscribing
  (RFC 8058) when the URL is https.
- The clip gate is an error here: a message that Gmail would clip is never sent or exported.
  It measures the HTML part as sent, after its transfer encoding, which is what Gmail counts.
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from urllib.parse import urlsplit

from digest.core import lint
from digest.core.errors import DigestError, Problem
from digest.core.models import Config, Issue

_LIST_LABEL = re.compile(r"[^a-z0-9-]+")


def recipients(addresses: tuple[str, ...] | list[str]) -> list[str]:
    """``addresses`` as typed after --to, each checked to be exactly one address."""
    problems = []
    for to in addresses:
        # A line break would start a header of its own ("Bcc: ..."), a comma a second
        # recipient; either is a user error, not a crash.
        if "\r" in to or "\n" in to or len(getaddresses([to])) != 1 or "@" not in parseaddr(to)[1]:
            problems.append(Problem("--to", None, f"must be one email address, got {to!r}"))
    if not addresses:
        problems.append(Problem("--to", None, "give at least one recipient"))
    if problems:
        raise DigestError(problems)
    return list(addresses)


def sender(config: Config) -> str:
    found = config.email.from_ or (f"{config.author.name} <{config.author.email}>" if config.author.email else None)
    if not found:
        raise DigestError([Problem("config.yaml", None, "set email.from (or author.email) to send email", "email.from")])
    return found


def list_id(config: Config) -> str:
    """RFC 2919: ``Title <label.host>``, the label from the newsletter URL's path."""
    parts = urlsplit(config.url)
    labels = [_LIST_LABEL.sub("-", p.lower()).strip("-") for p in parts.path.split("/")]
    host = (parts.hostname or "localhost").rstrip(".")
    return f"{config.title} <{'.'.join([*(x for x in reversed(labels) if x), host])}>"


def build_message(config: Config, issue: Issue, html: str, text: str, to: list[str], now: dt.datetime | None = None) -> EmailMessage:
    """The message for ``to`` (already checked by :func:`recipients`); raise DigestError when Gmail would clip it."""
    msg = EmailMessage()
    msg["Subject"] = issue.subject
    msg["From"] = sender(config)
    msg["To"] = ", ".join(to)
    if config.email.reply_to:
        msg["Reply-To"] = config.email.reply_to
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid(domain=parseaddr(msg["From"])[1].rsplit("@", 1)[-1] or None)
    msg["List-Id"] = list_id(config)
    unsubscribe = [f"<{config.email.unsubscribe_url}>"] if config.email.unsubscribe_url else []
    if config.email.unsubscribe_mailto:
        unsubscribe.append(f"<mailto:{config.email.unsubscribe_mailto}?subject=unsubscribe>")
    if unsubscribe:
        msg["List-Unsubscribe"] = ", ".join(unsubscribe)
    if (config.email.unsubscribe_url or "").lower().startswith("https://"):
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    _refuse_clipped(issue, msg)
    return msg


def html_part(msg: EmailMessage) -> EmailMessage:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            return part
    raise ValueError("the message has no HTML part")


def _refuse_clipped(issue: Issue, msg: EmailMessage) -> None:
    size = lint.wire_bytes(str(html_part(msg).get_payload()))  # as SMTP carries it: CRLF line ends
    verdict = lint.clip_message(size)
    if verdict is not None and verdict[0]:
        raise DigestError([Problem(issue.source, None, verdict[1])])
