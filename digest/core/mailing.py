"""config.yaml's ``mailing:``: the service `digest push` makes draft campaigns in.

Rules:
- ``service`` is one of SERVICES; ``lists`` are what that service sends to (listmonk and Brevo list
  ids, numbers; the one Mailchimp audience id); Buttondown sends to the newsletter's own subscribers
  and takes none. ``template`` is a listmonk template id and listmonk's alone.
- ``api_url`` is https, except on this machine (127.0.0.1, ::1, localhost): a local instance or a
  test server. listmonk needs it (the instance); the hosted services default to their official
  endpoint. The service adds its API's path (/api, /v1, /3.0, /v3).
- Secrets never live here: they come from the environment only (`digest push` reads them).
- The unsubscribe link must be the service's own merge tag: another service's tag is never replaced
  (a dead link), and a plain URL makes the service add its own link or footer. A warning says which.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from digest.core.loading import Node, short
from digest.core.models import EmailSettings, Mailing
from digest.core.validate import Checker

SERVICES = ("listmonk", "buttondown", "mailchimp", "brevo")
NAMES = {"listmonk": "listmonk", "buttondown": "Buttondown", "mailchimp": "Mailchimp", "brevo": "Brevo"}
KEYS = ("service", "api_url", "lists", "template")
LOOPBACK = ("127.0.0.1", "::1", "localhost")

# Each service's unsubscribe merge tag, as its documentation writes it, and a pattern for the
# spellings it accepts: listmonk {{ UnsubscribeURL }} (models/common.go rewrites it to
# {{ UnsubscribeURL . }}), Buttondown {{ unsubscribe_url }} (docs: naked-mode), Mailchimp *|UNSUB|*,
# Brevo {{ unsubscribe }}.
UNSUBSCRIBE = {
    "listmonk": ("{{ UnsubscribeURL }}", re.compile(r"\{\{\s*UnsubscribeURL(\s+\.)?\s*\}\}")),
    "buttondown": ("{{ unsubscribe_url }}", re.compile(r"\{\{\s*unsubscribe_url\s*\}\}")),
    "mailchimp": ("*|UNSUB|*", re.compile(r"\*\|UNSUB\|\*")),
    "brevo": ("{{ unsubscribe }}", re.compile(r"\{\{\s*unsubscribe\s*\}\}")),
}


def read(c: Checker, top: dict[str, Node], email: object) -> Mailing | None:
    """``mailing:`` from config.yaml's top-level entries; None (with problems recorded) when absent or wrong."""
    m = c.mapping(top.get("mailing"), "mailing", KEYS, required=("service",))
    if m is None:
        return None
    service = c.get(m, "service", "mailing", c.line_text)
    if service is not None and service not in SERVICES:
        c.error(m["service"].line, "mailing.service", f"must be one of {', '.join(SERVICES)}, got {short(service)}")
        service = None
    api_url = c.get(m, "api_url", "mailing", _api_url(c))
    if service is None:
        return None
    name = NAMES[service]
    if service == "listmonk" and "api_url" not in m:
        c.error(m.get("service", top["mailing"]).line, "mailing", "needs api_url: the address of your listmonk")
    lists = _lists(c, m, service)
    template = None
    if "template" in m:
        if service != "listmonk":
            c.error(m["template"].line, "mailing.template", f"is a listmonk template id; {name} takes none")
        else:
            template = c.get(m, "template", "mailing", c.positive)
    if isinstance(email, EmailSettings) and email.unsubscribe_url:
        _unsubscribe(c, top, service, email.unsubscribe_url)
    return Mailing(service, api_url.rstrip("/") if api_url else None, lists, template)


def _api_url(c: Checker) -> Callable[[Node, str], str | None]:
    def read(node: Node, path: str) -> str | None:
        value = c.url(node, path)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme.lower() != "https" and (parts.hostname or "") not in LOOPBACK:
            c.error(
                node.line, path, f"must be https (http only on this machine: 127.0.0.1, localhost), got {short(value)}"
            )
            return None
        if parts.query or parts.fragment:
            c.error(node.line, path, f"must be the service's address, with no ?query or #fragment, got {short(value)}")
            return None
        return value

    return read


def _lists(c: Checker, m: dict[str, Node], service: str) -> tuple[str, ...]:
    name = NAMES[service]
    node = m.get("lists")
    if service == "buttondown":
        if node is not None:
            c.error(node.line, "mailing.lists", "is not used by Buttondown: it sends to the newsletter's subscribers")
        return ()
    if node is None:
        what = "the Mailchimp audience id" if service == "mailchimp" else f"the {name} list ids to send to"
        c.error(m["service"].line, "mailing", f"needs lists: {what}")
        return ()
    entries = (
        [(node, "mailing.lists")] if not node.is_list and node.value is not None else c.items(node, "mailing.lists")
    )
    if entries is None:
        return ()
    found: list[str] = []
    for entry, path in entries:
        if service == "mailchimp":
            # An audience id is letters and digits; YAML reads an all-digit one as a number.
            value = entry.value
            text = str(value) if isinstance(value, int) and not isinstance(value, bool) else c.line_text(entry, path)
            if text is not None and not re.fullmatch(r"[A-Za-z0-9]+", text):
                c.error(entry.line, path, f"must be a Mailchimp audience id such as a1b2c3d4e5, got {short(text)}")
            elif text is not None:
                found.append(text)
        elif (number := c.positive(entry, path)) is not None:
            found.append(str(number))
    if service == "mailchimp" and len(entries) > 1:
        c.error(node.line, "mailing.lists", f"names {len(entries)} audiences; a Mailchimp campaign goes to one")
    if not entries:
        what = "the Mailchimp audience id" if service == "mailchimp" else f"the {name} list ids to send to"
        c.error(node.line, "mailing.lists", f"is empty: give {what}")
    return tuple(found)


def _unsubscribe(c: Checker, top: dict[str, Node], service: str, url: str) -> None:
    email = top["email"]
    line = email.key_lines.get("unsubscribe_url", email.line) if email.is_map else email.line
    name, (tag, pattern) = NAMES[service], UNSUBSCRIBE[service]
    if pattern.search(url):
        return
    other = next((s for s, (_, p) in UNSUBSCRIBE.items() if s != service and p.search(url)), None)
    if other is not None:
        why = f"is {NAMES[other]}'s merge tag, which {name} never replaces: the link would not work; use {tag}"
    elif service == "mailchimp":
        why = f"is not Mailchimp's merge tag {tag}: Mailchimp adds its own footer with an unsubscribe link"
    elif urlsplit(url).scheme:
        why = f"is a plain URL: {name} cannot tell who unsubscribed there (and may add its own link); use {tag}"
    else:
        why = f"is not {name}'s unsubscribe merge tag {tag}, which {name} replaces with each reader's link"
    c.warn(line, "email.unsubscribe_url", why)
