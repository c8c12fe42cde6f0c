"""A local preview server for the built site, with rebuilds when the sources change.

Rules:
- It binds to 127.0.0.1 unless told otherwise: a preview is not a publication.
- It serves only files inside the site folder: no path traversal, no symlinks out,
  no directory listings.
- While it watches for changes, every HTML page it serves carries a small script that
  reloads the page after a rebuild and shows a failed build's errors over the page.
  The script is added as the page is served: the files in the site never have it.
"""

from __future__ import annotations

import http.server
import io
import json
import posixpath
import re
import threading
import urllib.parse
from collections.abc import Callable
from functools import partial
from pathlib import Path

RELOAD_PATH = "/__digest__/reload"  # not a file name a build can produce (site files have no "__digest__" folder)
LONG_POLL_SECONDS = 25.0  # a page's question waits this long for a rebuild before it is asked again

# Reloads the page once the site changed; shows the errors of a build that failed (as text).
_SCRIPT = r"""<script>/* digest serve: live reload (added while serving; not in the built file) */
(function () {
  var generation = %d;
  function show(errors) {
    var box = document.getElementById("digest-serve-errors");
    if (!errors.length) { if (box) box.remove(); return; }
    if (!box) {
      box = document.createElement("pre");
      box.id = "digest-serve-errors";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:auto 0 0 0;z-index:2147483647;margin:0;max-height:50vh;overflow:auto;" +
        "padding:12px 16px;background:#7f1d1d;color:#fff;font:13px/1.5 monospace;white-space:pre-wrap;direction:ltr;text-align:left";
      document.body.appendChild(box);
    }
    box.textContent = "The last build failed; this is the last good version.\n\n" + errors.join("\n");
  }
  function ask() {
    fetch("%s?since=" + generation, {cache: "no-store"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (state) {
        if (state.site !== %d) { location.reload(); return; }
        generation = state.generation;
        show(state.errors);
        ask();
      }, function () { setTimeout(ask, 2000); });
  }
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

    def built(self, errors: list[str] | None = None) -> None:
        """Record a finished build: ``errors`` for a failed one (the site stayed as it was)."""
        with self._changed:
            self.generation += 1
            if not errors:
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


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files of one folder only."""

    def __init__(self, *args: object, directory: str, reloader: Reloader | None = None, **kwargs: object) -> None:
        self.reloader = reloader
        super().__init__(*args, directory=directory, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if self.reloader is not None and url.path == RELOAD_PATH:
            self._answer_reload(urllib.parse.parse_qs(url.query).get("since", [""])[0])
            return
        super().do_GET()

    def _answer_reload(self, since: str) -> None:
        assert self.reloader is not None
        try:
            state = self.reloader.state_after(int(since), LONG_POLL_SECONDS)
        except ValueError:
            self.send_error(400, "since must be a number")
            return
        body = json.dumps(state).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def translate_path(self, path: str) -> str:
        site = Path(self.directory).resolve()
        try:
            raw = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0], errors="strict")
        except UnicodeDecodeError:  # percent-escapes that are not UTF-8 name no file of ours
            return ""
        # Any ".." segment or backslash is refused outright rather than normalised away.
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if any(p == ".." or "\\" in p or "\x00" in p for p in parts):
            return ""
        candidate = site.joinpath(*parts) if parts else site
        resolved = candidate.resolve()
        if resolved != site and not resolved.is_relative_to(site):
            return ""
        if raw.endswith("/") or resolved.is_dir():
            return posixpath.join(str(resolved), "")
        return str(resolved)

    def send_head(self):  # type: ignore[no-untyped-def]
        path = self.translate_path(self.path)
        if not path:
            self.send_error(404, "Not found")
            return None
        if path.endswith("/"):
            # A folder is served only as its index.html (no directory listings), and that
            # file, too, must resolve inside the site: a symlinked index.html pointing out is refused.
            index = Path(path, "index.html").resolve()
            if not index.is_file() or not index.is_relative_to(Path(self.directory).resolve()):
                self.send_error(404, "Not found")
                return None
            if self.path.split("?", 1)[0].endswith("/"):
                path = str(index)
        if self.reloader is not None and path.endswith(".html") and Path(path).is_file():
            return self._page_with_script(Path(path))
        return super().send_head()

    def _page_with_script(self, path: Path) -> io.BytesIO:
        assert self.reloader is not None
        state = self.reloader.state()
        script = (_SCRIPT % (state["generation"], RELOAD_PATH, state["site"])).encode()
        page = path.read_bytes()
        ends = list(_BODY_END.finditer(page))
        at = ends[-1].start() if ends else len(page)
        body = page[:at] + script + page[at:]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # a reload must fetch the rebuilt page
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000, reloader: Reloader | None = None) -> http.server.ThreadingHTTPServer:
    """A server for ``site`` (not yet serving: call serve_forever()); port 0 picks a free one.

    With a ``reloader``, pages reload themselves after each build it is told of."""
    handler = partial(SiteHandler, directory=str(site), reloader=reloader)
    return http.server.ThreadingHTTPServer((host, port), handler)


def watch(root: Path, rebuild: Callable[[], None], stop: threading.Event) -> None:
    """Call ``rebuild`` whenever config.yaml, issues/ or templates/ change, until ``stop`` is set."""
    from watchfiles import watch as watch_changes

    paths = [p for p in (root / "config.yaml", root / "issues", root / "templates") if p.exists()]
    try:
        for _changes in watch_changes(*paths, stop_event=stop, debounce=200):
            rebuild()
    except Exception:  # noqa: BLE001 - any failure of the native watcher (e.g. the inotify limit)
        # Poll instead of going deaf: a preview that silently stops rebuilding is worse.
        for _changes in watch_changes(*paths, stop_event=stop, debounce=200, force_polling=True, poll_delay_ms=300):
            rebuild()
