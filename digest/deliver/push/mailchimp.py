"""Mailchimp Marketing API 3.0 (https://mailchimp.com/developer/marketing/api/campaigns/; the request and
answer shapes as in mailchimp/mailchimp-marketing-python's campaigns_api.py and the API's schema).

Requests:
- ``GET /3.0/campaigns?list_id=<audience>&count=1000&offset=N&sort_field=create_time&sort_dir=DESC``
  with ``fields`` limited to id, web_id, status and settings.title: the earlier campaign, found by its
  title (settings.title, the campaign's name in Mailchimp: "<title> #<number>"), within the audience.
- ``POST /3.0/campaigns``: type regular, recipients.list_id, settings (subject_line, preview_text,
  title, from_name, reply_to); then ``PUT /3.0/campaigns/{id}/content``: html and plain_text.
- An existing draft: ``PATCH /3.0/campaigns/{id}`` with the same recipients and settings, then the
  same content PUT.
- BasicAuth, any user name and the API key (DIGEST_MAILCHIMP_API_KEY); the key's suffix (-us21)
  names the data centre: https://us21.api.mailchimp.com.
- Only a campaign whose status is ``save`` (Mailchimp's draft) is changed: never paused, schedule,
  sending, sent, canceled or archived.

Mailchimp sends from settings.reply_to: one address for sending and replies (there is no from_email
on a campaign), so it is email.reply_to when set, else the sender's address.

Mailchimp replaces ``*|…|*`` merge tags in the HTML: in the issue's text their ``*`` is written ``&#42;``,
which shows the same, so they arrive as written; the unsubscribe tag ``*|UNSUB|*`` stays live. The
plain-text part cannot be escaped so: a ``*|`` in it reaches Mailchimp as written.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from digest.core.errors import DigestError, Problem
from digest.core.mailing import UNSUBSCRIBE
from digest.deliver.push.draft import Adapter, Draft, Existing, entity_escape, find_by_offset, secret
from digest.deliver.push.http import Client, Request, Service

COUNT = 1000  # the most Mailchimp lists at once


class Mailchimp(Adapter):
    name = "Mailchimp"

    def connect(self, environ: Mapping[str, str], timeout: float) -> Service:
        key = secret(environ, "DIGEST_MAILCHIMP_API_KEY", "your Mailchimp API key (Profile → Extras → API keys)")
        self.dc = key.rpartition("-")[2] if "-" in key else ""
        if not self.dc.isalnum():
            raise DigestError(
                [Problem("environment", None, "DIGEST_MAILCHIMP_API_KEY must end with its data centre, like -us21")]
            )
        basic = base64.b64encode(f"digest:{key}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
        return Service(
            self.name, self.base(), headers, ("DIGEST_MAILCHIMP_API_KEY",), timeout, raw=(key, key.rpartition("-")[0])
        )

    def base(self) -> str:
        return self.mailing.api_url or f"https://{self.dc}.api.mailchimp.com"

    def lookups(self, draft: Draft) -> list[Request]:
        return [self._page(0)]

    def _page(self, offset: int) -> Request:
        params = {
            "list_id": self.mailing.lists[0],
            "count": str(COUNT),
            "offset": str(offset),
            "sort_field": "create_time",
            "sort_dir": "DESC",
            "fields": "campaigns.id,campaigns.web_id,campaigns.status,campaigns.settings.title,total_items",
        }
        return Request("GET", "/3.0/campaigns", params=params)

    def find(self, client: Client, draft: Draft) -> Existing | None:
        return find_by_offset(client, self._page, "total_items", _title, "save", draft.name)

    def _settings(self, draft: Draft) -> dict[str, Any]:
        return {
            "recipients": {"list_id": self.mailing.lists[0]},
            "settings": {
                "subject_line": draft.subject,
                "preview_text": draft.preheader,
                "title": draft.name,
                "from_name": draft.from_name,
                "reply_to": draft.reply_to or draft.from_address,
            },
        }

    def _content(self, campaign_id: str, draft: Draft) -> Request:
        return Request(
            "PUT",
            f"/3.0/campaigns/{campaign_id}/content",
            {"html": entity_escape(draft.html, UNSUBSCRIBE["mailchimp"][1], ("*|",)), "plain_text": draft.text},
        )

    def create(self, draft: Draft) -> list[Request]:
        return [
            Request("POST", "/3.0/campaigns", {"type": "regular", **self._settings(draft)}),
            self._content("{id}", draft),
        ]

    def created(self, answer: object) -> tuple[str, Mapping[str, object]]:
        record = answer if isinstance(answer, dict) else {}
        return str(record.get("id")), record

    def update(self, existing: Existing, draft: Draft) -> list[Request]:
        return [
            Request("PATCH", f"/3.0/campaigns/{existing.id}", self._settings(draft)),
            self._content(existing.id, draft),
        ]

    def dashboard(self, campaign_id: str, record: Mapping[str, object]) -> str | None:
        web_id = record.get("web_id")
        return f"https://{self.dc}.admin.mailchimp.com/campaigns/show/?id={web_id}" if web_id else None

    def warnings(self, draft: Draft) -> list[str]:
        if draft.reply_to and draft.reply_to != draft.from_address:
            return [
                f"Mailchimp sends from and takes replies at one address (settings.reply_to): {draft.reply_to};"
                f" {draft.from_address} (email.from) is not used"
            ]
        return []


def _title(campaign: dict[str, Any]) -> object:
    """A Mailchimp campaign's name: its settings.title."""
    settings = campaign.get("settings")
    return settings.get("title") if isinstance(settings, dict) else None
