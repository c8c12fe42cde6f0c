"""The editor in a real browser (Debian's Chromium driven by Playwright), used as an editor would.

On a git copy of the editor's fixture (comments, blank lines, every scalar style): add a link
from a local HTTP server, edit a summary, move an item to another section, delete one, upload
an image, publish, commit.  After each step the change to the YAML file is exactly that
step's lines.  Then: a page of a second local server posting to the editor (refused, file
unchanged), right-to-left fields on the Persian example, and axe-core on the editor's page.

Without /usr/bin/chromium these tests skip, unless DIGEST_REQUIRE_BROWSER=1 (CI) makes them
fail; the axe-core test needs .ci/axe (installed by .ci/run) and likewise skips unless
DIGEST_REQUIRE_AXE=1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run
from editorkit import REL, changed, editor_newsletter, serving
from test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_available  # noqa: F401 - skips without Chromium
from webserver import Web, serve

from digest.core import images

pytestmark = pytest.mark.slow  # browser tests (Chromium): the fast tier is -m 'not slow'

TIMEOUT_MS = 20_000  # a hang guard, not a performance requirement
AXE = REPO / ".ci" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def web() -> Iterator[Web]:
    yield from serve()


def _tab(browser: Any, base: str, bypass_csp: bool = False) -> Any:
    """A tab that reaches only the editor's server (the email's remote images get nothing); ``bypass_csp``
    lets a test inject a script (axe-core) into the editor's page, whose policy allows only its own."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, service_workers="block", bypass_csp=bypass_csp
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort("blockedbyclient"))
    return context


