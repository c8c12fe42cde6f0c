"""A local preview server for the built site, with rebuilds when the sources change.

Rules:
- It binds to 127.0.0.1 unless told otherwise: a preview is not a publication.
- It serves only files inside the site folder: no path traversal, no symlinks out,
  no directory listings.
"""

from __future__ import annotations

import http.server
import posixpath
import threading
import urllib.parse
from collections.abc import Callable
from functools import partial
from pathlib import Path


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files of one folder only."""

    def __init__(self, *args: object, directory: str, **kwargs: object) -> None:
        super().__init__(*args, directory=directory, **kwargs)  # type: ignore[arg-type]

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
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server for ``site`` (not yet serving: call serve_forever()); port 0 picks a free one."""
    handler = partial(SiteHandler, directory=str(site))
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
