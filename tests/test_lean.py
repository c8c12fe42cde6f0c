"""The lean email keeps the design: in Chromium, every element of the email digest sends
sits where it sits in the email premailer alone makes of the same MJML (every rule
inlined, nothing taken out), at a phone's and a desktop's width, light and dark.

The golden issue (tables, sub-sections, intros, images, mixed scripts) and an issue of
the shape of This Week in Rust's largest (many link-only items and sections) are
compared element by element: tag, box (rounded to the pixel), colours, decoration and
font size.  Without /usr/bin/chromium these skip, unless DIGEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GOLDEN_SRC
from test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_available, _unavailable  # noqa: F401

from digest.core.config import load_config
from digest.core.issuefiles import discover
from digest.core.issues import load_issue
from digest.render import environment, inline
from digest.render import html as render

pytestmark = pytest.mark.slow  # browser tests (Chromium): the fast tier is -m 'not slow'

WIDTHS = (320, 600)

# Everything the reader sees of an element, in document order.
_LAYOUT = """() => Array.from(document.body.querySelectorAll('*')).map(el => {
  const r = el.getBoundingClientRect(), s = getComputedStyle(el);
  return [el.tagName, Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height),
          s.color, s.backgroundColor, s.textDecorationLine, s.fontSize, s.fontWeight, s.lineHeight,
          s.borderTopWidth + ' ' + s.borderTopStyle + ' ' + s.borderTopColor];
})"""


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            pg = browser.new_page()
            # Images are answered by nothing: their boxes come from their width attributes.
            pg.route(
                "**/*", lambda route: route.abort() if not route.request.url.startswith("data:") else route.continue_()
            )
            yield pg
        finally:
            browser.close()


def _emails(root: Path) -> Iterator[tuple[str, str, str]]:
    """(issue file, the email digest sends, premailer's full inline of the same MJML)."""
    config = load_config(root)
    env = environment.make_env(config)
    files, _ = discover(root)
    for number, path, rel in files:
        issue, problems = load_issue(config, number, path, rel)
        assert issue is not None, problems
        html = render.mjml_to_html(render.email_mjml(env, config, issue))
        sent = inline.finish_email(inline.inline_email(html), config)
        reference = inline.finish_email(inline.inline_css(html), config)
        yield rel, sent, reference


def _twir_shaped(newsletter: Callable[..., Path]) -> Path:
    """Many sections of link-only items, inline links, lists and code, as TWiR's issues have."""
    sections = []
    for s in range(12):
        items = "".join(
            f"      - title: 'Item {s}.{i}: a title with `code` that may wrap on a phone screen'\n"
            f"        url: https://example.com/{s}/{i}\n"
            + ("        summary: 'Some [inline link](https://example.org/x) and *emphasis*.'\n" if i % 3 == 0 else "")
            for i in range(8)
        )
        sections.append(f"  - title: Section {s}\n    items:\n{items}")
    issue = (
        "number: 1\ndate: 2024-11-20\ntitle: Shaped like TWiR\nintro: |\n  Hello and welcome, with [a"
        " link](https://example.com/a).\n\n  - a list\n  - of [two](https://example.com/b)\nsections:\n"
        + "".join(sections)
        + "outro: Edited by [someone](https://example.com/e).\n"
    )
    return newsletter(issues={"0001.yaml": issue})


def _compare(page: Any, sent: str, reference: str) -> None:
    for width in WIDTHS:
        for scheme in ("light", "dark"):
            page.set_viewport_size({"width": width, "height": 800})
            page.emulate_media(color_scheme=scheme)
            page.set_content(reference, wait_until="load")
            want = page.evaluate(_LAYOUT)
            page.set_content(sent, wait_until="load")
            got = page.evaluate(_LAYOUT)
            assert len(got) == len(want), f"{width}px {scheme}: {len(got)} elements, premailer's has {len(want)}"
            diffs = [(i, w, g) for i, (w, g) in enumerate(zip(want, got, strict=True)) if w != g]
            assert not diffs, f"{width}px {scheme}: {len(diffs)} elements differ, first: {diffs[0]}"


def test_lean_email_looks_like_premailers_full_inline_golden(page: Any) -> None:
    for rel, sent, reference in _emails(GOLDEN_SRC):
        assert len(sent.encode()) < len(reference.encode()), rel
        _compare(page, sent, reference)


def test_lean_email_looks_like_premailers_full_inline_many_items(page: Any, newsletter: Callable[..., Path]) -> None:
    ((rel, sent, reference),) = list(_emails(_twir_shaped(newsletter)))
    assert len(sent.encode()) < len(reference.encode()), rel
    _compare(page, sent, reference)


# Each element shown that holds text of its own: its text, its colour and the colour of
# the nearest ancestor (or itself) that paints a background.
_TEXT_ON_BACKGROUND = """() => Array.from(document.body.querySelectorAll('*')).filter(el => {
  const r = el.getBoundingClientRect(), s = getComputedStyle(el);  // shown: not the hidden preheader
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.opacity !== '0' &&
    Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
}).map(el => {
  let bg = 'rgba(0, 0, 0, 0)';
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    const b = getComputedStyle(e).backgroundColor;
    if (b !== 'rgba(0, 0, 0, 0)' && b !== 'transparent') { bg = b; break; }
  }
  return [el.tagName, el.textContent.trim().slice(0, 30), getComputedStyle(el).color, bg];
})"""


def _rgb(css: str) -> str:
    r, g, b = (int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def test_every_text_of_the_email_is_readable_in_light_and_dark(page: Any, newsletter: Callable[..., Path]) -> None:
    """WCAG AA's 4.5:1 for every text the email shows, on what it actually sits on: the
    card, the page, code blocks and table headers (with a link in one)."""
    from digest.core import lint

    issue = (
        "number: 1\ndate: 2024-11-20\ntitle: Contrast\nintro: 'Read [the report](https://example.com/r) and"
        " `code`.'\nsections:\n  - title: Tables\n    items:\n      - title: A table\n        url:"
        " https://example.com/t\n        summary: |\n          | [Linked header](https://example.com/h) | Plain header"
        " |\n          |---|---|\n          | a [cell link](https://example.com/c) | `code` |\n\n          ```\n       "
        "   a code block\n          ```\noutro: Edited by [someone](https://example.com/e).\n"
    )
    ((rel, sent, _),) = list(_emails(newsletter(issues={"0001.yaml": issue})))
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.set_content(sent, wait_until="load")
        texts = page.evaluate(_TEXT_ON_BACKGROUND)
        assert any(tag == "A" and text == "Linked header" for tag, text, _, _ in texts)
        low = [
            (tag, text, fg, bg, round(lint.contrast(_rgb(fg), _rgb(bg)), 2))
            for tag, text, fg, bg in texts
            if lint.contrast(_rgb(fg), _rgb(bg)) < lint.MIN_CONTRAST
        ]
        assert not low, f"{scheme}: {low}"
