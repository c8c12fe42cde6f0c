"""Who may use the editor of `digest serve`: the checks every editor request passes first.

A server on 127.0.0.1 is reachable by any page the person visits (a form posting to it, a
script's fetch) and, through DNS rebinding, by a foreign page that the browser believes is
on the server's own origin.  So:
- ``Host`` must name this server as it listens (127.0.0.1:PORT, or localhost:PORT on a
  loopback address): a rebound name never matches.  This holds for the editor's page too,
  which carries the token, and on loopback for every page of the preview (drafts are private).
- ``Origin``, when the browser sends one, must be this server; a request a browser marks
  as coming from another site (``Sec-Fetch-Site``) is refused.
- Every request that changes something carries the session's token in a header
  (X-Digest-Token), which only a page of this server can read; a cookie would be sent by
  any page, so none is used.  The token is random per start of `digest serve`.
- A body has a Content-Length within the route's limit; anything else is refused unread.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from email.message import Message

from digest.core.images import MAX_BYTES

TOKEN_HEADER = "X-Digest-Token"
JSON_BYTES = 1_000_000  # an issue file is far smaller; a save sends the changed fields only
UPLOAD_BYTES = MAX_BYTES + 1  # what build takes; one byte more is refused by the image check, in its words


@dataclass
class Guard:
    host: str
    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def hosts(self) -> set[str]:
        host = f"[{self.host}]" if ":" in self.host else self.host
        names = {f"{host}:{self.port}"}
        if is_loopback(self.host):  # names no DNS answer can rebind
            names |= {f"localhost:{self.port}", f"127.0.0.1:{self.port}"}
        return names

    def wrong_host(self, headers: Message) -> str | None:
        """Why a request on a loopback server, for any page, is refused: a Host that is not this server's
        (a foreign name rebound to 127.0.0.1 reads nothing, drafts included).  On another address the
        preview answers any Host (a phone on the network names it by its own address); the editor is off."""
        if is_loopback(self.host) and (headers.get("Host") or "").lower() not in self.hosts:
            return "the Host header does not name this server"
        return None

    def refusal(self, headers: Message, changing: bool) -> str | None:
        """Why a request with these headers is refused (None: it is not)."""
        if (headers.get("Host") or "").lower() not in self.hosts:
            return "the Host header does not name this server"
        origin = headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.hosts}:
            return "the request comes from another origin"
        if headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
            return "the request comes from another site"
        if changing and not hmac.compare_digest((headers.get(TOKEN_HEADER) or "").encode(), self.token.encode()):
            return "the request does not carry this session's token: reload the editor's page"
        return None


def body_length(headers: Message, limit: int) -> tuple[int | None, str]:
    """The body's length, or None and why it is refused."""
    if headers.get("Transfer-Encoding") is not None:
        return None, "a body must be sent with a Content-Length"
    raw = headers.get("Content-Length")
    if raw is None or not raw.isascii() or not raw.isdigit():
        return None, "a body must be sent with a Content-Length"
    length = int(raw)
    if length > limit:
        return None, f"the body is larger than {limit:,} bytes"
    return length, ""


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
