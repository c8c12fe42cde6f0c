"""Mailing services on 127.0.0.1 for `digest push`'s tests: listmonk, Buttondown, Mailchimp and Brevo.

Each implements the endpoints digest uses as the service's documentation describes them: the
credentials checked (401 with the service's own error body), required fields checked (400), ids
assigned, a campaign's status kept (a Buttondown email created without ``status: draft`` is sent at
once, as the real one does), and non-draft campaigns refused. ``faults`` holds answers to give
before the real ones (a 429 with Retry-After, a 500, a slow answer). Every request is recorded.

listmonk's campaign body is a Go template: :func:`go_render` renders it as html/template would for
the few actions digest may write (string constants, Safe, UnsubscribeURL), dropping HTML comments
from the template text, and refusing any other action as listmonk refuses an unknown function.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

UNSUBSCRIBE_LINK = "https://lists.example.org/subscription/unsub-1234"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() when it arrived


@dataclass
class Mailbox:
    service: str
    base: str = ""
    credential: str = ""  # the header value (or api-key) the server accepts
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[tuple[int, dict[str, str], dict[str, Any]] | float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(7))
    page_size: int = 2  # small, so that digest's paging is exercised
    filters: bool = True  # False: the list ignores listmonk's tag filter, as listmonk before v3 does
    fault_on: str | None = None  # the faults go to requests of this method only (None: any)

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]


class Answer(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


# listmonk ------------------------------------------------------------------------------------------

_ACTION = re.compile(
    r'\{\{-?\s*(?:("(?:[^"\\]|\\.)*")|Safe\s+("(?:[^"\\]|\\.)*")|(UnsubscribeURL)(?:\s+\.)?)\s*-?\}\}', re.S
)


def go_render(template: str) -> str:
    """``template`` rendered as listmonk's html/template would render it; ValueError for an unknown action."""
    out, pos = [], 0
    for m in re.finditer(r"\{\{", template):
        if m.start() < pos:
            continue
        action = _ACTION.match(template, m.start())
        if action is None:
            end = template.find("}}", m.start())
            raise ValueError(f"template: content: function {template[m.start() + 2 : end].split()[0]!r} not defined")
        out.append(re.sub(r"<!--.*?-->", "", template[pos : m.start()], flags=re.S))  # html/template drops comments
        constant, safe, unsubscribe = action.groups()
        if unsubscribe:
            out.append(UNSUBSCRIBE_LINK)
        else:
            out.append(json.loads(safe or constant))  # Go's escapes in these strings are JSON's
        pos = action.end()
    out.append(re.sub(r"<!--.*?-->", "", template[pos:], flags=re.S))
    return "".join(out)


