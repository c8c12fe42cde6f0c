"""Tables on a 320 px phone, in Chromium: nothing scrolls sideways, and a word breaks only
where it is wider than its cell.

Every email and web page of the table-heavy fixture (tests/fixtures/tables: This Week in
Rust's shapes of table, written for the tests), the golden fixture and the example
newsletters is opened at 320 px, as sent and with every <style> element taken out (Gmail's
app drops them; what is left is the inline styles).  Without /usr/bin/chromium these
skip, unless DIGEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, GOLDEN_SRC, REPO, run
from test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_available, _unavailable  # noqa: F401

PHONE = 320
SOURCES = {
    "tables": FIXTURES / "tables",
    "golden": GOLDEN_SRC,
    "weekly": FIXTURES / "weekly",  # sponsor boxes and headings with their permalinks
    "example": REPO,
    **{p.name: p for p in sorted((REPO / "examples").iterdir()) if (p / "config.yaml").exists()},
}

# Words in table cells that the layout broke across lines: each with its own width on one
# line and the width of its cell's content box.  A word may break only where that width
# is more than the cell's.  A "word" runs between spaces; a break after a hyphen between a
# letter or digit and a letter is one the browser may take ("incr-|patched"), so the parts
# around such a hyphen count as words of their own ("-12.4%" and "2024-06" are one word).
_BROKEN_WORDS = """() => {
  const out = [];
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;left:0;top:0';
  for (const cell of document.querySelectorAll('td, th')) {
    if (!cell.closest('table.md-table, main table, article table')) continue;
    const cs = getComputedStyle(cell);
    const room = cell.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g;
      for (let w = re.exec(node.data); w; w = re.exec(node.data)) {
       let at = w.index;
       for (const piece of w[0].split(/(?<=\\w-)(?=\\p{L})/u)) {
        const m = [piece];
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + piece.length);
        at += piece.length;
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size < 2) continue;
        probe.textContent = m[0];
        node.parentElement.appendChild(probe);  // inherits the word's own font
        const width = probe.getBoundingClientRect().width;
        probe.remove();
        out.push([m[0], Math.round(width * 10) / 10, Math.round(room * 10) / 10]);
       }
      }
    }
  }
  return out;
}"""

_STRIP_STYLES = "() => document.querySelectorAll('style, link[rel=stylesheet]').forEach(e => e.remove())"


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            pg = browser.new_page(viewport={"width": PHONE, "height": 640})
            # Nothing is fetched: images keep the boxes their attributes and styles give them.
            pg.route("**/*", lambda route: route.abort())
            yield pg
        finally:
            browser.close()


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = {}
    for name, source in SOURCES.items():
        root = tmp_path_factory.mktemp(name) / "news"  # a copy: a build writes its cache beside config.yaml
        root.mkdir()
        shutil.copy2(source / "config.yaml", root)
        shutil.copytree(source / "issues", root / "issues")
        if (source / "images").is_dir():  # local images (the golden fixture has one)
            shutil.copytree(source / "images", root / "images")
        out = root / "site"
        result = run("build", "--root", str(root), "--out", str(out))
        assert result.exit_code == 0, result.output
        built[name] = out
    return built


def _documents(site: Path) -> list[Path]:
    return sorted(site.glob("issues/*/email.html")) + sorted(site.glob("issues/*/index.html"))


@pytest.mark.slow
# Without <style>: the emails only (a browser always reads a web page's own).
@pytest.mark.parametrize("styles", ["as sent", "without <style>"])
@pytest.mark.parametrize("name", list(SOURCES))
def test_tables_fit_a_320px_phone_and_break_words_only_when_they_must(
    page: Any, sites: dict[str, Path], name: str, styles: str
) -> None:
    docs = [d for d in _documents(sites[name]) if styles == "as sent" or d.name == "email.html"]
    assert docs
    problems = []
    for doc in docs:
        page.set_content(doc.read_text(encoding="utf-8"), wait_until="load")
        if styles != "as sent":
            page.evaluate(_STRIP_STYLES)
        where = f"{doc.relative_to(sites[name])} {styles}"
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE:
            wide = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
                   .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).slice(-3)
                   .map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right))""")
            problems.append(f"{where}: {width} px wide at {PHONE} px ({wide})")
        for word, alone, room in page.evaluate(_BROKEN_WORDS):
            if alone < room:
                problems.append(f"{where}: {word!r} ({alone} px) is broken inside a cell {room} px wide")
    assert not problems, "\n".join(problems)


def test_the_fixture_has_the_tables_that_overflowed() -> None:
    """The fixture keeps This Week in Rust's shapes: a 4-column triage table with emoji and
    parenthesised labels, a 5-column one with ranges, a table whose longest words cannot
    all fit 320 px."""
    text = (FIXTURES / "tables" / "issues" / "0001.yaml").read_text(encoding="utf-8")
    assert "| (instructions:u) | mean | range | count |" in text
    assert "|            | mean | max | count |" in text
    assert "incrementalcompilationinfrastructure" in text
