"""The editor's addresses in `digest serve`: /edit/N/ (the page), its requests, its script and style.

Rules:
- Every editor request passes digest.preview.guard first: its page (which holds the token)
  needs the server's own Host and Origin; a change needs the token too.
- A change is a POST of JSON (Content-Type application/json: a cross-site form cannot send
  it without the browser asking first, and this server answers no such question) to
  /edit/N/api, or an image's bytes to /edit/N/image?name=FILE.
- With --read-only (no editor) none of these exist: 404 for the pages, 403 for a POST.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from importlib import resources
from typing import TYPE_CHECKING

from digest.compose.images import upload_name
from digest.core.images import too_large
from digest.preview.guard import JSON_BYTES, UPLOAD_BYTES, body_length

if TYPE_CHECKING:
    from digest.preview.server import PreviewHandler

# The page loads nothing from elsewhere (a markdown preview's image included), cannot be framed by
# another page (a click on Publish or Commit made through a frame), and sends no Referer.
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " img-src 'self'; frame-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_EDIT = re.compile(r"/edit/(\d{1,9})(/?)")
_API = re.compile(r"/edit/(\d{1,9})/(api|image)")
STATIC = {
    "/__digest__/editor.js": "text/javascript; charset=utf-8",
    "/__digest__/editor.css": "text/css; charset=utf-8",
}


def get(h: PreviewHandler, path: str) -> bool:
    """Answer a GET of an editor address; False for any other address."""
    if path in STATIC:
        if h.editor is None:
            h.send_error(404, "Not found")
            return True
        name = path.rsplit("/", 1)[1]
        h._send(resources.files("digest.preview").joinpath("static", name).read_bytes(), STATIC[path])
        return True
    m = _EDIT.fullmatch(path)
    if m is None:
        return False
    number = int(m.group(1))
    if h.editor is None or number not in h.site.issues:
        h.send_error(404, "Not found")
        return True
    if (why := h.guard.refusal(h.headers, changing=False)) is not None:
        _json(h, 403, {"problems": [_say(why)]})
        return True
    if not m.group(2):
        h.send_response(301)
        h.send_header("Location", path + "/")
        h.send_header("Content-Length", "0")
        h.end_headers()
        return True
    from digest.preview.editpage import edit_page

    body = edit_page(h.editor.site.config, h.editor.state(number), h.guard.token)
    h.send_response(200)
    for name, value in PAGE_HEADERS.items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
    return True


def post(h: PreviewHandler) -> None:
    url = urllib.parse.urlsplit(h.path)
    m = _API.fullmatch(url.path)
    if h.editor is None:
        h.close_connection = True
        _json(h, 403, {"problems": [_say("the editor is off (digest serve --read-only)")]})
        return
    if m is None:
        h.close_connection = True
        _json(h, 404, {"problems": [_say("no such address")]})
        return
    if (why := h.guard.refusal(h.headers, changing=True)) is not None:
        h.close_connection = True  # its body is never read
        _json(h, 403, {"problems": [_say(why)]})
        return
    upload = m.group(2) == "image"
    length, why = body_length(h.headers, UPLOAD_BYTES if upload else JSON_BYTES)
    name = urllib.parse.parse_qs(url.query).get("name", ["image"])[0]
    if length is None:
        h.close_connection = True
        status = 413 if "larger" in why else 411
        if upload and status == 413:  # in build's words: the limit is the one build has
            why = too_large(upload_name(name), int(h.headers["Content-Length"]))
        _json(h, status, {"problems": [_say(why)]})
        return
    number = int(m.group(1))
    if number not in h.site.issues:
        h.close_connection = True
        _json(h, 404, {"problems": [_say(f"there is no issue {number}")]})
        return
    body = h.rfile.read(length)
    if upload:
        status, answer = h.editor.upload(number, name, body)
    else:
        if (h.headers.get_content_type() or "") != "application/json":
            _json(h, 415, {"problems": [_say("a change is sent as application/json")]})
            return
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            request = None
        if not isinstance(request, dict):
            _json(h, 400, {"problems": [_say("the body is not a JSON object")]})
            return
        try:
            status, answer = h.editor.handle(number, request)
        except Exception as e:  # noqa: BLE001 - a bug in digest: said, nothing written, the server goes on
            h.note(f"internal error in the editor: {type(e).__name__}: {e}")
            status, answer = 500, {"problems": [_say(f"internal error ({type(e).__name__}); nothing was written")]}
    _json(h, status, answer)


def _say(message: str) -> dict[str, object]:
    return {"key": "", "line": None, "message": message, "text": message}


def _json(h: PreviewHandler, status: int, answer: dict[str, object]) -> None:
    h._send(json.dumps(answer).encode(), "application/json", status)
