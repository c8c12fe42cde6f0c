"""The built pages in a real browser (Debian's Chromium driven by Playwright).

The model site's four editions are built and served with digest's own preview server on
127.0.0.1: the English example newsletter at the repository root, the right-to-left
examples/arabic and examples/persian, and examples/albanian; with them the golden fixture
(the issue with every field, hostile text and mixed scripts), and the golden fixture again
with one issue per archive page ("paged": its archive pages only).  Every archive page,
issue web page and email.html is opened at 375 px and 1024 px.

Without /usr/bin/chromium these tests skip, unless DIGEST_REQUIRE_BROWSER=1 (CI) makes
them fail instead.  Screenshots go to each test's tmp_path.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import GOLDEN_SRC, REPO, run
from siteserver import make_server

from digest.core.config import load_config
from digest.core.i18n import strings_for
from digest.core.models import Config, Issue
from digest.core.plaintext import title_text
from digest.pipeline.build import render_one

pytestmark = pytest.mark.slow  # browser tests (Chromium): the fast tier is -m 'not slow'

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NARROW, WIDE = 375, 1024
HEIGHT = 800
TIMEOUT_MS = 20_000  # a hang guard, not a performance requirement

# A 1x1 PNG: what every external content image is answered with.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

# edition -> the folder holding its config.yaml and issues/ (and templates/, if any)
SOURCES = {
    "example": REPO,
    "arabic": REPO / "examples" / "arabic",
    "persian": REPO / "examples" / "persian",
    "albanian": REPO / "examples" / "albanian",
    "golden": GOLDEN_SRC,
    "paged": GOLDEN_SRC,
}
# Added to an edition's config.yaml when it is built; such an edition's pages are its archive pages.
EXTRA_CONFIG = {"paged": "archive:\n  per_page: 1\n"}
ARCHIVE_PAGES = {"paged": 2}  # two published issues


def _issue_numbers(source: Path) -> list[int]:
    return sorted(int(p.stem) for p in (source / "issues").glob("*.yaml"))


def _pages() -> list[tuple[str, str]]:
    """(edition, page) for every page: "archive", "archive-<k>", "web-<n>", "email-<n>"."""
    pages = []
    for name, source in SOURCES.items():
        pages.append((name, "archive"))
        pages += [(name, f"archive-{k}") for k in range(2, ARCHIVE_PAGES.get(name, 1) + 1)]
        if name in EXTRA_CONFIG:
            continue
        for n in _issue_numbers(source):
            pages += [(name, f"web-{n}"), (name, f"email-{n}")]
    return pages


PAGES = _pages()
EMAILS = [(e, p) for e, p in PAGES if p.startswith("email-")]


# --- the browser ------------------------------------------------------------------------


def _unavailable(reason: str) -> None:
    if os.environ.get("DIGEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, but DIGEST_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    """Skip (or, under DIGEST_REQUIRE_BROWSER=1, fail) before any site is built."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


# --- the sites --------------------------------------------------------------------------


@dataclass
class Edition:
    name: str
    config: Config
    issues: dict[int, Issue]
    site: Path
    base: str  # http://127.0.0.1:PORT/
    # The https images the newsletter's own sources name (items and the logo).  With the
    # theme's icon (the favicon, which browsers fetch as a request of type "other"), the only
    # requests a page may make beyond the local server.
    images: set[str] = field(default_factory=set)

    def local(self, page: str) -> str:
        """The served URL of a page id."""
        if page == "archive":
            return self.base
        kind, n = page.split("-")
        if kind == "archive":
            return self.base + f"page/{n}/"
        slug = self.issues[int(n)].slug
        return self.base + (f"issues/{slug}/" if kind == "web" else f"issues/{slug}/email.html")

    def served(self, public_url: str) -> str:
        """The local URL of a published URL under config.url."""
        assert public_url.startswith(self.config.url), public_url
        return self.base + public_url[len(self.config.url) :]


