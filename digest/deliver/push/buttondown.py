"""Buttondown (https://docs.buttondown.com/api-emails-introduction, public/openapi.json of buttondown/docs).

Requests:
- ``GET /v1/emails?ordering=-creation_date&excluded_fields=body&page=N``: the earlier email, found by
  ``secondary_id``, Buttondown's own "issue number" field (an integer, 1 to 1,000,000,000). The list
  has no filter on it, so pages are read newest first until it is found or ``next`` is null.
- ``POST /v1/emails`` and ``PATCH /v1/emails/{id}``: subject, body, ``status: draft`` every time
  (EmailInput's status defaults to about_to_send: an email created without it is sent at once),
  secondary_id, description (Buttondown's preheader: "customize it by adding a description", docs
  glossary-developers) and template ``naked``, so that the body is the whole
  email as digest made it rather than text inside Buttondown's own design (Naked mode, a paid feature).
- ``Authorization: Token <key>`` (DIGEST_BUTTONDOWN_API_KEY).
- Only an email whose status is ``draft`` is changed.

Buttondown renders the body with Django's template language: ``{{``, ``{%`` and ``{#`` in the issue's
text are written as ``{% templatetag … %}``, so they arrive as written, and the unsubscribe tag,
``{{ unsubscribe_url }}``, stays live. The body starts with ``<!doctype html>``, never with the YAML
front matter Buttondown refuses (error code body_contains_frontmatter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digest.core.mailing import UNSUBSCRIBE
from digest.deliver.push.draft import Adapter, Draft, Existing, brace_segments, secret
from digest.deliver.push.http import Client, Request, Service

_OPENERS = re.compile(r"\{\{|\{%|\{#")
_TAGS = {"{{": "openvariable", "{%": "openblock", "{#": "opencomment"}
MAX_SECONDARY_ID = 1_000_000_000


def escape_django(text: str) -> str:
    """Text that Django's template engine writes exactly as ``text``, the unsubscribe tag excepted."""
    out = []
    for part, kept in brace_segments(text, UNSUBSCRIBE["buttondown"][1]):
        if kept:
            out.append(part)
            continue
        part = _OPENERS.sub(lambda m: "{% templatetag " + _TAGS[m.group()] + " %}", part)
        if part.endswith("{"):  # before the kept tag it would make "{{{"
            part = part[:-1] + "{% templatetag openbrace %}"
        out.append(part)
    return "".join(out)


class Buttondown(Adapter):
    name = "Buttondown"
    default_url = "https://api.buttondown.com"

    def connect(self, environ: Mapping[str, str], timeout: float) -> Service:
        key = secret(environ, "DIGEST_BUTTONDOWN_API_KEY", "your Buttondown API key (Settings → API)")
        headers = {"Authorization": f"Token {key}"}
        return Service(self.name, self.base(), headers, ("DIGEST_BUTTONDOWN_API_KEY",), timeout, raw=(key,))

    def lookups(self, draft: Draft) -> list[Request]:
        return [self._page(1)]

    def _page(self, page: int) -> Request:
        params = {"ordering": "-creation_date", "excluded_fields": "body", "page": str(page)}
        return Request("GET", "/v1/emails", params=params)

    def find(self, client: Client, draft: Draft) -> Existing | None:
        page = 1
        while True:
            answer = client.send(self._page(page))
            results = answer.get("results") or [] if isinstance(answer, dict) else []
            for email in results:
                if isinstance(email, dict) and email.get("secondary_id") == draft.number:
                    status = str(email.get("status", ""))
                    return Existing(str(email.get("id")), status, status == "draft", email)
            if not results or not isinstance(answer, dict) or not answer.get("next"):
                return None
            page += 1

    def _body(self, draft: Draft) -> dict[str, Any]:
        body: dict[str, Any] = {
            "subject": draft.subject,
            "body": escape_django(draft.html),
            "status": "draft",
            "description": draft.preheader,
            "template": "naked",
        }
        if 1 <= draft.number <= MAX_SECONDARY_ID:
            body["secondary_id"] = draft.number
        return body

    def create(self, draft: Draft) -> list[Request]:
        return [Request("POST", "/v1/emails", self._body(draft))]

    def created(self, answer: object) -> tuple[str, Mapping[str, object]]:
        record = answer if isinstance(answer, dict) else {}
        return str(record.get("id")), record

    def update(self, existing: Existing, draft: Draft) -> list[Request]:
        return [Request("PATCH", f"/v1/emails/{existing.id}", self._body(draft))]

    def dashboard(self, campaign_id: str, record: Mapping[str, object]) -> str | None:
        return f"https://buttondown.com/emails/{campaign_id}"
