"""Checks beyond validity: the Gmail clip gate and an accessibility lint.

Rules:
- Gmail hides everything after the first 102 KB of an email's HTML behind "[Message
  clipped]" — including the unsubscribe link.  An email over the limit is an error;
  one over 80 % of it is a warning, because mailing services add tracking to every link.
- Link text must say where it goes: "here", "click here", "read more" mean nothing to a
  screen-reader user who lists the links.
- Theme colours must keep text readable: WCAG 2 AA asks for a contrast ratio of 4.5:1.
"""

from __future__ import annotations

import re

CLIP_BYTES = 102_000
CLIP_WARN_BYTES = int(CLIP_BYTES * 0.8)
MIN_CONTRAST = 4.5
CARD_COLOR = "#ffffff"  # the email's and the web page's content background
VAGUE_LINK_TEXT = frozenset(
    {"here", "click here", "click", "this", "this link", "link", "read more", "more", "learn more", "continue", "go", "see here"}
)
_HEX = re.compile(r"#([0-9a-fA-F]{6})")


def clip_message(size: int) -> tuple[bool, str] | None:
    """(is_error, message) for an email of ``size`` bytes, or None when it is comfortably small."""
    if size > CLIP_BYTES:
        return True, f"email.html is {size / 1000:.0f} KB: Gmail clips emails over {CLIP_BYTES // 1000} KB, hiding the rest and the unsubscribe link; shorten it or split it"
    if size > CLIP_WARN_BYTES:
        return False, f"email.html is {size / 1000:.0f} KB, close to Gmail's {CLIP_BYTES // 1000} KB clipping limit (mailing services add link tracking)"
    return None


_FILE_NAME = re.compile(r"\S+\.(?:jpe?g|png|gif|webp|svg|avif)", re.IGNORECASE)
VAGUE_ALT_TEXT = frozenset({"image", "photo", "picture", "img", "graphic", "logo", "icon", "screenshot"})


def link_text_problem(text: str) -> str | None:
    """Why a link's text fails a screen-reader user who lists the links, or None."""
    if " ".join(text.lower().strip(" .…:!→»>").split()) in VAGUE_LINK_TEXT:
        return f"link text {text.strip()!r} does not say where it goes; describe the destination (screen readers list links by their text)"
    return None


def alt_text_problem(alt: str) -> str | None:
    """Why an image's alt text tells a screen-reader user nothing, or None."""
    if _FILE_NAME.fullmatch(alt.strip()) or alt.strip().lower() in VAGUE_ALT_TEXT:
        return f"alt text {alt.strip()!r} does not describe the image; say what it shows"
    return None


def _luminance(color: str) -> float:
    m = _HEX.fullmatch(color)
    if not m:
        raise ValueError(color)
    channels = [int(m.group(1)[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
