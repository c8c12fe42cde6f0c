"""The clip gate and the accessibility lint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import run, tree


def _big_issue(items: int) -> str:
    blurb = "Long summary text about civic data and budgets, written out at length. " * 6
    lines = ["date: 2024-01-05", "sections:", "  - title: Everything", "    items:"]
    for i in range(items):
        lines += [f"      - title: Item number {i}", f"        url: https://example.com/{i}", f"        summary: {blurb}"]
    return "\n".join(lines) + "\n"


def test_an_email_gmail_would_clip_fails_the_build_every_time(newsletter: Callable[..., Path]) -> None:
    root = newsletter()
    assert run("build", "--root", str(root)).exit_code == 0
    before = tree(root / "site")
    (root / "issues" / "0002.yaml").write_text(_big_issue(150))
    for _ in range(2):  # a failed issue is never cached, so the second build fails too
        result = run("build", "--root", str(root))
        assert result.exit_code == 1
        first, last = result.stderr.splitlines()
        assert first.startswith("issues/0002.yaml: email.html is ")
        assert first.endswith(" KB: Gmail clips emails over 102 KB, hiding the rest and the unsubscribe link; shorten it or split it")
        assert last == "1 error; nothing was written"
        assert tree(root / "site") == before


def test_an_email_close_to_the_clip_limit_warns(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues={"0001.yaml": _big_issue(120)})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.stderr
    size = (root / "site/issues/1/email.html").stat().st_size
    assert 81_600 < size <= 102_000, size
    assert result.stderr == (
        f"issues/0001.yaml: warning: email.html is {size / 1000:.0f} KB, close to Gmail's 102 KB clipping limit (mailing services add link tracking)\n"
    )
    # The warning is remembered with the cached issue and shown again on a no-op build.
    again = run("build", "--root", str(root))
    assert "(0 changed)" in again.stdout
    assert again.stderr == result.stderr


def test_vague_link_text_and_alt_text_warn_at_their_lines(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues={"0001.yaml": """\
        date: 2024-01-05
        intro: |
          Welcome.
          To subscribe, click [here](https://example.com/subscribe).
        sections:
          - items:
              - title: A
                summary: "![IMG_2041.jpg](https://example.com/a.jpg) and [the annual report](https://example.com/r)"
                image: {src: "https://example.com/b.png", alt: photo}
        """})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0
    assert result.stderr == (
        "issues/0001.yaml:4: warning: intro: link text 'here' does not say where it goes; describe the destination (screen readers list links by their text)\n"
        "issues/0001.yaml:8: warning: sections[1].items[1].summary: alt text 'IMG_2041.jpg' does not describe the image; say what it shows\n"
        "issues/0001.yaml:9: warning: sections[1].items[1].image.alt: alt text 'photo' does not describe the image; say what it shows\n"
    )


def test_low_contrast_theme_colours_warn(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config="""\
        title: Pale
        url: https://pale.example.org/
        theme:
          brand_color: "#ffcc00"
          text_color: "#1d1d1f"
        """)
    result = run("check", "--root", str(root))
    assert result.exit_code == 0
    assert result.stderr == (
        "config.yaml:4: warning: theme.brand_color: #ffcc00 on the white email card has a contrast of 1.5:1; readable text needs at least 4.5:1 (WCAG AA)\n"
    )
