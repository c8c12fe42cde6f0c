"""The email's dark design, derived from its light one unless config.yaml's theme.dark sets it.

Rules:
- Dark surfaces keep the light design's hue at a low lightness; text keeps its hue at a
  high one; the brand colour (links, the masthead rule) is lightened until it reads on
  the dark card.  So a newsletter that sets no dark colours still looks like itself.
- Every derived text colour keeps WCAG AA's 4.5:1 on the surfaces it sits on; colours the
  config sets are kept as set (the accessibility lint warns about them instead).
"""

from __future__ import annotations

import colorsys

from digest.core import lint
from digest.core.models import DarkTheme, Image

_MIN = lint.MIN_CONTRAST


def _rgb(color: str) -> tuple[float, float, float]:
    return tuple(int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, c)) * 255):02x}" for c in rgb)


def with_lightness(color: str, lightness: float, max_saturation: float = 1.0) -> str:
    h, _, s = colorsys.rgb_to_hls(*_rgb(color))
    return _hex(colorsys.hls_to_rgb(h, lightness, min(s, max_saturation)))


def mix(a: str, b: str, share_of_b: float) -> str:
    return _hex(tuple(x + (y - x) * share_of_b for x, y in zip(_rgb(a), _rgb(b), strict=True)))  # type: ignore[arg-type]


def readable_on(color: str, *backgrounds: str) -> str:
    """``color``, mixed towards white just enough to keep 4.5:1 on every one of ``backgrounds``."""
    for step in range(21):
        candidate = mix(color, "#ffffff", step / 20)
        if all(lint.contrast(candidate, bg) >= _MIN for bg in backgrounds):
            return candidate
    return "#ffffff"


def derive_dark(
    brand_color: str,
    text_color: str,
    background_color: str,
    *,
    dark_background: str | None = None,
    dark_surface: str | None = None,
    dark_text: str | None = None,
    dark_brand: str | None = None,
    logo: Image | None = None,
) -> DarkTheme:
    """The dark design for a light one; each ``dark_*`` given replaces its derived value."""
    background = dark_background or with_lightness(background_color, 0.07, 0.25)
    surface = dark_surface or with_lightness(background_color, 0.12, 0.2)
    text = dark_text or readable_on(with_lightness(text_color, 0.9, 0.2), surface, background)
    brand = dark_brand or readable_on(brand_color, surface)
    muted = readable_on(mix(text, surface, 0.35), surface, background)
    return DarkTheme(
        background_color=background,
        surface_color=surface,
        text_color=text,
        brand_color=brand,
        muted_color=muted,
        rule_color=mix(surface, text, 0.2),
        code_color=mix(surface, text, 0.08),
        logo=logo,
    )
