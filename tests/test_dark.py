"""The email's dark design: theme.dark, colours derived from the light ones, the dark lint,
and the markup that carries it (metas, media query, Outlook hooks, the dark logo)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from conftest import MINIMAL_CONFIG, run

from digest.core import colors, lint
from digest.core.config import load_config
from digest.core.models import DarkTheme, Theme


def test_the_default_dark_design_is_derived_from_the_default_light_one() -> None:
    light = Theme()
    assert colors.derive_dark(light.brand_color, light.text_color, light.background_color) == DarkTheme()
    assert lint.dark_contrast(DarkTheme()) == []


def test_dark_colours_follow_a_custom_light_design_and_stay_readable(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=MINIMAL_CONFIG
        + 'theme:\n  brand_color: "#8a1538"\n  text_color: "#2b1a10"\n  background_color: "#fdf6e3"\n'
    )
    dark = load_config(root).theme.dark
    assert dark != DarkTheme()
    assert lint.contrast(dark.background_color, "#000000") < 1.5 and lint.contrast(dark.surface_color, "#000000") < 2
    for fg, bg in lint.DARK_PAIRS:
        assert lint.contrast(getattr(dark, fg), getattr(dark, bg)) >= lint.MIN_CONTRAST, (fg, bg)
    # The brand keeps its hue: a red stays red in the dark.
    r, g, b = (int(dark.brand_color[i : i + 2], 16) for i in (1, 3, 5))
    assert r > g and r > b


def test_theme_dark_sets_colours_and_a_dark_logo(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=MINIMAL_CONFIG
        + """\
theme:
  logo: {src: "https://test.example.org/logo.png", alt: Test Weekly}
  dark:
    background_color: "#000000"
    text_color: "#FAFAFA"
    logo: {src: "https://test.example.org/logo-dark.png"}
"""
    )
    dark = load_config(root).theme.dark
    assert (dark.background_color, dark.text_color) == ("#000000", "#fafafa")
    assert dark.logo is not None and (dark.logo.src, dark.logo.alt) == (
        "https://test.example.org/logo-dark.png",
        "Test Weekly",
    )
    assert run("build", "--root", str(root)).exit_code == 0
    email = (root / "site/issues/1/email.html").read_text(encoding="utf-8")
    assert 'src="https://test.example.org/logo-dark.png"' in email
    # Hidden inline (every client, media queries or not), shown by the dark rules only.
    dark_td = re.search(r'<td[^>]*class="logo-dark"[^>]*>', email)
    assert (
        dark_td
        and "display:none" in dark_td.group().replace(" ", "")
        and "mso-hide:all" in dark_td.group().replace(" ", "")
    )
    # The light logo's cell carries the hook the dark rules hide it by (classes no rule
    # selects, such as "logo" here, are dropped from the email).
    assert re.search(
        r'<td[^>]*class="logo-light"[^>]*><table(?:(?!<td[^>]*class=).)*?src="https://test.example.org/logo.png"',
        email,
        re.S,
    )
    # The <style> blocks are sent without the whitespace CSS does not need.
    media = email.split("@media (prefers-color-scheme:dark)")[1]
    assert ".logo-light{display:none!important}" in media and ".logo-dark{display:table-cell!important;" in media


def test_low_dark_contrast_warns_at_its_line(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=MINIMAL_CONFIG + 'theme:\n  dark:\n    surface_color: "#1d1d20"\n    text_color: "#555555"\n'
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 0
    assert (
        result.stderr
        == "config.yaml:6: warning: theme.dark.text_color: in dark mode, #555555 on #1d1d20 has a contrast of 2.3:1;"
        " readable text needs at least 4.5:1 (WCAG AA)\n"
    )
    assert run("check", "--strict", "--root", str(root)).exit_code == 1


def test_text_on_dark_code_blocks_is_checked_too(newsletter: Callable[..., Path]) -> None:
    # Readable on the card (4.9:1), not on the code blocks a shade lighter (4.4:1).
    root = newsletter(config=MINIMAL_CONFIG + 'theme:\n  dark:\n    text_color: "#8a8a8c"\n')
    result = run("check", "--root", str(root))
    assert result.exit_code == 0
    assert (
        result.stderr
        == "config.yaml:5: warning: theme.dark.text_color: in dark mode, #8a8a8c on #262629 has a contrast of 4.4:1;"
        " readable text needs at least 4.5:1 (WCAG AA)\n"
    )


def test_theme_dark_mistakes_are_errors_at_their_lines(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=MINIMAL_CONFIG
        + 'theme:\n  dark:\n    text_color: white\n    brand_color: #abc\n    logo: {src: "https://x.example/d.png"}\n'
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "config.yaml:5: theme.dark.text_color: must be a colour like #121212, got 'white'\nconfig.yaml:6:"
        " theme.dark.brand_color: is empty: in YAML a # starts a comment, so put the colour in quotes, like"
        ' "#121212"\nconfig.yaml:7: theme.dark.logo: needs alt (there is no theme.logo to take it from)\n3'
        " errors\n"
    )


def test_the_email_carries_dark_mode_for_every_client_that_has_one(golden_root: Path) -> None:
    assert run("build", "--root", str(golden_root)).exit_code == 0
    email = (golden_root / "site/issues/7/email.html").read_text(encoding="utf-8")
    dark = load_config(golden_root).theme.dark
    head = email.split("</head>")[0]
    assert '<meta name="color-scheme" content="light dark">' in head
    assert '<meta name="supported-color-schemes" content="light dark">' in head
    media = head.split("@media (prefers-color-scheme:dark){")[1].split("}}")[0]
    for color in (
        dark.background_color,
        dark.surface_color,
        dark.text_color,
        dark.brand_color,
        dark.muted_color,
        dark.rule_color,
        dark.code_color,
    ):
        assert color in media, color
    for hook in ("[data-ogsc] .dm-text>div", "[data-ogsc] a", "[data-ogsb] .card", "[data-ogsb] body"):
        assert hook in head
    # Clients without any of it keep the light design: the inline styles are the light ones.
    body = email.split("</head>")[1]
    assert dark.surface_color not in body and dark.text_color not in body
    assert "background-color:#f4f4f5" in body.replace(" ", "")
