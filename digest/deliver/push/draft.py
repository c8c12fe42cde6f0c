"""What `digest push` hands to a service (:class:`Draft`), and what each service module provides (:class:`Adapter`).

Rules:
- One issue is one campaign in the service, found again through the service's own records (never a
  file of digest's): Buttondown's secondary_id (its issue number field), a listmonk tag, the
  campaign's name in Mailchimp (settings.title) and Brevo. The name is ``<title> #<number>``.
- A campaign the service says is anything but a draft (scheduled, sending, sent, paused...) is never
  changed: the push stops, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from digest.core import validate
from digest.core.errors import DigestError, Problem
from digest.core.models import Config, Issue, Mailing
from digest.deliver.push.http import Client, Request, Service


@dataclass(frozen=True)
class Draft:
    number: int
    name: str  # the campaign's name in the service: "<title> #<number>"
    key: str  # a short label naming this newsletter's issue, for tags: "digest-<site>-<number>"
    subject: str
    preheader: str
    html: str  # the email exactly as `build` writes it
    text: str
    from_header: str  # "Name <address>"
    from_name: str
    from_address: str
    reply_to: str | None
    mailing: Mailing


@dataclass(frozen=True)
class Existing:
    """A campaign the service already holds for this issue."""

    id: str
    status: str  # as the service says it
    draft: bool  # whether it may still be changed
    record: Mapping[str, object]


def make_draft(config: Config, mailing: Mailing, issue: Issue, html: str, text: str, sender: str) -> Draft:
    found = validate.parse_address(sender)
    address = found.addr_spec if not isinstance(found, str) else sender
    name = found.display_name if not isinstance(found, str) and found.display_name else config.title
    site = urlsplit(config.url)
    label = re.sub(r"[^a-z0-9.]+", "-", f"{site.hostname or ''}{site.path}".lower()).strip("-")
    return Draft(
        number=issue.number,
        name=f"{config.title} #{issue.number}",
        # listmonk compares tags as VARCHAR(100): the site's label is cut, never the number.
        key=f"digest-{label[: 100 - len(f'digest--{issue.number}')]}-{issue.number}",
        subject=issue.subject,
        preheader=issue.preheader,
        html=html,
        text=text,
        from_header=sender,
        from_name=name,
        from_address=address,
        reply_to=config.email.reply_to,
        mailing=mailing,
    )


class Adapter:
    """One service's requests. Subclasses set the class attributes and implement the methods."""

    name = ""  # as users know it
    default_url: str | None = None  # the official endpoint; None: api_url is required

    def __init__(self, mailing: Mailing, environ: Mapping[str, str], timeout: float) -> None:
        self.mailing = mailing
        self.service = self.connect(environ, timeout)

    def connect(self, environ: Mapping[str, str], timeout: float) -> Service:
        raise NotImplementedError

    def lookups(self, draft: Draft) -> list[Request]:
        """The first request of the search for the earlier campaign (what --dry-run shows)."""
        raise NotImplementedError

    def find(self, client: Client, draft: Draft) -> Existing | None:
        raise NotImplementedError

    def create(self, draft: Draft) -> list[Request]:
        """The requests that create the draft; "{id}" in a later one's URL stands for the new campaign's id."""
        raise NotImplementedError

    def created(self, answer: object) -> tuple[str, Mapping[str, object]]:
        """The new campaign's id and record, from the answer to the first request of :meth:`create`."""
        raise NotImplementedError

    def update(self, existing: Existing, draft: Draft) -> list[Request]:
        raise NotImplementedError

    def dashboard(self, campaign_id: str, record: Mapping[str, object]) -> str | None:
        return None

    def warnings(self, draft: Draft) -> list[str]:
        return []

    def base(self) -> str:
        return self.mailing.api_url or self.default_url or ""


def find_by_offset(
    client: Client,
    page: Callable[[int], Request],
    total_key: str,
    name_of: Callable[[dict[str, Any]], object],
    draft_status: str,
    name: str,
) -> Existing | None:
    """The campaign called ``name`` in a list the service hands out page by page from an offset, its size under
    ``total_key`` (Brevo, Mailchimp); ``draft_status`` is the service's word for a draft."""
    offset = 0
    while True:
        answer = client.send(page(offset))
        campaigns = answer.get("campaigns") or [] if isinstance(answer, dict) else []
        for campaign in campaigns:
            if isinstance(campaign, dict) and name_of(campaign) == name:
                status = str(campaign.get("status", ""))
                return Existing(str(campaign.get("id")), status, status == draft_status, campaign)
        offset += len(campaigns)
        total = answer.get(total_key, 0) if isinstance(answer, dict) else 0
        if not campaigns or offset >= int(total):
            return None


def secret(environ: Mapping[str, str], variable: str, why: str) -> str:
    """An environment variable that must be set; a missing one is one line naming it."""
    value = environ.get(variable, "").strip()
    if not value:
        raise DigestError([Problem("environment", None, f"set {variable} to {why} (never put it in config.yaml)")])
    if any(ch.isspace() or ord(ch) < 0x20 for ch in value):
        raise DigestError([Problem("environment", None, f"{variable} holds a space or a control character")])
    return value


def brace_segments(text: str, keep: re.Pattern[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (part, kept) pairs: the unsubscribe merge tag's occurrences are kept live."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in keep.finditer(text):
        parts.append((text[pos : m.start()], False))
        parts.append((m.group(), True))
        pos = m.end()
    parts.append((text[pos:], False))
    return parts


_STYLE = re.compile(r"<style\b.*?</style\s*>", re.S | re.I)


def entity_escape(html: str, keep: re.Pattern[str], openers: tuple[str, ...]) -> str:
    """``html`` with the first character of each opener (``{{``, ``*|``) written as a character
    reference (``&#123;{``): a browser shows the same text, but a service's template language no longer
    sees a tag. The unsubscribe tag (``keep``) stays live; <style> elements, where references are not
    read, are left as they are (digest writes no such text there)."""
    pattern = re.compile("|".join(re.escape(o) for o in openers))

    def text(part: str) -> str:
        return pattern.sub(lambda m: f"&#{ord(m.group()[0])};{m.group()[1:]}", part)

    out, pos = [], 0
    for m in _STYLE.finditer(html):
        out.append("".join(p if kept else text(p) for p, kept in brace_segments(html[pos : m.start()], keep)))
        out.append(m.group())
        pos = m.end()
    out.append("".join(p if kept else text(p) for p, kept in brace_segments(html[pos:], keep)))
    return "".join(out)
