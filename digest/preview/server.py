"""The preview server of `digest serve`: the preview's pages and the site, from memory.

Rules:
- It binds to 127.0.0.1 unless told otherwise: a preview is not a publication.
- It serves only what the preview site holds: no file system path is derived from a request.
- While it watches for changes, every HTML page it serves carries a small script that
  reloads the page after a rebuild and shows a failed build's errors over the page.
  The script is added as the page is served: the files in the site never have it.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import posixpath
import re
import socket
import sys
import threading
import urllib.parse
from functools import partial
from typing import TYPE_CHECKING, Any

from digest.preview.family import FamilySites, highlight, untranslated_panel

if TYPE_CHECKING:
    from digest.preview.editing import Editor
    from digest.preview.guard import Guard
    from digest.preview.site import PreviewSite

RELOAD_PATH = "/__digest__/reload"  # not a file name a build can produce (site files have no "__digest__" folder)
LONG_POLL_SECONDS = 25.0  # a page's question waits this long for a rebuild before it is asked again
IDLE_SECONDS = 20.0  # a connection that sends or takes nothing this long is closed
REQUEST_SECONDS = 30.0  # the request line and headers must have arrived by then

# Reloads the page once the site changed; shows the errors of the current sources (as
# text), from the moment the page opens: a page opened after a failed build says so too.
_SCRIPT = r"""<script>/* digest serve: live reload (added while serving; not in the built file) */
(function () {
  var generation = %d, site = %d;
  function show(errors) {
    var box = document.getElementById("digest-serve-errors");
    if (!errors.length) { if (box) box.remove(); return; }
    if (!box) {
      box = document.createElement("pre");
      box.id = "digest-serve-errors";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:auto 0 0 0;z-index:2147483647;margin:0;max-height:50vh;overflow:auto;" +
        "padding:12px 16px;background:#7f1d1d;color:#fff;font:13px/1.5 monospace;" +
        "white-space:pre-wrap;direction:ltr;text-align:left";
      document.body.appendChild(box);
    }
    box.textContent = "The last build failed; this is the last good version.\n\n" + errors.join("\n");
  }
  function ask() {
    fetch("%s?since=" + generation, {cache: "no-store"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (state) {
        if (state.site !== site) { location.reload(); return; }
        generation = state.generation;
        show(state.errors);
        ask();
      }, function () { setTimeout(ask, 2000); });
  }
  var errors = %s;
  if (document.body) show(errors); else document.addEventListener("DOMContentLoaded", function () { show(errors); });
  ask();
})();
</script>
"""
_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)


class Reloader:
    """What open preview pages learn by long-polling RELOAD_PATH: whether the site was
    rebuilt since they were served, and the errors of the last build if it failed."""

    def __init__(self) -> None:
        self.generation = 0  # bumped on every build, good or failed
        self.site = 0  # bumped when a build replaced the site
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._closed = False

    def built(self, errors: list[str] | None = None, changed: bool | None = None) -> None:
        """Record a finished build: ``errors`` for a failed one; ``changed``: whether what is
        served changed (by default, when there are no errors: a failed build changes nothing)."""
        with self._changed:
            self.generation += 1
            if changed if changed is not None else not errors:
                self.site += 1
            self.errors = list(errors or [])
            self._changed.notify_all()

    def close(self) -> None:
        """Answer every waiting page now (the server is stopping)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def state(self) -> dict[str, object]:
        with self._changed:
            return {"generation": self.generation, "site": self.site, "errors": self.errors}

    def state_after(self, since: int, timeout: float) -> dict[str, object]:
        """The state once the generation differs from ``since``, or after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self.generation != since or self._closed, timeout)
            return self.state()


def page_with_script(page: bytes, reloader: Reloader) -> bytes:
    """``page`` with the live-reload script just before its last </body>."""
    state = reloader.state()
    errors = json.dumps(state["errors"]).replace("<", "\\u003c")  # never "</script>" inside the script
    script = (_SCRIPT % (state["generation"], state["site"], RELOAD_PATH, errors)).encode()
    ends = list(_BODY_END.finditer(page))
    at = ends[-1].start() if ends else len(page)
    return page[:at] + script + page[at:]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Time limits, the reload long-poll, quiet logs (tests/siteserver.py serves a built site with them too)."""

    reloader: Reloader | None = None

    def setup(self) -> None:
        server: Server = self.server  # type: ignore[assignment]
        super().setup()
        self.connection.settimeout(
            server.idle_seconds
        )  # per read and write: an idle or stalled client lets go of its thread
        # A client that trickles its request in (a byte every few seconds) defeats the
        # per-read timeout; the whole request line and headers must arrive in time.
        self._deadline = threading.Timer(server.request_seconds, self._expire)
        self._deadline.daemon = True
        self._deadline.start()

    def _expire(self) -> None:
        self._expired = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # reads the headers
        self._deadline.cancel()
        if getattr(self, "_expired", False):  # what arrived in time is not a whole request
            self.close_connection = True
            return False
        return parsed

    def finish(self) -> None:
        self._deadline.cancel()
        with contextlib.suppress(OSError):  # the client may be gone (timed out, or shut down above)
            super().finish()

    def _answer_reload(self, since: str) -> None:
        assert self.reloader is not None
        try:
            state = self.reloader.state_after(int(since), LONG_POLL_SECONDS)
        except ValueError:
            self.send_error(400, "since must be a number")
            return
        self._send(json.dumps(state).encode(), "application/json")

    def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # a reload must fetch the rebuilt page
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def note(self, message: str) -> None:
        """One line in the server's log (stderr) for something the person serving should know."""
        sys.stderr.write(f"digest serve: {message}\n")


class PreviewHandler(_Handler):
    """Serves the preview's pages and the site from memory (:class:`PreviewSite`): no file
    system path is ever derived from a request, so nothing outside the site can be reached."""

    def __init__(
        self, *args: Any, site: PreviewSite, reloader: Reloader, editor: Editor | None, guard: Guard, **kwargs: Any
    ) -> None:
        self.site, self.reloader, self.editor, self.guard = site, reloader, editor, guard
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def do_POST(self) -> None:
        from digest.preview.editroutes import post

        post(self)

    def _route(self) -> None:
        from digest.preview import pages
        from digest.preview.editroutes import get

        url = urllib.parse.urlsplit(self.path)
        try:
            path = urllib.parse.unquote(url.path, errors="strict")
        except UnicodeDecodeError:
            path = ""
        query = urllib.parse.parse_qs(url.query)
        if (why := self.guard.wrong_host(self.headers)) is not None:  # drafts are not for a rebound name
            self.send_error(403, why)
            return
        if path == RELOAD_PATH:
            self._answer_reload(query.get("since", [""])[0])
            return
        if get(self, path):
            return
        site, place = self.site, ""
        family: FamilySites | None = getattr(self.server, "family", None)
        if family is not None:  # a translation is served under its prefix (/fa/...), as in the combined tree
            place, site = family.find(path)
            path = path[len(place) :]
        base = f"/{place}"
        editable = self.editor is not None and not place  # the editor edits this newsletter's issues
        with site.lock:
            if path == "/":
                general = [str(p) for p in site.general if not p.warning]
                status = family.status_panel() if family is not None and not place else ""
                self._page(pages.index_page(site.config, site.listing(), general, status, base, editable=editable))
                return
            if m := _ISSUE_FOLDER.fullmatch(path):
                self._redirect(f"{base}{path[1:]}/")
                return
            if (
                (m := _PREVIEW.fullmatch(path))
                and (number := int(m.group(1))) in site.issues
                and site.config is not None
            ):
                state = site.render(number)
                general = [str(p) for p in site.general if not p.warning]
                if m.group(2) is None:
                    self._redirect(f"{base}{path[1:]}/")
                elif m.group(2) == "/":
                    switch = family.switch(place, number) if family is not None else ""
                    marked = untranslated_panel(state)
                    self._page(pages.preview_page(site.config, state, general, switch, marked, base, editable=editable))
                elif state.outputs is not None:
                    scheme = "dark" if query.get("scheme") == ["dark"] else "light"
                    email = highlight(state.outputs["email.html"].decode("utf-8"))
                    shown = pages.emulate_scheme(email, scheme).encode()
                    self._send(pages.local_images(shown, site.config, base), _TYPES[".html"])
                else:
                    self._send(pages.broken_page(state, base), _TYPES[".html"])
                return
            rel = path[1:] + ("index.html" if path.endswith("/") else "")
            body = site.file(rel) if path.startswith("/") else None
            if body is None and (m := _ISSUE_PAGE.fullmatch(rel)) and (number := int(m.group(1))) in site.issues:
                body = pages.broken_page(site.issues[number], base)  # never good yet: its errors, until it is
        if body is None:
            self.send_error(404, "Not found")
            return
        suffix = posixpath.splitext(rel)[1]
        if suffix == ".html":
            self._page(pages.local_images(body, site.config, base))
        else:
            self._send(body, _TYPES.get(suffix, "application/octet-stream"))

    def _page(self, body: bytes) -> None:
        assert self.reloader is not None
        self._send(page_with_script(body, self.reloader), _TYPES[".html"])

    def _redirect(self, location: str) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


_ISSUE_FOLDER = re.compile(r"/issues/\d{1,9}")
_ISSUE_PAGE = re.compile(r"issues/(\d{1,9})/(?:index|email)\.html")
_PREVIEW = re.compile(r"/preview/(\d{1,9})(/|/email\.html)?")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".json": "application/json",
    ".jpg": "image/jpeg",  # the site's local images (images/<hash>.jpg, .png)
    ".png": "image/png",
    # The archive's search (Pagefind): its interface's script and stylesheet; its index files are bytes.
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


class Server(http.server.ThreadingHTTPServer):
    # Under 20 concurrent clients a backlog of 5 drops connections, which TCP retries a second later.
    request_queue_size = 128
    daemon_threads = True  # a stuck client never keeps the process from stopping
    idle_seconds = IDLE_SECONDS
    request_seconds = REQUEST_SECONDS
    family: FamilySites | None = None  # set by serve once the sources are loaded

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that went away or was timed out: nothing to log
        super().handle_error(request, client_address)


def make_preview_server(
    site: PreviewSite, reloader: Reloader, host: str = "127.0.0.1", port: int = 8000, *, editor: Editor | None = None
) -> Server:
    """A server for the preview of ``site`` (not yet serving); port 0 picks a free one.  With
    ``editor``, its pages and requests are served too (digest.preview.editroutes); its ``family``, once set, serves
    the local editions of a family's source edition too (digest.preview.family)."""
    from digest.preview.guard import Guard

    guard = Guard(host, port)
    server = Server((host, port), partial(PreviewHandler, site=site, reloader=reloader, editor=editor, guard=guard))
    guard.port = server.server_address[1]  # port 0: the one the system picked
    return server
