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
from digest.core.issues import discover, load_issue
from digest.render import environment, inline, mjml
from digest.render import html as render

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
            pg.route("**/*", lambda route: route.abort() if not route.request.url.startswith("data:") else route.continue_())
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
        html = mjml.mjml_to_html(render.email_mjml(env, config, issue))
        sent = inline.finish_email(inline.inline_email(html), config)
        reference = inline.finish_email(inline.inline_css(html), config)
        yield rel, sent, reference


def _twir_shaped(newsletter: Callable[..., Path]) -> Path:
    """Many sections of link-only items, inline links, lists and code, as TWiR's issues have."""
    sections = []
    for s in range(12):
        items = "".join(
            f"      - title: 'Item {s}.{i}: a title with `code` that may wrap on a phone screen'\n"
            f"        url: https://example.com/{s}/{i}\n" + ("        summary: 'Some [inline link](https://example.org/x) and *emphasis*.'\n" if i % 3 == 0 else "")
            for i in range(8)
        )
        sections.append(f"  - title: Section {s}\n    items:\n{items}")
    issue = (
        "number: 1\ndate: 2024-11-20\ntitle: Shaped like TWiR\n"
        "intro: |\n  Hello and welcome, with [a link](https://example.com/a).\n\n  - a list\n  - of [two](https://example.com/b)\n"
        "sections:\n" + "".join(sections) + "outro: Edited by [someone](https://example.com/e).\n"
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