class Steps:
    """The issue file between the steps of a session: each step's change, exactly."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = path.read_text(encoding="utf-8")

    def change(self) -> tuple[list[str], list[str]]:
        now = self.path.read_text(encoding="utf-8")
        removed, added = changed(self.text, now)
        self.text = now
        return removed, added


def _saved(page: Any) -> None:
    page.wait_for_function("() => document.getElementById('status').textContent === 'Saved'")


def test_an_editor_makes_next_weeks_issue(browser: Any, tmp_path: Path, web: Web) -> None:
    root = editor_newsletter(tmp_path / "news", git=True)
    link = web.file("/story", "og.html", "text/html; charset=utf-8")
    steps = Steps(root / REL)
    with serving(root) as c:
        base = f"http://127.0.0.1:{c.port}/"
        context = _tab(browser, base)
        try:
            page = context.new_page()
            page.goto(base)
            page.get_by_role("link", name="Edit").click()
            page.wait_for_url(base + "edit/5/")

            # Add link: fetched as `digest add` does, appended to the chosen section.
            page.get_by_label("Link to add").fill(link)
            page.get_by_label("Into section").select_option(label="Top stories")
            page.get_by_role("button", name="Add link").click()
            page.wait_for_function("() => document.getElementById('report').textContent.startsWith('added')")
            removed, added = steps.change()
            assert removed == []
            assert added[0].startswith("      - title: 'Open data law passes: the “first” vote")
            assert all(line.startswith("        ") for line in added[1:]), added

            # Edit a summary: saved as it is typed; one line changes.
            page.get_by_label("Summary", exact=True).nth(1).fill("Short, plain and *edited*.")
            _saved(page)
            assert steps.change() == (
                ["        summary: Short and plain."],
                ["        summary: Short, plain and *edited*."],
            )
            assert "<em>edited</em>" in page.inner_html('[id="p:sections[1].items[2].summary"]')
            email = page.frame_locator("#email")  # the email beside the form is the saved one
            email.locator("text=Short, plain and").first.wait_for()

            # Move an item to another section: its lines, with its comment, re-indented.
            page.locator('[id="m:sections[1].items[1]"]').select_option(label="Elsewhere")
            page.locator('[data-path="sections[1].items[1]"]').get_by_role("button", name="Move to section").click()
            page.wait_for_selector('[data-path="sections[2].items[2]"] >> text=Item 2: Open data law passes')
            removed, added = steps.change()
            assert [line.strip() for line in removed if line] == [line.strip() for line in added if line]
            assert "# first: the law" in [line.strip() for line in added]

            # Move down with the keyboard: the focus follows the item.
            page.locator('[data-path="sections[1].items[1]"]').get_by_role("button", name="Move down").focus()
            page.keyboard.press("Enter")
            page.wait_for_function(
                "() => document.activeElement.textContent === 'Move down' &&"
                " document.activeElement.closest('[data-path]').dataset.path === 'sections[1].items[2]'"
            )
            removed, added = steps.change()
            assert sorted(line for line in removed if line) == sorted(line for line in added if line) and removed

            # Delete one: only its lines go.
            assert page.text_content('[data-path="sections[1].items[1]"] legend') == "Item 1: Third story"
            page.locator('[data-path="sections[1].items[1]"]').get_by_role("button", name="Delete item").click()
            page.wait_for_selector('[data-path="sections[1].items[3]"]', state="detached")
            removed, added = steps.change()
            assert added == [] and "      - title: Third story" in removed

            # Upload an image: written into images/, its path put into the item's image field and saved
            # (the item has alt text already).
            accept = page.get_by_label("Upload image").first.get_attribute("accept")
            assert accept == "image/jpeg,image/png,image/gif,image/webp"
            page.get_by_label("Upload image").first.set_input_files(
                files=[{"name": "Tirana Square.png", "mimeType": "image/png", "buffer": PNG}]
            )
            src = '[id="f:sections[1].items[1].image.src"]'
            page.wait_for_function(f"() => document.querySelector('{src}').value === 'images/tirana-square.png'")
            _saved(page)
            assert (root / "images" / "tirana-square.png").read_bytes() == PNG
            thumb = '[id="p:sections[1].items[1].image.src"] img'
            page.wait_for_function(f"() => document.querySelector('{thumb}')?.naturalWidth === 1")
            assert steps.change() == (
                ["        image: {src: https://example.org/a.jpg, alt: A photo}"],
                ["        image: {src: images/tirana-square.png, alt: A photo}"],
            )

            # Publish: draft: false, then the pre-send gate lists what blocks sending.
            page.get_by_role("button", name="Publish").click()
            page.wait_for_function("() => document.getElementById('blockers').textContent !== ''")
            removed, added = steps.change()
            assert (removed, added) == (["draft: true"], ["draft: false"])

            # Commit: the issue file and images/, with the default message.
            page.wait_for_function(
                "() => document.getElementById('commit-message').value.startsWith('Issue 5: publish')"
            )
            message = page.input_value("#commit-message")
            page.get_by_role("button", name="Commit").click()
            page.wait_for_function("() => document.getElementById('commit-report').textContent.includes('Committed')")
        finally:
            context.close()
    log = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%s"], capture_output=True, text=True).stdout
    assert log.strip() == message
    assert message == "Issue 5: publish, add 1 link, remove 1, move 1, edit 1, add 1 image"
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout
    assert status == ""
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    page_html = (root / "site" / "issues" / "5" / "index.html").read_text()
    assert "Short, plain and <em>edited</em>." in page_html
    # The uploaded image is published under its content's hash, and the page shows that file.
    name = hashlib.sha256(images.VERSION + PNG).hexdigest()[: images.HASH_CHARS] + ".png"
    assert sorted(p.name for p in (root / "site" / "images").iterdir()) == [name]
    assert re.search(rf'<img [^>]*src="[^"]*\bimages/{name}"', page_html), page_html


class _Attacker(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:  # noqa: N802 - the http.server interface
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


def test_a_page_of_another_origin_cannot_change_anything(browser: Any, tmp_path: Path) -> None:
    root = editor_newsletter(tmp_path / "news")
    before = (root / REL).read_bytes()
    with serving(root) as c:
        api = f"http://127.0.0.1:{c.port}/edit/5/api"
        body = '{"op":"save","version":"","changes":[["title","pwned"]]}'
        _Attacker.page = f"""<!doctype html><title>elsewhere</title>
<form id="f" method="post" action="{api}" enctype="text/plain"><input name='{body[:-1]}' value='}}'></form>
<script>
var results = [];
fetch("{api}", {{method: "POST", mode: "no-cors", body: '{body}'}}).then(
  function () {{ results.push("no-cors sent"); }}, function () {{ results.push("no-cors failed"); }});
fetch("{api}", {{method: "POST", headers: {{"Content-Type": "application/json", "X-Digest-Token": "guess"}},
  body: '{body}'}}).then(function () {{ results.push("read"); }}, function () {{ results.push("blocked"); }});
fetch("http://127.0.0.1:{c.port}/edit/5/").then(function (r) {{ return r.text(); }}).then(
  function () {{ results.push("page read"); }}, function () {{ results.push("page blocked"); }});
