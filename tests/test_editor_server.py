"""The editor of `digest serve` over real HTTP: who may change files, and what a change writes.

Requests go out through http.client with the headers an attacker would choose; each refused
request leaves the issue file byte for byte as it was.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from editorkit import ISSUE, REL, Client, changed, editor_newsletter, serving

from digest.core import images
from digest.render.images import publish

pytestmark = pytest.mark.slow  # server tests (HTTP on 127.0.0.1): the fast tier is -m 'not slow'

SAVE = {"op": "save", "changes": [["sections[1].items[2].summary", "Changed."]]}
PNG = base64.b64decode(  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return editor_newsletter(tmp_path / "news")


def _unchanged(root: Path) -> None:
    assert (root / REL).read_bytes() == ISSUE.read_bytes()


def test_a_save_with_the_token_writes_only_that_line(root: Path) -> None:
    with serving(root) as c:
        c.open()
        status, answer = c.api({**SAVE, "version": c.version})
        assert status == 200, answer
        assert answer["state"]["version"] != c.version
    before = ISSUE.read_text(encoding="utf-8")
    assert (root / REL).read_text(encoding="utf-8") == before.replace("summary: Short and plain.", "summary: Changed.")


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"X-Digest-Token": None}, "does not carry this session's token"),
        ({"X-Digest-Token": "not-the-token"}, "does not carry this session's token"),
        ({"Host": "evil.example:{port}"}, "the Host header does not name this server"),
        ({"Host": "127.0.0.1:1"}, "the Host header does not name this server"),
        ({"Origin": "http://127.0.0.1:1"}, "the request comes from another origin"),
        ({"Origin": "null"}, "the request comes from another origin"),
        ({"Sec-Fetch-Site": "cross-site"}, "the request comes from another site"),
    ],
)
def test_a_change_without_the_token_or_from_elsewhere_is_refused(
    root: Path, headers: dict[str, str | None], why: str
) -> None:
    with serving(root) as c:
        c.open()
        given = {k: v.format(port=c.port) if v else v for k, v in headers.items()}
        status, answer = c.api({**SAVE, "version": c.version}, **given)  # type: ignore[arg-type]
        assert status == 403
        assert why in answer["problems"][0]["message"]
        assert c.api({**SAVE, "version": c.version})[0] == 200  # the same request, as the page sends it
    assert (root / REL).read_bytes() != ISSUE.read_bytes()


def test_refused_requests_leave_the_file_as_it_was(root: Path) -> None:
    with serving(root) as c:
        c.open()
        payload = json.dumps({**SAVE, "version": c.version}).encode()
        assert c.request("POST", "/edit/5/api", payload, {"Content-Type": "application/json"})[0] == 403
        # A form post from another page: no token, a form's content type.
        form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
        assert c.request("POST", "/edit/5/api", b"op=save", form)[0] == 403
        token = {"X-Digest-Token": c.token}
        assert c.request("POST", "/edit/5/api", b"op=save", {**token, "Content-Type": "text/plain"})[0] == 415
        too_big = {**token, "Content-Type": "application/json", "Content-Length": str(2_000_000)}
        assert c.request("POST", "/edit/5/api", b"{}", too_big)[0] == 413
        chunked = {**token, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        assert c.request("POST", "/edit/5/api", b"2\r\n{}\r\n0\r\n\r\n", chunked)[0] == 411
        # The page that holds the token is only for this server's own name (DNS rebinding).
        status, body = c.request("GET", "/edit/5/", headers={"Host": f"rebound.example:{c.port}"})
        assert status == 403 and c.token.encode() not in body
    _unchanged(root)


def test_a_file_changed_on_disk_is_a_conflict_and_both_versions_stay(root: Path) -> None:
    with serving(root, "--no-watch") as c:
        c.open()
        theirs = ISSUE.read_bytes().replace(b"Third story", b"Third story, edited in a text editor")
        (root / REL).write_bytes(theirs)
        status, answer = c.api({**SAVE, "version": c.version})
        assert status == 409 and answer["conflict"] is True
        assert answer["problems"][0]["text"] == (
            "issues/0005.yaml: changed on disk since it was read (another command, an editor, git); nothing was"
            " written: reload it and edit again"
        )
        assert (root / REL).read_bytes() == theirs
        fresh = c.open()  # reloading shows their version; the save then goes through
        assert "Third story, edited in a text editor" in json.dumps(fresh["doc"])
        assert c.api({**SAVE, "version": c.version})[0] == 200


def test_an_invalid_save_is_refused_with_the_error_at_its_field(root: Path) -> None:
    with serving(root) as c:
        c.open()
        status, answer = c.api(
            {"op": "save", "version": c.version, "changes": [["sections[1].items[1].url", "javascript:alert(1)"]]}
        )
        assert status == 422
        assert [p["key"] for p in answer["problems"]] == ["sections[1].items[1].url"]
        assert answer["problems"][0]["text"].startswith("issues/0005.yaml:16: sections[1].items[1].url: ")
    _unchanged(root)


def test_an_image_upload_is_checked_and_never_goes_through_a_symlink(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with serving(root) as c:
        c.open()
        token = {"X-Digest-Token": c.token, "Content-Type": "image/png"}
        assert c.request("POST", "/edit/5/image?name=x.png", PNG, {"Content-Type": "image/png"})[0] == 403
        status, body = c.request("POST", "/edit/5/image?name=../../Photo%20One.PNG", PNG, token)
        assert status == 200 and json.loads(body) == {"src": "images/photo-one.png"}
        assert (root / "images" / "photo-one.png").read_bytes() == PNG
        status, body = c.request("POST", "/edit/5/image?name=notes.png", b"not an image", token)
        assert status == 422 and "is not an image" in body.decode()
        big = {**token, "Content-Length": str(10_000_002)}
        status, body = c.request("POST", "/edit/5/image?name=big.png", b"", big)
        assert status == 413 and json.loads(body)["problems"][0]["message"] == images.too_large("big.png", 10_000_002)
        (root / "images" / "photo-one.png").unlink()
        (root / "images").rmdir()
        os.symlink(outside, root / "images")
        status, body = c.request("POST", "/edit/5/image?name=y.png", PNG, token)
        assert status == 422 and "is not a folder (a symbolic link?)" in body.decode()
    assert list(outside.iterdir()) == []
    _unchanged(root)


def test_an_uploaded_image_saved_into_an_item_is_previewed_under_images(root: Path) -> None:
    with serving(root) as c:
        assert c.open()["imageTypes"] == "image/jpeg,image/png,image/gif,image/webp"  # the upload's accept=""
        token = {"X-Digest-Token": c.token, "Content-Type": "application/octet-stream"}
        status, body = c.request("POST", "/edit/5/image?name=Tirana%20Square.png", PNG, token)
        assert status == 200 and json.loads(body) == {"src": "images/tirana-square.png"}
        # An item without an image: src alone is refused at its alt (no internal error), nothing written.
        change = [["sections[1].items[1].image.src", "images/tirana-square.png"]]
        status, answer = c.api({"op": "save", "version": c.version, "changes": change})
        assert status == 422, answer
        assert [(p["key"], p["message"]) for p in answer["problems"]] == [
            ("sections[1].items[1].image", "missing required key 'alt'")
        ]
        _unchanged(root)
        change = [["sections[1].items[2].image.src", "images/tirana-square.png"]]
        status, answer = c.api({"op": "save", "version": c.version, "changes": change})
        assert status == 200, answer
        published = images.published_name(PNG, "png")  # images/<hash of the bytes>.png
        # The editor shows it beside its field, as the site publishes it; a URL's image is not loaded.
        shown = f'<img src="/{published}" alt="A photo" width="1" height="1">'
        assert answer["state"]["previews"]["sections[1].items[2].image.src"] == shown
        assert c.open()["previews"]["sections[1].items[2].image.src"] == shown
        for page in ("/preview/5/email.html", "/issues/5/"):
            status, html = c.request("GET", page)
            assert status == 200 and f'src="/{published}"'.encode() in html, page
        status, served = c.request("GET", f"/{published}")
        assert status == 200 and served == publish(PNG, (1, 1), "png")
        assert c.request("GET", "/images/tirana-square.png")[0] == 404  # the source is not the site
    assert changed(ISSUE.read_text(encoding="utf-8"), (root / REL).read_text(encoding="utf-8")) == (
        ["        image: {src: https://example.org/a.jpg, alt: A photo}"],
        ["        image: {src: images/tirana-square.png, alt: A photo}"],
    )


def test_read_only_has_no_editor(root: Path) -> None:
    with serving(root, "--read-only") as c:
        status, index = c.request("GET", "/")
        assert status == 200 and b"/edit/5/" not in index
        assert c.request("GET", "/edit/5/")[0] == 404
        assert c.request("GET", "/__digest__/editor.js")[0] == 404
        status, _ = c.request("POST", "/edit/5/api", b"{}", {"Content-Type": "application/json"})
        assert status == 403
    _unchanged(root)


def test_structure_operations_over_http(root: Path) -> None:
    with serving(root) as c:
        c.open()
        steps = [
            {"op": "move", "path": "sections[1].items[3]", "to": "sections[2].items", "index": 0},
            {"op": "delete", "path": "sections[1].items[1]"},
            {"op": "add_item", "list": "sections[2].items"},
            {"op": "add_section", "list": "sections", "title": "Events"},
        ]
        for step in steps:
            status, answer = c.api({**step, "version": c.version})
            assert status == 200, answer
            c.version = answer["state"]["version"]
        doc = answer["state"]["doc"]
    assert [s["title"] for s in doc["sections"]] == ["Top stories", "Elsewhere", "Events"]
    assert [i["title"] for i in doc["sections"][1]["items"]] == ["Third story", "Elsewhere item", "New item"]
    assert [i["title"] for i in doc["sections"][0]["items"]] == ["Second story"]


def test_a_stale_client_is_told_to_reload(root: Path) -> None:
    with serving(root) as c:
        c.open()
        other = Client(c.port)
        other.open()
        assert c.api({**SAVE, "version": c.version})[0] == 200
        status, answer = other.api({"op": "delete", "path": "sections[1].items[1]", "version": other.version})
        assert status == 409
    assert b"Open data law passes" in (root / REL).read_bytes()


def test_add_link_collect_new_issue_and_publish_over_http(tmp_path: Path) -> None:
    from webserver import serve as web_serve

    root = editor_newsletter(tmp_path / "news")
    for web in web_serve():
        feed = web.file("/feed.xml", "atom.xml", "application/atom+xml")
        missing = web.url("/gone")
        with (root / "config.yaml").open("a", encoding="utf-8") as f:
            f.write(f"sources:\n  - url: {feed}\n")
        with serving(root) as c:
            c.open()
            status, answer = c.api({"op": "add_link", "url": missing, "section": "sections[2]", "version": c.version})
            assert status == 422 and answer["problems"][0]["message"].startswith(missing)
            assert answer["problems"][0]["message"].endswith("; nothing was written")
            status, answer = c.api({"op": "collect", "version": c.version})
            assert status == 200, answer
            assert answer["report"][0].startswith("note: no issue is published yet")
            assert answer["report"][1].startswith(f"{feed}: added 0, skipped ")
            c.version = answer["state"]["version"]
            status, answer = c.api({"op": "publish", "date": "2026-04-03", "version": c.version})
            assert status == 200, answer
            assert answer["state"]["doc"]["draft"] is False and answer["state"]["doc"]["date"] == "2026-04-03"
            assert isinstance(answer["blockers"], list)
            status, answer = c.api({"op": "new_issue"})
            assert (status, answer) == (200, {"location": "/edit/6/"})
            assert c.open(6)["doc"]["draft"] is True
    text = (root / REL).read_text(encoding="utf-8")
    assert "draft: false" in text and "date: 2026-04-03   # the Friday it goes out" in text
    assert (root / "issues" / "0006.yaml").exists()


def test_the_page_loads_nothing_from_elsewhere_and_cannot_be_framed(root: Path) -> None:
    import http.client

    with serving(root) as c:
        conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=60)
        conn.request("GET", "/edit/5/")
        response = conn.getresponse()
        response.read()
        conn.close()
    policy = response.getheader("Content-Security-Policy") or ""
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "img-src 'self'" in policy
    assert response.getheader("X-Frame-Options") == "DENY"


@pytest.mark.parametrize(
    "payload",
    [
        {"op": "save", "changes": "title"},
        {"op": "save", "changes": [["title"]]},
        {"op": "save", "changes": [["sections[0].title", "x"]]},
        {"op": "save", "changes": [["sections[1].items[99].title", "x"]]},
        {"op": "save", "changes": [["title", {"a": 1}]]},
        {"op": "save", "changes": [["sections[1].items[1].__class__", "x"]]},
        {"op": "move", "path": "sections[1].items[1]", "to": "sections[1].items[1].x", "index": 0},
        {"op": "move", "path": "sections[1]", "to": "sections[1].sections", "index": 0},
        {"op": "move", "path": "sections[1].items[1]", "to": "sections[2].items", "index": -1},
        {"op": "add_item", "list": "sections[1].items", "fields": {"title": ["x"]}},
        {"op": "add_item", "list": "sections[1].items", "index": "first"},
        {"op": "delete", "path": "sections"},
        {"op": "delete", "path": "title"},
        {"op": "format_disk"},
        {"op": "add_link", "url": "javascript:alert(1)"},
        {"op": "add_link", "url": "file:///etc/passwd"},
        {"op": "commit", "message": "x"},
    ],
)
def test_malformed_and_hostile_requests_change_nothing(root: Path, payload: dict[str, object]) -> None:
    with serving(root) as c:  # serving() fails the test on a traceback in the server's log
        c.open()
        status, answer = c.api({**payload, "version": c.version})
        assert status in (400, 409, 422), answer
        assert answer["problems"]
    _unchanged(root)


def test_no_page_answers_a_rebound_host(root: Path) -> None:
    with serving(root, "--read-only") as c:  # the preview alone, drafts included
        for path in ("/", "/preview/5/", "/preview/5/email.html", "/issues/5/email.html"):
            assert c.request("GET", path)[0] in (200, 301), path
            status, body = c.request("GET", path, headers={"Host": f"rebound.example:{c.port}"})
            assert status == 403 and b"Week five" not in body, path
        assert c.request("GET", "/", headers={"Host": f"localhost:{c.port}"})[0] == 200
