"""listmonk (https://listmonk.app/docs/apis/campaigns/), self-hosted: api_url is the instance.

Requests (listmonk v3 and later; docs/docs/content/apis/campaigns.md, cmd/campaigns.go):
- ``GET /api/campaigns?tag=<key>&per_page=100&page=N&no_body=true``: the earlier campaign, found by
  the tag digest gives it (the list filters on every tag given: query-campaigns' ``$3 <@ tags``;
  the code reads ``tag``, not the ``tags`` its docs name). Pages are read until the tag is found.
- ``POST /api/campaigns`` and ``PUT /api/campaigns/{id}``: name, subject, lists, from_email, type
  regular, content_type html, body, altbody, messenger email, tags, headers (Reply-To), template_id.
- BasicAuth with the API user and its token (DIGEST_LISTMONK_USER, DIGEST_LISTMONK_TOKEN).
- Only a campaign in status ``draft`` is changed (listmonk itself would also change a scheduled or
  paused one: digest does not).

The body, the altbody and the subject are Go templates in listmonk (models/campaigns.go
CompileTemplate: html/template for the body and the altbody, text/template for the subject). So:
- ``{{`` in the issue's text (code samples) is written ``{{"{{"}}``: it arrives as written;
- the unsubscribe tag, ``{{ UnsubscribeURL }}``, is left live;
- html/template drops every HTML comment, Outlook's ``<!--[if mso]>…<![endif]-->`` among them: each
  comment is written ``{{ Safe "<!--…-->" }}`` (listmonk's Safe function returns template.HTML, which
  html/template writes as it is), so the conditionals reach Outlook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digest.core.mailing import UNSUBSCRIBE
from digest.deliver.push.draft import Adapter, Draft, Existing, brace_segments, secret
from digest.deliver.push.http import Client, Request, Service

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_UNSUBSCRIBE = UNSUBSCRIBE["listmonk"][1]
PER_PAGE = 100
TEMPLATE_HELP = (
    "listmonk wraps a campaign in its default template (its own header, footer and styles) unless"
    " mailing.template names another: in listmonk, Campaigns → Templates → + New, type Campaign, body"
    ' exactly {{ template "content" . }}, save, and put its id in config.yaml as mailing.template'
)


def go_string(text: str) -> str:
    """``text`` as a Go interpreted string literal (what a template action reads with strconv.Unquote)."""
    out = ['"']
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def escape_braces(text: str) -> str:
    """Text that a Go template writes exactly as ``text``, the unsubscribe tag excepted (left live)."""
    out = []
    for part, kept in brace_segments(text, _UNSUBSCRIBE):
        if kept:
            out.append(part)
            continue
        part = part.replace("{{", '{{"{{"}}')
        # A lone { before a tag or a comment's action would make "{{{": the action would start one early.
        if part.endswith("{"):
            part = part[:-1] + '{{"{"}}'
        out.append(part)
    return "".join(out)


def template_body(html: str) -> str:
    """The email as a listmonk campaign body: braces escaped, every HTML comment kept by Safe."""
    out = []
    pos = 0
    for m in _COMMENT.finditer(html):
        out.append(escape_braces(html[pos : m.start()]))
        out.append("{{ Safe " + go_string(m.group()) + " }}")
        pos = m.end()
    out.append(escape_braces(html[pos:]))
    return "".join(out)


class Listmonk(Adapter):
    name = "listmonk"

    def connect(self, environ: Mapping[str, str], timeout: float) -> Service:
        import base64

        user = secret(environ, "DIGEST_LISTMONK_USER", "the listmonk API user's name (Admin → Users)")
        token = secret(environ, "DIGEST_LISTMONK_TOKEN", "that API user's token")
        basic = base64.b64encode(f"{user}:{token}".encode()).decode()
        variables = ("DIGEST_LISTMONK_USER", "DIGEST_LISTMONK_TOKEN")
        headers = {"Authorization": f"Basic {basic}"}
        return Service(self.name, self.base(), headers, variables, timeout, raw=(token,))

    def lookups(self, draft: Draft) -> list[Request]:
        return [self._page(draft, 1)]

    def _page(self, draft: Draft, page: int) -> Request:
        params = {"tag": draft.key, "per_page": str(PER_PAGE), "page": str(page), "no_body": "true"}
        return Request("GET", "/api/campaigns", params=params)

    def find(self, client: Client, draft: Draft) -> Existing | None:
        page, seen = 1, 0
        while True:
            answer = client.send(self._page(draft, page))
            data = answer.get("data", {}) if isinstance(answer, dict) else {}
            results = data.get("results") or []
            for campaign in results:
                if isinstance(campaign, dict) and draft.key in (campaign.get("tags") or []):
                    status = str(campaign.get("status", ""))
                    return Existing(str(campaign.get("id")), status, status == "draft", campaign)
            seen += len(results)
            if not results or seen >= int(data.get("total") or 0):  # counted: a server may give fewer than asked
                return None
            page += 1

    def _body(self, draft: Draft) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": draft.name,
            "subject": escape_braces(draft.subject),
            "lists": [int(x) for x in self.mailing.lists],
            "from_email": draft.from_header,
            "type": "regular",
            "content_type": "html",
            "body": template_body(draft.html),
            "altbody": template_body(draft.text),
            "messenger": "email",
            "tags": [draft.key],
            "headers": [{"Reply-To": draft.reply_to}] if draft.reply_to else [],
        }
        if self.mailing.template is not None:
            body["template_id"] = self.mailing.template
        return body

    def create(self, draft: Draft) -> list[Request]:
        return [Request("POST", "/api/campaigns", self._body(draft))]

    def created(self, answer: object) -> tuple[str, Mapping[str, object]]:
        record = answer.get("data", {}) if isinstance(answer, dict) else {}
        return str(record.get("id")), record

    def update(self, existing: Existing, draft: Draft) -> list[Request]:
        return [Request("PUT", f"/api/campaigns/{existing.id}", self._body(draft))]

    def dashboard(self, campaign_id: str, record: Mapping[str, object]) -> str | None:
        return f"{self.base()}/admin/campaigns/{campaign_id}"