@pytest.fixture(scope="module")
def editions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Edition]]:
    """Build each edition from a private copy and serve its site/ on 127.0.0.1."""
    servers = []
    found: dict[str, Edition] = {}
    try:
        for name, source in SOURCES.items():
            root = tmp_path_factory.mktemp(name)
            shutil.copy2(source / "config.yaml", root / "config.yaml")
            with open(root / "config.yaml", "a", encoding="utf-8") as config_file:
                config_file.write(EXTRA_CONFIG.get(name, ""))
            for sub in ("issues", "templates", "images"):
                if (source / sub).is_dir():
                    shutil.copytree(source / sub, root / sub)
            result = run("build", "--root", str(root))
            assert result.exit_code == 0, result.output
            config = load_config(root)
            issues = [render_one(config, n)[0] for n in _issue_numbers(root)]
            _add_drafts(root, [i.number for i in issues if i.draft])
            server = make_server(root / "site", "127.0.0.1", 0)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            images = {i.image.src for issue in issues for i in issue.items if i.image}
            if config.theme.logo:
                images.add(config.theme.logo.src)
            assert all(src.startswith("https://") for src in images), images
            found[name] = Edition(
                name,
                config,
                {i.number: i for i in issues},
                root / "site",
                f"http://127.0.0.1:{server.server_address[1]}/",
                images,
            )
        yield found
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _add_drafts(root: Path, drafts: list[int]) -> None:
    """Drafts are never published: their pages are taken from the preview (the same pipeline,
    in memory) into the served folder, so that they are looked at in the browser too."""
    from digest.preview.site import PreviewSite

    preview = PreviewSite(root)
    preview.reload()
    for n in drafts:
        (root / "site" / "issues" / str(n)).mkdir(parents=True)
        for name in ("email.html", "email.txt", "index.html"):
            data = preview.file(f"issues/{n}/{name}")
            assert data is not None, (n, name, preview.errors())
            (root / "site" / "issues" / str(n) / name).write_bytes(data)


@dataclass
class Visit:
    page: Any
    external: list[str] = field(default_factory=list)  # requests that were blocked
    pixels: list[str] = field(default_factory=list)  # content images answered locally
    failed: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def _router(state: dict[str, Any]) -> Any:
    def route(r: Any) -> None:
        v, ed = state["visit"], state["edition"]
        url = r.request.url
        if ed is not None and url.startswith(ed.base):
            r.continue_()
        elif ed is not None and (
            r.request.resource_type == "image" and url in ed.images or url == ed.config.theme.icon
        ):
            v.pixels.append(url)
            r.fulfill(status=200, content_type="image/png", body=PIXEL)
        else:
            if v is not None:
                v.external.append(f"{r.request.resource_type} {url}")
            r.abort("blockedbyclient")

    return route


