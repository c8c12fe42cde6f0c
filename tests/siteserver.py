"""A server for a built site folder, for the tests: the preview server's limits and reload
script over files on disk (digest serves the preview from memory; this checks what a
static host would serve from site/)."""

from __future__ import annotations

import http.server
import io
import posixpath
import urllib.parse
from functools import partial
from pathlib import Path

from digest.preview.server import RELOAD_PATH, Reloader, Server, _Handler, page_with_script


class SiteHandler(_Handler, http.server.SimpleHTTPRequestHandler):
    """Serves files of one folder only."""

    def __init__(self, *args: object, directory: str, reloader: Reloader | None = None, **kwargs: object) -> None:
        self.reloader = reloader
        self._loop = False
        super().__init__(*args, directory=directory, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if self.reloader is not None and url.path == RELOAD_PATH:
            self._answer_reload(urllib.parse.parse_qs(url.query).get("since", [""])[0])
            return
        super().do_GET()

    def translate_path(self, path: str) -> str:
        try:
            return self._translate(path)
        except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13), a name too long
            self._loop = True
            return ""

    def _translate(self, path: str) -> str:
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
        try:
            return self._head()
        except (OSError, RuntimeError):
            self._loop = True
            self.send_error(404, "Not found")
            return None
        finally:
            if self._loop:
                self._loop = False
                self.note(
                    f"{self.path}: a symlink loop (or a path the system cannot resolve) in the site; answered 404"
                )

    def _head(self):  # type: ignore[no-untyped-def]
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
            body = page_with_script(Path(path).read_bytes(), self.reloader)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # a reload must fetch the rebuilt page
            self.end_headers()
            return io.BytesIO(body)
        return super().send_head()


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000, reloader: Reloader | None = None) -> Server:
    """A server for the folder ``site`` (not yet serving: call serve_forever()); port 0 picks a free one.

    With a ``reloader``, pages reload themselves after each build it is told of."""
    handler = partial(SiteHandler, directory=str(site), reloader=reloader)
    return Server((host, port), handler)
