"""Brevo API v3 (https://developers.brevo.com/reference; the shapes as in getbrevo/brevo-python's
email_campaigns_api.py and models/create_email_campaign.py).

Requests:
- ``GET /v3/emailCampaigns?type=classic&limit=100&offset=N&sort=desc&excludeHtmlContent=true``: the
  earlier campaign, found by its name ("<title> #<number>"); the answer is {campaigns, count}.
- ``POST /v3/emailCampaigns`` (answer {id}) and ``PUT /v3/emailCampaigns/{id}`` (no content): name,
  subject, previewText, sender {name, email}, replyTo, htmlContent, recipients.listIds. Brevo creates
  a campaign as a draft; digest never sends scheduledAt.
- ``api-key: <key>`` (DIGEST_BREVO_API_KEY).
- Only a campaign whose status is ``draft`` is changed (never queued, in_process, sent, suspended or
  archive). Brevo makes the plain-text part itself: its API takes none.

Brevo reads ``{{ … }}`` and ``{% … %}`` in htmlContent as its template language: in the issue's text
(code samples) their first brace is written ``&#123;``, which shows the same, so that they arrive as
written; the unsubscribe tag ``{{ unsubscribe }}`` stays live.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from digest.core.mailing import UNSUBSCRIBE
from digest.deliver.push.draft import Adapter, Draft, Existing, entity_escape, find_by_offset, secret
from digest.deliver.push.http import Client, Request, Service

LIMIT = 100  # the most Brevo lists at once


class Brevo(Adapter):
    name = "Brevo"
    default_url = "https://api.brevo.com"

    def connect(self, environ: Mapping[str, str], timeout: float) -> Service:
        key = secret(environ, "DIGEST_BREVO_API_KEY", "your Brevo API key (SMTP & API → API keys)")
        return Service(self.name, self.base(), {"api-key": key}, ("DIGEST_BREVO_API_KEY",), timeout, raw=(key,))

    def lookups(self, draft: Draft) -> list[Request]:
        return [self._page(0)]

    def _page(self, offset: int) -> Request:
        params = {"type": "classic", "limit": str(LIMIT), "offset": str(offset), "sort": "desc"}
        return Request("GET", "/v3/emailCampaigns", params={**params, "excludeHtmlContent": "true"})

    def find(self, client: Client, draft: Draft) -> Existing | None:
        return find_by_offset(client, self._page, "count", lambda c: c.get("name"), "draft", draft.name)

    def _body(self, draft: Draft) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": draft.name,
            "subject": draft.subject,
            "previewText": draft.preheader,
            "sender": {"name": draft.from_name, "email": draft.from_address},
            "htmlContent": entity_escape(draft.html, UNSUBSCRIBE["brevo"][1], ("{{", "{%", "{#")),
            "recipients": {"listIds": [int(x) for x in self.mailing.lists]},
        }
        if draft.reply_to:
            body["replyTo"] = draft.reply_to
        return body

    def create(self, draft: Draft) -> list[Request]:
        return [Request("POST", "/v3/emailCampaigns", self._body(draft))]

    def created(self, answer: object) -> tuple[str, Mapping[str, object]]:
        record = answer if isinstance(answer, dict) else {}
        return str(record.get("id")), record

    def update(self, existing: Existing, draft: Draft) -> list[Request]:
        return [Request("PUT", f"/v3/emailCampaigns/{existing.id}", self._body(draft))]