def _listen(page: Any, state: dict[str, Any]) -> None:
    """Record failures, error statuses and console errors into the current visit."""

    def record(kind: str, text: str) -> None:
        if state["visit"] is not None:
            getattr(state["visit"], kind).append(text)

    page.on("requestfailed", lambda r: record("failed", f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and record("bad_status", f"{r.status} {r.url}"))
    page.on("console", lambda m: m.type == "error" and record("console_errors", m.text))
    page.on("pageerror", lambda e: record("console_errors", f"uncaught: {e}"))


@pytest.fixture(scope="module")
def tabs(browser: Any) -> Iterator[dict[int, tuple[Any, dict[str, Any]]]]:
    """One tab per viewport width, reused by every test (a new tab costs a renderer process).

    Each tab's context routes every request: to the local server it goes through; to one of
    the edition's own https content images it gets PIXEL; anything else is blocked and recorded.
    """
    tabs: dict[int, tuple[Any, dict[str, Any]]] = {}
    for width in (NARROW, WIDE):
        context = browser.new_context(viewport={"width": width, "height": HEIGHT}, service_workers="block")
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        state: dict[str, Any] = {"visit": None, "edition": None}
        context.route("**/*", _router(state))
        _listen(page, state)
        tabs[width] = (page, state)
    yield tabs
    for page, _ in tabs.values():
        page.context.close()


@pytest.fixture
def visit(tabs: dict[int, tuple[Any, dict[str, Any]]]) -> Iterator[Any]:
    """visit(edition, url, width) -> Visit: the page loaded, with lazy images loaded too."""
    used = []

    def open_page(edition: Edition, url: str, width: int) -> Visit:
        page, state = tabs[width]
        used.append(state)
        v = Visit(page)
        state["visit"], state["edition"] = v, edition
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        # Bring each (lazy) image into view in turn and wait until it has loaded or failed,
        # so that every request the page would make is made.
        for i in range(page.evaluate("document.images.length")):
            page.evaluate("i => document.images[i].scrollIntoView({block: 'center'})", i)
            page.wait_for_function("i => document.images[i].complete", arg=i)
        page.evaluate("window.scrollTo(0, 0)")
        return v

    yield open_page
    for state in used:
        state["visit"] = state["edition"] = None
    for page, _ in tabs.values():
        page.goto("about:blank")


# --- every page -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [NARROW, WIDE])
@pytest.mark.parametrize(("edition", "page_id"), PAGES)
def test_page_is_self_contained_clean_and_fits(
    editions: dict[str, Edition], visit: Any, edition: str, page_id: str, width: int, tmp_path: Path
) -> None:
    ed = editions[edition]
    v = visit(ed, ed.local(page_id), width)
    v.page.screenshot(path=str(tmp_path / f"{edition}-{page_id}-{width}.png"), full_page=True)

    assert v.external == [], "the page loads something other than the local server and its content images"
    assert v.failed == []
    assert v.bad_status == []
    assert v.console_errors == []
    # Every image arrived (the content images as our 1x1 pixel): none is broken.
    broken = v.page.evaluate("Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)")
    assert broken == []

    without_alt = v.page.evaluate(
        "Array.from(document.images).filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.outerHTML)"
    )
    assert without_alt == []

    scroll_width = v.page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"{page_id} scrolls sideways at {width} px: content is {scroll_width} px wide"


def test_content_images_are_answered_locally(editions: dict[str, Edition], visit: Any) -> None:
    """The routing above works: the golden issue's image is requested and gets the pixel."""
    ed = editions["golden"]
    for page_id in ("web-7", "email-7"):
        v = visit(ed, ed.local(page_id), WIDE)
        assert "https://example.com/img/leap.png" in v.pixels
        sizes = v.page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert ["https://example.com/img/leap.png", 1] in sizes


# --- structure --------------------------------------------------------------------------


@pytest.mark.parametrize(("edition", "page_id"), PAGES)
def test_headings_do_not_skip_levels(editions: dict[str, Edition], visit: Any, edition: str, page_id: str) -> None:
    ed = editions[edition]
    v = visit(ed, ed.local(page_id), WIDE)
    levels = v.page.evaluate("Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6')).map(h => +h.tagName[1])")
    assert levels and levels[0] == 1, levels
    assert levels.count(1) == 1, levels
    skips = [(a, b) for a, b in zip(levels, levels[1:], strict=False) if b > a + 1]
    assert skips == [], f"heading levels {levels}"


# --- the email --------------------------------------------------------------------------

_HIDDEN_PREHEADER = """pre => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.data.trim().startsWith(pre)) {
      const el = n.parentElement;
      return {
        visible: el.checkVisibility({opacityProperty: true, visibilityProperty: true}),
        box: [el.getBoundingClientRect().width, el.getBoundingClientRect().height],
        inInnerText: document.body.innerText.includes(pre),
      };
    }
  }
  return null;
}"""


@pytest.mark.parametrize("width", [NARROW, WIDE])
@pytest.mark.parametrize(("edition", "page_id"), EMAILS)
def test_email_preheader_is_hidden(
    editions: dict[str, Edition], visit: Any, edition: str, page_id: str, width: int
) -> None:
    ed = editions[edition]
    issue = ed.issues[int(page_id.split("-")[1])]
    assert issue.preheader
    v = visit(ed, ed.local(page_id), width)
    found = v.page.evaluate(_HIDDEN_PREHEADER, issue.preheader)
    assert found is not None, "the preheader is not in the email"
    assert found["visible"] is False
    assert found["box"][0] * found["box"][1] == 0
    # A preheader written for the inbox only (not also the intro's opening words, as a
    # derived one is) must not show up in the reading text at all.
    plain_text = " ".join((ed.site / "issues" / issue.slug / "email.txt").read_text(encoding="utf-8").split())
    if issue.preheader not in plain_text:
        assert found["inInnerText"] is False


@pytest.mark.parametrize(("edition", "page_id"), EMAILS)
def test_email_links_to_its_web_version(editions: dict[str, Edition], visit: Any, edition: str, page_id: str) -> None:
    ed = editions[edition]
    issue = ed.issues[int(page_id.split("-")[1])]
    v = visit(ed, ed.local(page_id), NARROW)
    label = strings_for(ed.config.language)["view_in_browser"]
    hrefs = v.page.evaluate(
        "label => Array.from(document.links).filter(a => a.textContent.trim() === label).map(a => a.href)", label
    )
    assert hrefs == [issue.url]
    assert issue.url == f"{ed.config.url}issues/{issue.slug}/"
    # ... and that URL is this issue's web page in the built site.
    web = v.page.goto(ed.served(issue.url))
    assert web is not None and web.status == 200
    assert v.page.evaluate("document.querySelector('link[rel=canonical]').href") == issue.url
    assert v.page.evaluate("document.querySelector('h1').textContent.trim()") == issue.title


# --- text direction ---------------------------------------------------------------------


def _direction_of(text: str) -> str | None:
    """What dir="auto" gives ``text``: the direction of its first strong character."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return None


_DIRECTIONS = """text => Array.from(document.body.querySelectorAll('*'))
  .filter(el => el.textContent.trim() === text)
  .map(el => [el.tagName.toLowerCase(), getComputedStyle(el).direction])"""


@pytest.mark.parametrize(("edition", "page_id"), PAGES)
def test_text_runs_in_its_own_direction(editions: dict[str, Edition], visit: Any, edition: str, page_id: str) -> None:
    ed = editions[edition]
    v = visit(ed, ed.local(page_id), NARROW)
    page = v.page
    assert page.evaluate("document.documentElement.dir") == ed.config.direction
    assert page.evaluate("document.documentElement.lang") == ed.config.language
    assert page.evaluate("getComputedStyle(document.body).direction") == ed.config.direction

    if page_id.startswith("archive"):
        published = sorted((i for i in ed.issues.values() if not i.draft), key=lambda i: -i.number)
        k, size = int(page_id.partition("-")[2] or 1), ed.config.archive_per_page
        texts = [i.title for i in published[(k - 1) * size : k * size]]
    else:
        issue = ed.issues[int(page_id.split("-")[1])]
        # Titles are inline markdown: the page shows their text.
        sections = [*issue.sections, *(sub for s in issue.sections for sub in s.sections)]
        texts = [issue.title] + [title_text(s.title) for s in sections if s.title]
        texts += [title_text(i.title) for i in issue.items if i.title]
    checked = 0
    for text in texts:
        expected = _direction_of(text)
        if expected is None:
            continue
        found = page.evaluate(_DIRECTIONS, text)
        assert found, f"{text!r} is not on the page"
        assert all(d == expected for _, d in found), f"{text!r} should run {expected}: {found}"
        checked += 1
    assert checked


def test_arabic_edition_is_rtl_with_english_titles_ltr(editions: dict[str, Edition], visit: Any) -> None:
    """The case the edition exists for, spelled out: issue 263 in the Arabic edition."""
    ed = editions["arabic"]
    for page_id in ("web-263", "email-263"):
        page = visit(ed, ed.local(page_id), NARROW).page
        assert page.evaluate("document.documentElement.dir") == "rtl"
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        summary = "تحقيق إذاعي عن نحو ثلاثة آلاف عضو"
        assert (
            page.evaluate(
                "t => getComputedStyle([...document.querySelectorAll('p')].find(p =>"
                " p.textContent.includes(t))).direction",
                summary,
            )
            == "rtl"
        )
        title = page.get_by_role("heading", name="Who are Albania’s Iranian guests?")
        assert title.evaluate("h => getComputedStyle(h).direction") == "ltr"
        assert title.evaluate("h => h.getAttribute('dir')") == "auto"


def test_page_ids_cover_every_issue() -> None:
    # Guards the parametrization itself: a renamed example folder must not silently test nothing.
    assert {e for e, _ in PAGES} == set(SOURCES)
    assert ("arabic", "email-263") in PAGES and ("golden", "web-7") in PAGES and ("persian", "web-264") in PAGES
    assert ("albanian", "email-263") in PAGES and ("paged", "archive-2") in PAGES
    assert all(re.fullmatch(r"archive(-\d+)?|(web|email)-\d+", p) for _, p in PAGES)


@pytest.mark.parametrize("edition", ["example", "arabic", "persian", "albanian"])
def test_language_switcher_names_the_four_editions_and_the_share_links_load_nothing(
    editions: dict[str, Edition], visit: Any, edition: str
) -> None:
    ed = editions[edition]
    first = min(ed.issues)
    v = visit(ed, ed.local(f"web-{first}"), NARROW)
    names = v.page.evaluate(
        "Array.from(document.querySelectorAll('nav.editions a')).map(a => [a.textContent, a.lang, a.hreflang])"
    )
    assert names == [["English", "en", "en"], ["العربية", "ar", "ar"], ["فارسی", "fa", "fa"], ["Shqip", "sq", "sq"]]
    # Each language's name runs in its own direction, wherever it stands.
    dirs = v.page.evaluate(
        "Array.from(document.querySelectorAll('nav.editions a')).map(a => getComputedStyle(a).direction)"
    )
    assert dirs == ["ltr", "rtl", "rtl", "ltr"]
    shares = v.page.evaluate("Array.from(document.querySelectorAll('.share a')).map(a => a.href)")
    assert len(shares) == 5 and all(ed.issues[first].url.replace(":", "%3A").replace("/", "%2F") in h for h in shares)
    assert v.external == [] and v.page.evaluate("document.scripts.length") == 0


def test_archive_pages_link_each_other(editions: dict[str, Edition], visit: Any) -> None:
    ed = editions["paged"]
    v = visit(ed, ed.local("archive"), NARROW)
    older = v.page.evaluate("document.querySelector('nav.pages a[rel=next]').href")
    assert older == ed.config.url + "page/2/" == v.page.evaluate("document.querySelector('link[rel=next]').href")
    response = v.page.goto(ed.served(older))
    assert response is not None and response.status == 200
    assert v.page.evaluate("document.querySelector('nav.pages a[rel=prev]').href") == ed.config.url
    assert v.page.evaluate("document.querySelector('link[rel=canonical]').href") == older
    assert v.page.evaluate("document.querySelectorAll('ol.issues li').length") == 1


# --- `digest serve`: live reload in a real browser -----------------------------------------


LIVE_MARK = "digest serve: live reload"


def test_serve_reloads_open_pages_and_shows_a_failed_builds_errors(browser: Any, golden_root: Path) -> None:
    from test_server import HANG_GUARD, Serve, _serving_port

    issue = golden_root / "issues" / "0007.yaml"
    original = issue.read_text(encoding="utf-8")
    server = Serve("--root", str(golden_root), "--port", "0")
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        base = f"http://127.0.0.1:{_serving_port(server, golden_root)}/"
        # Only the preview server answers: the content's images are not this test's business.
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort("blockedbyclient"))
        page = context.new_page()
        page.goto(base + "issues/7/")
        assert page.text_content("h1") == "Leap day"

        def edit_until(text: str, condition: str) -> None:
            """Write the issue, then wait for the open page to reach ``condition`` on its own.
            The write is repeated every few seconds: an edit made before the watcher has
            started would otherwise go unseen."""
            deadline = time.monotonic() + HANG_GUARD
            while True:
                issue.write_text(text, encoding="utf-8")
                try:
                    page.wait_for_function(condition, timeout=3_000)
                    return
                except Exception:  # playwright's TimeoutError
                    if time.monotonic() > deadline:
                        pytest.fail(f"the page never reached {condition}; server stderr: {server.stderr}")

        revised = original.replace("title: Leap day\n", "title: Leap day, revised\n")
        edit_until(revised, "() => document.querySelector('h1').textContent === 'Leap day, revised'")

        # A broken edit: the page stays the last good version and shows the errors over it.
        edit_until(
            revised.replace("date: 2024-02-29", "date: 2024-02-30"),
            "() => !!document.getElementById('digest-serve-errors')",
        )
        errors = page.locator("#digest-serve-errors")
        assert errors.get_attribute("role") == "alert"
        assert (
            errors.text_content() == "The last build failed; this is the last good version.\n\n"
            "issues/0007.yaml:2: date: '2024-02-30' is not a valid date"
        )
        assert page.text_content("h1") == "Leap day, revised"

        edit_until(
            revised.replace("title: Leap day, revised\n", "title: Leap day, fixed\n"),
            "() => document.querySelector('h1').textContent === 'Leap day, fixed'",
        )
        assert page.locator("#digest-serve-errors").count() == 0
    finally:
        context.close()
        server.stop()
    assert not any("Traceback" in line for line in server.stderr), server.stderr
    assert not (golden_root / "site").exists()  # the preview renders into memory


# --- the preview page: the email as readers get it ------------------------------------------

ARTIFACTS = REPO / "tests" / "artifacts"  # git-ignored: screenshots to look at, kept after the run
LONG_URL = "https://example.com/" + "a-very-long-unbroken-path-segment" * 6


def _contrast(a: str, b: str) -> float:
    """WCAG contrast of two computed CSS colours ("rgb(r, g, b)")."""

    def lum(c: str) -> float:
        r, g, b = (int(x) / 255 for x in re.findall(r"\d+", c)[:3])
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def preview(browser: Any, golden_root: Path) -> Iterator[tuple[Any, str, Path, Any]]:
    """`digest serve` on a copy of the golden newsletter (with a long URL added), and a tab."""
    from test_server import Serve, _serving_port

    issue = golden_root / "issues" / "0007.yaml"
    text = issue.read_text(encoding="utf-8")
    issue.write_text(
        text.replace(
            "      - summary: >\n          A blurb-only item",
            f'      - summary: "See <{LONG_URL}>"\n      - summary: >\n          A blurb-only item',
        ),
        encoding="utf-8",
    )
    assert LONG_URL in issue.read_text(encoding="utf-8")
    server = Serve("--root", str(golden_root), "--port", "0")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        base = f"http://127.0.0.1:{_serving_port(server, golden_root)}/"
        context.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith(base)
                else (
                    r.fulfill(status=200, content_type="image/png", body=PIXEL)
                    if r.request.resource_type == "image"
                    else r.abort("blockedbyclient")
                )
            ),
        )
        yield context.new_page(), base, golden_root, server
    finally:
        context.close()
        server.stop()
    assert not any("Traceback" in line for line in server.stderr), server.stderr
    assert not (golden_root / "site").exists()


def _frame(page: Any, scheme: str = "") -> Any:
    """The frame once its email has loaded (the one for ``scheme``, if given: just after a
    switch the frame may still hold the previous email, or the blank document between the two)."""
    page.wait_for_function(
        "s => { const d = document.getElementById('frame').contentDocument; return d && d.readyState === 'complete' &&"
        " d.location.search.includes('scheme=' + s) && d.querySelector('h1'); }",
        arg=scheme,
    )
    return page.frame_locator("#frame")


def _set(page: Any, control: str) -> None:
    page.click(f'[data-set="{control}"]')
    assert page.get_attribute(f'[data-set="{control}"]', "aria-pressed") == "true"


def test_preview_loop_edit_break_fix_and_drafts(preview: tuple[Any, str, Path, Any]) -> None:
    from test_server import HANG_GUARD

    page, base, root, server = preview
    issue = root / "issues" / "0007.yaml"
    original = issue.read_text(encoding="utf-8")
    page.goto(base + "preview/7/")
    frame = _frame(page)
    assert frame.locator("h1").text_content() == "Leap day"

    def edit_until(text: str, condition: str) -> None:
        deadline = time.monotonic() + HANG_GUARD
        while True:
            issue.write_text(text, encoding="utf-8")
            try:
                page.wait_for_function(condition, timeout=3_000)
                return
            except Exception:  # playwright's TimeoutError; the first edit may precede the watcher
                if time.monotonic() > deadline:
                    pytest.fail(f"the preview never reached {condition}; server stderr: {server.stderr}")

    in_frame = (
        "() => { const d = document.getElementById('frame').contentDocument; const h = d && d.querySelector('h1');"
        " return h && h.textContent === %r; }"
    )
    _set(page, "w=320")
    _set(page, "scheme=dark")
    revised = original.replace("title: Leap day\n", "title: Leap day, revised\n")
    edit_until(revised, in_frame % "Leap day, revised")
    # The switches survive the reload.
    assert page.get_attribute('[data-set="w=320"]', "aria-pressed") == "true"
    assert page.get_attribute('[data-set="scheme=dark"]', "aria-pressed") == "true"

    edit_until(revised.replace("date: 2024-02-29", "date: 2024-02-30"), "() => !!document.getElementById('errors')")
    assert "issues/0007.yaml:2: date: '2024-02-30' is not a valid date" in page.text_content("#errors")
    assert _frame(page).locator("h1").text_content() == "Leap day, revised"  # the last good version
    # Any page opened now says so too.
    other = page.context.new_page()
    other.goto(base + "issues/6/")
    other.wait_for_selector("#digest-serve-errors")
    assert "issues/0007.yaml:2: date: '2024-02-30' is not a valid date" in other.text_content("#digest-serve-errors")
    other.close()

    edit_until(revised.replace("title: Leap day, revised\n", "title: Leap day, fixed\n"), in_frame % "Leap day, fixed")
    assert page.locator("#errors").count() == 0

    # A draft is listed first, marked, and previewable.
    page.goto(base)
    first = page.locator("ol.issues li").first
    assert first.get_attribute("data-number") == "8"
    assert first.locator(".badge.draft").text_content() == "Draft"
    first.locator("a").first.click()
    # The preview keeps its switches in the fragment (#w=375&scheme=light&view=email),
    # which it may write before or after the load event.
    page.wait_for_url(lambda url: url.split("#")[0] == base + "preview/8/")
    assert _frame(page).locator("h1").text_content() == "Not yet"


def test_preview_widths_dark_mode_and_screenshots(preview: tuple[Any, str, Path, Any]) -> None:
    page, base, _, _ = preview
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(base + "preview/7/")
    _frame(page)
    frame_doc = "() => document.getElementById('frame').contentDocument"
    scroll = (
        "() => { const d = document.getElementById('frame').contentDocument; return [d.scrollingElement.scrollWidth,"
        " d.documentElement.clientWidth]; }"
    )
    assert page.evaluate(f"() => !!({frame_doc})().body.textContent.includes({LONG_URL!r})")
    for width in (320, 375):
        _set(page, f"w={width}")
        page.wait_for_function(
            f"() => document.getElementById('frame').contentDocument.documentElement.clientWidth === {width}"
        )
        scroll_width, client = page.evaluate(scroll)
        assert client == width and scroll_width <= width, (
            f"the email scrolls sideways at {width} px: {scroll_width} px wide"
        )
    # Free resizing: dragging the frame's corner sets any width, and the email follows.
    page.evaluate(
        "() => document.getElementById('device').scrollIntoView({block: 'end'})"
    )  # the grip is at its bottom corner
    box = page.locator("#device").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] + 120, box["y"] + box["height"] - 3, steps=5)
    page.mouse.up()
    dragged = page.evaluate("() => document.getElementById('frame').contentDocument.documentElement.clientWidth")
    assert 480 <= dragged <= 510, dragged  # 375 + the 120 px dragged, give or take the grip's few pixels
    assert page.text_content("#width-now") == f"{dragged} px"
    scroll_width, client = page.evaluate(scroll)
    assert scroll_width <= client == dragged
    _set(page, "w=desktop")
    page.wait_for_function("() => document.getElementById('frame').contentDocument.documentElement.clientWidth > 700")
    column = page.evaluate(
        "() => document.getElementById('frame').contentDocument.querySelector('.card').getBoundingClientRect().width"
    )
    assert 590 <= column <= 610, column
    # The frame fits the email at each width: no blank tail left from the taller narrow layout.
    tail = (
        "() => { const f = document.getElementById('frame'); return f.getBoundingClientRect().height -"
        " f.contentDocument.body.getBoundingClientRect().height; }"
    )
    page.wait_for_function(f"() => ({tail})() < 2")
    assert 0 <= page.evaluate(tail) < 2
    page.locator("#frame").screenshot(path=str(ARTIFACTS / "preview-desktop-light.png"))

    colours = (
        "() => { const d = document.getElementById('frame').contentDocument; const c ="
        " getComputedStyle(d.querySelector('.card > table')); const t = getComputedStyle(d.querySelector('.dm-text >"
        " div')); const a = getComputedStyle(d.querySelector('.dm-text a')); const m ="
        " getComputedStyle(d.querySelector('.meta')); return [c.backgroundColor, t.color, a.color, m.color,"
        " getComputedStyle(d.body).backgroundColor]; }"
    )
    # The footer's words sit on the page background, not the card; the logo, drawn for a white
    # page, gets a white backing in dark.
    footer_and_logo = (
        "() => { const d = document.getElementById('frame').contentDocument; const f ="
        " [...d.querySelectorAll('.dm-muted > div')].find(e => e.textContent.includes('You are receiving')); return"
        " [getComputedStyle(f).color, getComputedStyle(d.querySelector('.body')).backgroundColor,"
        " getComputedStyle(d.querySelector('.logo img')).backgroundColor]; }"
    )
    _set(page, "w=375")
    _set(page, "scheme=light")
    _frame(page, "light")
    light = page.evaluate(colours)
    light_footer, light_page, light_logo = page.evaluate(footer_and_logo)
    assert light_logo == "rgba(0, 0, 0, 0)" and _contrast(light_footer, light_page) >= 4.5, (
        light_footer,
        light_page,
        light_logo,
    )
    page.locator("#frame").screenshot(path=str(ARTIFACTS / "preview-phone-light.png"))
    _set(page, "scheme=dark")
    _frame(page, "dark")
    page.wait_for_function(
        "() => getComputedStyle(document.getElementById('frame').contentDocument.querySelector('.card >"
        f" table')).backgroundColor !== {light[0]!r}"
    )
    dark = page.evaluate(colours)
    dark_footer, dark_page, dark_logo = page.evaluate(footer_and_logo)
    assert dark_logo == "rgb(255, 255, 255)" and dark_page != light_page and _contrast(dark_footer, dark_page) >= 4.5, (
        dark_footer,
        dark_page,
        dark_logo,
    )
    page.locator("#frame").screenshot(path=str(ARTIFACTS / "preview-phone-dark.png"))
    scroll_width, client = page.evaluate(scroll)
    assert scroll_width <= client == 375
    card, text, link, muted, body = dark
    assert card != light[0] and text != light[1] and link != light[2] and body != light[4], (light, dark)
    for fg in (text, link, muted):
        assert _contrast(fg, card) >= 4.5, (fg, card)
    for fg in light[1:4]:
        assert _contrast(fg, light[0]) >= 4.5, (fg, light[0])
    assert _contrast(card, "rgb(0, 0, 0)") < 2  # a dark design, not the light one
    for name in ("preview-phone-light.png", "preview-phone-dark.png", "preview-desktop-light.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000, name

    # The plain-text view: the text email, in place of the frame.
    _set(page, "view=text")
    assert page.is_hidden("#device") and page.is_visible("#text")
    text_email = page.request.get(base + "issues/7/email.txt").text()
    assert "Leap day" in text_email and page.text_content("#text") == text_email
    assert page.url.endswith("&view=text")
    page.reload()  # the switches live in the address: the view survives a reload
    assert page.is_hidden("#device") and page.is_visible("#text")