setTimeout(function () {{ window.done = results; }}, 1500);
</script>""".encode()
        attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
        threading.Thread(target=attacker.serve_forever, daemon=True).start()
        context = browser.new_context(service_workers="block")
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
            results = page.wait_for_function("() => window.done").json_value()
            assert "page read" not in results and "read" not in results
            with page.expect_navigation():  # a form needs no script and no CORS: it is refused by the server
                page.evaluate("document.getElementById('f').submit()")
            assert "the request comes from another origin" in page.content()
        finally:
            context.close()
            attacker.shutdown()
            attacker.server_close()
    assert (root / REL).read_bytes() == before


def test_persian_fields_are_right_to_left_and_a_save_changes_one_line(browser: Any, tmp_path: Path) -> None:
    root = tmp_path / "persian"
    shutil.copytree(REPO / "examples" / "persian", root)
    path = root / "issues" / "0264.yaml"
    before = path.read_text(encoding="utf-8")
    with serving(root) as c:
        base = f"http://127.0.0.1:{c.port}/"
        context = _tab(browser, base)
        try:
            page = context.new_page()
            page.goto(base + "edit/264/")
            summary = page.locator('[id="f:sections[1].items[1].summary"]')
            assert summary.evaluate("e => getComputedStyle(e).direction") == "rtl"
            assert (
                page.locator('[id="f:sections[1].items[1].url"]').evaluate("e => getComputedStyle(e).direction")
                == "ltr"
            )
            assert page.locator('[id="f:title"]').evaluate("e => getComputedStyle(e).direction") == "rtl"
            summary.fill("خلاصه‌ای تازه برای این مطلب.")
            _saved(page)
            removed, added = changed(before, path.read_text(encoding="utf-8"))
            assert len(added) == 1 and added[0] == "          خلاصه‌ای تازه برای این مطلب."
            assert len(removed) == 2  # the folded summary's two lines, now one

            # An image with a Persian name keeps it; its path is left to right, its alt text right to left.
            before = path.read_text(encoding="utf-8")
            src, alt = (page.locator(f'[id="f:sections[1].items[1].image.{k}"]') for k in ("src", "alt"))
            assert [e.evaluate("e => getComputedStyle(e).direction") for e in (src, alt)] == ["ltr", "rtl"]
            page.get_by_label("Upload image").first.set_input_files(
                files=[{"name": "عکسِ میدان.png", "mimeType": "image/png", "buffer": PNG}]
            )
            page.wait_for_function("() => document.activeElement.id === 'f:sections[1].items[1].image.alt'")
            assert src.input_value() == "images/عکس-میدان.png"
            alt.fill("میدان اسکندربیگ")
            _saved(page)
            thumb = '[id="p:sections[1].items[1].image.src"] img'
            page.wait_for_function(f"() => document.querySelector('{thumb}')?.naturalWidth === 1")
        finally:
            context.close()
    assert (root / "images" / "عکس-میدان.png").read_bytes() == PNG
    removed, added = changed(before, path.read_text(encoding="utf-8"))
    assert removed == [] and [line.strip() for line in added] == [
        "image: {src: images/عکس-میدان.png, alt: میدان اسکندربیگ}"
    ]


def test_axe_finds_no_violations_on_the_editor_page(browser: Any, tmp_path: Path) -> None:
    if not AXE.exists():
        if os.environ.get("DIGEST_REQUIRE_AXE") == "1":
            pytest.fail(f"{AXE} is missing, but DIGEST_REQUIRE_AXE=1 requires the accessibility check to run")
        pytest.skip(f"{AXE} is not installed (.ci/run installs npm's axe-core there)")
    root = editor_newsletter(tmp_path / "news", git=True)
    with serving(root) as c:
        base = f"http://127.0.0.1:{c.port}/"
        context = _tab(browser, base, bypass_csp=True)
        try:
            page = context.new_page()
            page.goto(base + "edit/5/")
            page.wait_for_selector('[id="f:title"]')
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate(
                "() => axe.run(document, {exclude: [['#email']]}).then(r => r.violations.map("
                "v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')))"
            )
        finally:
            context.close()
    assert violations == []


def test_errors_show_at_their_field_and_drag_moves_an_item(browser: Any, tmp_path: Path) -> None:
    root = editor_newsletter(tmp_path / "news")
    path = root / REL
    before = path.read_text(encoding="utf-8")
    with serving(root) as c:
        base = f"http://127.0.0.1:{c.port}/"
        context = _tab(browser, base)
        try:
            page = context.new_page()
            page.goto(base + "preview/5/")
            page.get_by_role("link", name="Edit").click()
            page.get_by_label("Save as you type").uncheck()
            url = page.get_by_label("URL").first
            url.fill("javascript:alert(1)")
            page.get_by_role("button", name="Save").click()
            page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Not saved')")
            error = page.text_content('[id="e:sections[1].items[1].url"]')
            assert error is not None and error.startswith("Error: ") and "javascript:" in error
            assert url.get_attribute("aria-invalid") == "true"
            assert path.read_text(encoding="utf-8") == before  # nothing written
            url.fill("https://example.org/open-data")  # as it was: the save writes nothing, the error goes
            page.get_by_role("button", name="Save").click()
            _saved(page)
            assert page.text_content('[id="e:sections[1].items[1].url"]') == ""
            assert path.read_text(encoding="utf-8") == before

            # Drag the third item by its handle onto the first: it goes before it.
            page.set_viewport_size({"width": 1400, "height": 4000})  # both items on screen while dragging
            page.drag_and_drop(
                '[data-path="sections[1].items[3]"] .handle', '[data-path="sections[1].items[1]"] legend'
            )
            page.wait_for_function(
                "() => document.querySelector('[data-path=\"sections[1].items[1]\"] legend').textContent"
                " === 'Item 1: Third story'"
            )
            removed, added = changed(before, path.read_text(encoding="utf-8"))
            assert sorted(line for line in removed if line) == sorted(line for line in added if line)
            assert "      - title: Third story" in added

            # Someone edits the file meanwhile: the next save is refused, theirs stays, Reload shows it.
            theirs = path.read_text(encoding="utf-8").replace("Second story", "Second story (theirs)")
            path.write_text(theirs, encoding="utf-8")
            page.get_by_label("Title", exact=True).first.fill("Week five, mine")
            page.get_by_role("button", name="Save").click()
            page.wait_for_selector("#conflict:not([hidden])")
            assert "changed on disk since it was read" in page.text_content("#conflict-text")
            assert path.read_text(encoding="utf-8") == theirs
            page.get_by_role("button", name="Reload").click()
            page.wait_for_selector("text=Item 3: Second story (theirs)")
            assert page.input_value('[id="f:title"]') == "Week five"
        finally:
            context.close()
    assert path.read_text(encoding="utf-8") == theirs


def test_the_keyboard_alone_reaches_every_control_and_edits(browser: Any, tmp_path: Path) -> None:
    root = editor_newsletter(tmp_path / "news", git=True)
    path = root / REL
    before = path.read_text(encoding="utf-8")
    with serving(root) as c:
        base = f"http://127.0.0.1:{c.port}/"
        context = _tab(browser, base)
        try:
            page = context.new_page()
            page.goto(base + "edit/5/")
            page.wait_for_selector('[id="f:title"]')
            controls = "a[href], button:not([disabled]), input, select, textarea"
            count = page.locator(controls).count()
            for _ in range(count + 40):  # once round the page (the email's frame holds a few links of its own)
                page.keyboard.press("Tab")
                page.evaluate("() => document.activeElement && (document.activeElement.dataset.reached = '1')")
            missed = page.evaluate(
                f"() => [...document.querySelectorAll('{controls}')].filter(e => e.offsetParent !== null &&"
                " !e.dataset.reached).map(e => e.id || e.textContent)"
            )
            assert missed == []

            def tab_to(condition: str) -> None:
                for _ in range(count + 40):
                    page.keyboard.press("Tab")
                    if page.evaluate(condition):
                        return
                pytest.fail(f"Tab never reached {condition}")

            page.locator("#save").focus()
            tab_to("() => document.activeElement.id === 'f:sections[1].items[2].summary'")
            page.keyboard.press("Control+A")
            page.keyboard.type("Typed with the keyboard.")
            _saved(page)
            tab_to("() => document.activeElement.textContent === 'Move up'")
            page.keyboard.press("Enter")
            page.wait_for_function(  # at the top, Move up is disabled: the focus is on Move down
                "() => document.activeElement.textContent === 'Move down' &&"
                " document.activeElement.closest('[data-path]').dataset.path === 'sections[1].items[1]'"
            )
        finally:
            context.close()
    removed, added = changed(before, path.read_text(encoding="utf-8"))
    assert "        summary: Typed with the keyboard." in added
    assert [line for line in added if "title:" in line] == ["      - title: Second story"]


HOSTILE = "</script><script>window.pwned=1</script><img src=x onerror=window.pwned=2> & \u202eevil"


def test_hostile_text_is_shown_as_text_and_runs_nothing(browser: Any, tmp_path: Path) -> None:
    root = editor_newsletter(tmp_path / "news")
    path = root / REL
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Second story", f"title: {json.dumps(HOSTILE)}"), encoding="utf-8")
    with serving(root) as c:
        base = f"http://127.0.0.1:{c.port}/"
        context = _tab(browser, base)
        requests: list[str] = []
        # The editor's own requests (the email in its frame shows the items' images, as the preview does).
        context.on("request", lambda r: requests.append(r.url) if r.frame.parent_frame is None else None)
        try:
            page = context.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(base + "edit/5/")
            field = page.locator('[id="f:sections[1].items[2].title"]')
            assert field.input_value() == HOSTILE
            assert HOSTILE in (page.text_content('[data-path="sections[1].items[2]"] legend') or "")
            field.fill(HOSTILE + " <b>again</b>")
            _saved(page)
            assert page.evaluate("() => window.pwned") is None and dialogs == []
            preview = page.inner_html('[id="p:sections[1].items[2].title"]')
            assert "<img" not in preview and "&lt;img" in preview
        finally:
            context.close()
    assert all(url.startswith(base) for url in requests), requests