def listmonk(box: Mailbox, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
    if path == "/api/campaigns" and method == "GET":
        tags = query.get("tag", []) if box.filters else []
        found = [c for c in box.campaigns.values() if all(t in c["tags"] for t in tags)]
        page, per_page = int(query.get("page", ["1"])[0]), min(box.page_size, int(query.get("per_page", ["20"])[0]))
        results = found[(page - 1) * per_page : page * per_page]
        return {"data": {"results": results, "total": len(found), "page": page, "per_page": per_page}}
    if (m := re.fullmatch(r"/api/campaigns/(\d+)/preview", path)) and method == "GET":
        return go_render(_campaign(box, m.group(1))["body"])
    if path == "/api/campaigns" and method == "POST":
        campaign = {"id": next(box.ids), "status": "draft", "tags": [], "template_id": 1}
        _listmonk_fields(campaign, body)
        box.campaigns[str(campaign["id"])] = campaign
        return {"data": campaign}
    if (m := re.fullmatch(r"/api/campaigns/(\d+)", path)) and method == "PUT":
        campaign = _campaign(box, m.group(1))
        if campaign["status"] not in ("draft", "paused", "scheduled"):  # cmd/campaigns.go canEditCampaign
            raise Answer(400, {"message": "Cannot update a running or finished campaign."})
        _listmonk_fields(campaign, {**campaign, **body})
        return {"data": campaign}
    raise Answer(404, {"message": "Unknown URL"})


def _listmonk_fields(campaign: dict[str, Any], body: dict[str, Any]) -> None:
    for key in ("name", "subject"):
        if not body.get(key):
            raise Answer(400, {"message": f"Invalid {key}."})
    if not body.get("lists"):
        raise Answer(400, {"message": "Invalid lists."})
    if body.get("type") not in ("regular", "optin") or body.get("content_type") not in ("richtext", "html", "plain"):
        raise Answer(400, {"message": "Invalid type or content_type."})
    for key in ("body", "altbody", "subject"):
        try:
            go_render(body.get(key) or "")
        except ValueError as e:
            raise Answer(400, {"message": f"Error compiling {key}: {e}"}) from None
    campaign.update({k: body[k] for k in body if k not in ("id", "status")})


def _campaign(box: Mailbox, campaign_id: str) -> dict[str, Any]:
    if campaign_id not in box.campaigns:
        raise Answer(404, {"message": "Campaign not found.", "detail": "Not found.", "title": "Resource Not Found"})
    return box.campaigns[campaign_id]


# Buttondown ----------------------------------------------------------------------------------------


def buttondown(box: Mailbox, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
    if path == "/v1/emails" and method == "GET":
        emails = sorted(box.campaigns.values(), key=lambda e: e["creation"], reverse=True)
        page = int(query.get("page", ["1"])[0])
        results = emails[(page - 1) * box.page_size : page * box.page_size]
        more = page * box.page_size < len(emails)
        strip = "body" in query.get("excluded_fields", [])
        shown = [{k: v for k, v in e.items() if not (strip and k == "body")} for e in results]
        return {
            "results": shown,
            "count": len(emails),
            "next": f"{box.base}/v1/emails?page={page + 1}" if more else None,
        }
    if path == "/v1/emails" and method == "POST":
        if not body.get("subject"):
            raise Answer(422, {"detail": [{"loc": ["body", "subject"], "msg": "Field required"}]})
        email = {"id": f"em_{next(box.ids):026d}", "creation": len(box.requests), "status": "about_to_send"}
        _buttondown_fields(email, body)
        if email["status"] == "about_to_send":
            email["status"] = "sent"  # EmailInput's default: created without status: draft, it goes out at once
        box.campaigns[email["id"]] = email
        return 201, email
    if (m := re.fullmatch(r"/v1/emails/([\w-]+)", path)) and method == "PATCH":
        email = _campaign(box, m.group(1))
        _buttondown_fields(email, body)
        return email
    raise Answer(404, {"detail": "Not found."})


def _buttondown_fields(email: dict[str, Any], body: dict[str, Any]) -> None:
    if str(body.get("body", "")).startswith("---"):
        raise Answer(400, {"code": "body_contains_frontmatter", "detail": "The body starts with front matter."})
    number = body.get("secondary_id")
    if number is not None and not (isinstance(number, int) and 1 <= number <= 1_000_000_000):
        raise Answer(422, {"detail": [{"loc": ["body", "secondary_id"], "msg": "Input should be a valid integer"}]})
    email.update(body)


# Mailchimp -----------------------------------------------------------------------------------------

AUDIENCE = "a1b2c3d4e5"


def mailchimp(box: Mailbox, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
    if path == "/3.0/campaigns" and method == "GET":
        found = [c for c in box.campaigns.values() if c["recipients"]["list_id"] in query.get("list_id", [AUDIENCE])]
        offset, count = int(query.get("offset", ["0"])[0]), min(box.page_size, int(query.get("count", ["10"])[0]))
        return {"campaigns": found[offset : offset + count], "total_items": len(found)}
    if path == "/3.0/campaigns" and method == "POST":
        if body.get("type") not in ("regular", "plaintext", "rss", "variate"):
            raise Answer(400, _problem(400, "Invalid Resource", "The resource submitted could not be validated."))
        campaign = {"id": f"{next(box.ids):010x}", "web_id": 4000 + len(box.campaigns), "status": "save"}
        _mailchimp_fields(campaign, body)
        box.campaigns[campaign["id"]] = campaign
        return campaign
    if (m := re.fullmatch(r"/3.0/campaigns/(\w+)", path)) and method == "PATCH":
        campaign = _campaign(box, m.group(1))
        settings = body.get("settings") or {}
        if any(not settings.get(k) for k in ("subject_line", "from_name", "reply_to")):  # Campaign2's required ones
            raise Answer(400, _problem(400, "Invalid Resource", "settings: subject_line, from_name, reply_to required"))
        if campaign["status"] not in ("save", "paused"):
            raise Answer(400, _problem(400, "Bad Request", "This campaign cannot be updated: it is sent or scheduled."))
        _mailchimp_fields(campaign, body)
        return campaign
    if (m := re.fullmatch(r"/3.0/campaigns/(\w+)/content", path)) and method == "PUT":
        campaign = _campaign(box, m.group(1))
        campaign["content"] = {"html": body.get("html"), "plain_text": body.get("plain_text")}
        return campaign["content"]
    raise Answer(404, _problem(404, "Resource Not Found", "The requested resource could not be found."))


def _mailchimp_fields(campaign: dict[str, Any], body: dict[str, Any]) -> None:
    recipients = body.get("recipients") or {}
    if recipients.get("list_id") != AUDIENCE:
        raise Answer(400, _problem(400, "Invalid Resource", "The requested audience does not exist."))
    campaign.update({"recipients": recipients, "settings": body.get("settings") or {}, "type": "regular"})


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "https://mailchimp.com/developer/", "title": title, "status": status, "detail": detail}


# Brevo ---------------------------------------------------------------------------------------------


def brevo(box: Mailbox, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
    if path == "/v3/emailCampaigns" and method == "GET":
        offset, limit = int(query.get("offset", ["0"])[0]), min(box.page_size, int(query.get("limit", ["50"])[0]))
        found = list(box.campaigns.values())
        return {"campaigns": found[offset : offset + limit], "count": len(found)}
    if path == "/v3/emailCampaigns" and method == "POST":
        _brevo_fields(body)
        campaign = {**body, "id": next(box.ids), "status": "draft", "type": "classic"}
        box.campaigns[str(campaign["id"])] = campaign
        return 201, {"id": campaign["id"]}
    if (m := re.fullmatch(r"/v3/emailCampaigns/(\d+)", path)) and method == "PUT":
        campaign = _campaign(box, m.group(1))
        if campaign["status"] != "draft":
            raise Answer(400, {"code": "not_acceptable", "message": "Campaign is not in draft status"})
        _brevo_fields({**campaign, **body})
        campaign.update(body)
        return 204, None
    raise Answer(404, {"code": "document_not_found", "message": "Campaign ID does not exist"})


def _brevo_fields(body: dict[str, Any]) -> None:
    sender = body.get("sender") or {}
    missing = [k for k in ("name", "subject") if not body.get(k)]
    missing += [] if sender.get("email") else ["sender"]
    missing += [] if body.get("htmlContent") or body.get("htmlUrl") or body.get("templateId") else ["htmlContent"]
    if missing:
        raise Answer(400, {"code": "missing_parameter", "message": f"{missing[0]} is missing"})


# The server ----------------------------------------------------------------------------------------

SERVICES = {"listmonk": listmonk, "buttondown": buttondown, "mailchimp": mailchimp, "brevo": brevo}
REFUSED = {
    "listmonk": {"message": "Invalid API credentials"},
    "buttondown": {"detail": "Invalid token."},
    "mailchimp": _problem(
        401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter."
    ),
    "brevo": {"code": "unauthorized", "message": "Key not found"},
}


def serve(service: str, credential: str) -> Iterator[Mailbox]:
    box = Mailbox(service, credential=credential)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            box.requests.append(
                Recorded(self.command, parts.path, parse_qs(parts.query), headers, body, time.monotonic())
            )
            try:
                if box.faults and box.fault_on in (None, self.command):
                    fault = box.faults.pop(0)
                    if isinstance(fault, float):
                        box.stop.wait(fault)  # slower than digest's timeout
                    else:
                        raise Answer(fault[0], fault[2], fault[1])
                given = headers.get("api-key" if service == "brevo" else "authorization")
                if given != box.credential:
                    raise Answer(401, REFUSED[service])
                answer = SERVICES[service](box, self.command, parts.path, parse_qs(parts.query), body or {})
                status, answer = answer if isinstance(answer, tuple) else (200, answer)
                raise Answer(status, answer)
            except Answer as a:
                data = b"" if a.body is None else (a.body if isinstance(a.body, str) else json.dumps(a.body)).encode()
                self.send_response(a.status)
                kind = "text/html" if isinstance(a.body, str) else "application/json"
                for k, v in {"Content-Type": kind, **a.headers, "Content-Length": str(len(data))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = _handle  # noqa: N815 - the http.server interface

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # digest hung up on a slow answer: what the timeout test wants

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        box.stop.set()
        server.shutdown()
        server.server_close()
