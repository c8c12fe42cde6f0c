"""The archive's search in Chromium (Playwright, Debian's /usr/bin/chromium): typing a word of
one issue into the archive page's box finds that issue, through `digest serve` and through a
plain static server of the built site (tests/siteserver.py), for an English newsletter (the
Perl Weekly-shaped fixture), the same with issues in three bundles (pagefind/700/, 800/, 900/:
a word of each bundle is found by the one box) and the Persian example; no request leaves 127.0.0.1."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO, build
from siteserver import make_server
from test_browser import CHROMIUM_ARGS, TIMEOUT_MS, _browser_available, browser  # noqa: F401  (fixtures)
from test_server import Serve, _serving_port

pytestmark = pytest.mark.slow  # Chromium, and a server per case

# (source folder, a word of one issue, that issue's number)
CASES = {
    "english": (FIXTURES / "weekly", "Zebrafish", 700),
    "english-other": (FIXTURES / "weekly", "Quasar", 701),
    "persian": (REPO / "examples" / "persian", "", 0),  # its word and issue are read from the example below
    # Three bundles (issues 700-701, 802, 900): the box loads the first and merges the others.
    "chunks-first": (FIXTURES / "weekly", "Zebrafish", 700),
    "chunks-second": (FIXTURES / "weekly", "Narwhal", 802),
    "chunks-third": (FIXTURES / "weekly", "Quokka", 900),
}


def _more_bundles(root: Path) -> None:
    for number, day, word in ((802, 7, "Narwhal"), (900, 14, "Quokka")):
        (root / "issues" / f"{number:04d}.yaml").write_text(
            f"date: 2026-12-{day:02d}\nsections:\n  - items:\n      - title: {word} sightings\n"
            f"        url: https://example.org/{number}\n",
            encoding="utf-8",
        )


def _persian_word(root: Path) -> tuple[str, int]:
    """A word that only one published issue of the Persian example has, and that issue."""
    import re

    from digest.core.config import load_config
    from digest.core.issues import load_issue
    from digest.core.plaintext import title_text

    config = load_config(root)
    words: dict[str, set[int]] = {}
    for path in sorted((root / "issues").glob("*.yaml")):
        issue, _ = load_issue(config, int(path.stem), path, f"issues/{path.name}")
        if issue is None or issue.draft:
            continue
        for item in issue.items:
            for word in re.findall(r"[\u0600-\u06ff]{5,}", title_text(item.title or "")):
                words.setdefault(word, set()).add(issue.number)
    word, numbers = sorted((w, n) for w, n in words.items() if len(n) == 1)[0]
    return word, next(iter(numbers))


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, int]:
    source, word, number = CASES[request.param]
    root = tmp_path / request.param
    shutil.copytree(source, root)
    if not word:
        word, number = _persian_word(root)
    if request.param.startswith("chunks"):
        _more_bundles(root)
    return root, word, number


def _search(browser: Any, base: str, word: str) -> tuple[list[str], list[str], str]:  # noqa: F811
    """Type ``word`` into the archive's box at ``base``: the results' links, the requests that
    were not to ``base`` (blocked), and the box's direction."""
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    try:
        page = context.new_page()
        page.goto(base + "index.html")
        box = page.locator(".pagefind-ui__search-input")
        box.fill(word)
        page.wait_for_selector(".pagefind-ui__result-link")
        links = page.eval_on_selector_all(".pagefind-ui__result-link", "els => els.map(e => e.getAttribute('href'))")
        direction = page.eval_on_selector("#search", "e => getComputedStyle(e).direction")
        return links, outside, direction
    finally:
        context.close()


def _expect(root: Path, links: list[str], outside: list[str], direction: str, number: int) -> None:
    assert outside == [], "the search made a request that left 127.0.0.1"
    # The issue's page, under the site the box runs on (Pagefind's base is where pagefind/ is).
    assert [link.split("#")[0] for link in links] == [f"/issues/{number}/"], links
    rtl = "persian" in root.name
    assert direction == ("rtl" if rtl else "ltr")


def test_search_finds_the_issue_on_a_static_server(browser: Any, case: tuple[Path, str, int]) -> None:  # noqa: F811
    root, word, number = case
    build(root)
    server = make_server(root / "site", "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        links, outside, direction = _search(browser, f"http://127.0.0.1:{server.server_address[1]}/", word)
    finally:
        server.shutdown()
        server.server_close()
    _expect(root, links, outside, direction, number)


def test_search_finds_the_issue_through_digest_serve(browser: Any, case: tuple[Path, str, int]) -> None:  # noqa: F811
    root, word, number = case
    server = Serve("--root", str(root), "--port", "0", "--no-watch")
    try:
        base = f"http://127.0.0.1:{_serving_port(server, root)}/"
        links, outside, direction = _search(browser, base, word)
    finally:
        server.stop()
    _expect(root, links, outside, direction, number)
