"""Checks beyond validity: the Gmail clip gate and an accessibility lint.

Rules:
- Gmail hides everything after the first 102 KB of an email's HTML behind "[Message
  clipped]" — including the unsubscribe link.  An email over the limit is an error for
  send and export and a warning for build and check (so that an archive with long past
  issues still publishes; --strict makes it fatal); one over 80 % of it is a warning,
  because mailing services add tracking to every link.
- Link text must say where it goes: "here", "click here", "read more" mean nothing to a
  screen-reader user who lists the links.
- Theme colours must keep text readable: WCAG 2 AA asks for a contrast ratio of 4.5:1,
  in the email's dark design as in its light one.
"""

from __future__ import annotations

import re

CLIP_BYTES = 102_000
CLIP_WARN_BYTES = int(CLIP_BYTES * 0.8)
MIN_CONTRAST = 4.5
CARD_COLOR = "#ffffff"  # the email's and the web page's content background
VAGUE_LINK_TEXT = frozenset(
    {
        "here",
        "click here",
        "click",
        "this",
        "this link",
        "link",
        "read more",
        "more",
        "learn more",
        "continue",
        "go",
        "see here",
    }
)
_HEX = re.compile(r"#([0-9a-fA-F]{6})")


class SentSize(int):
    """Bytes of an email's HTML part as SMTP carries it, and what a base64 re-encoding of
    the same part would carry (``base64``), which some mailing services do on import."""

    base64: int

    def __new__(cls, size: int, base64: int) -> SentSize:
        self = super().__new__(cls, size)
        self.base64 = base64
        return self


def wire_bytes(payload: str) -> int:
    """Bytes of an encoded MIME body on the wire: SMTP ends every line with CRLF, where the
    email package's payload has LF (one byte a line, 1,236 of TWiR 587's 90,594).  An 8bit body
    (short lines with non-ASCII text) is its UTF-8 text."""
    return len(payload.encode("utf-8", "surrogateescape")) + payload.count("\n")


def sent_size(html: str) -> SentSize:
    """Bytes of ``html`` as the HTML part of a sent email carries it: after the transfer
    encoding (quoted-printable or base64) that the email package picks, as digest send
    and digest export do, with SMTP's CRLF line ends.  This is what Gmail counts: base64
    makes a right-to-left issue a third larger than its file.  Its ``base64`` is the
    size if a mailing service re-encodes the part as base64."""
    from email.message import EmailMessage

    part = EmailMessage()
    part.set_content(html, subtype="html")
    as_base64 = EmailMessage()
    as_base64.set_content(html, subtype="html", cte="base64")
    return SentSize(wire_bytes(str(part.get_payload())), wire_bytes(str(as_base64.get_payload())))


# Bytes quoted-printable writes as themselves (the email package's body map); every other byte is "=XX".
_QP_SAFE = bytes(range(33, 127)).replace(b"=", b"") + b" \t\r\n"


def size_bounds(html: str) -> tuple[int, int]:
    """Upper bounds of :func:`sent_size` and of its ``base64``, counted in C over the bytes.

    Quoted-printable writes each unsafe byte as three, adds a soft break ("=" and CRLF) at
    least every 75 characters and may quote a line's trailing space; 7bit and 8bit bodies are
    smaller; base64 writes 78 bytes on the wire for every 57 (line ends normalized to CRLF).
    A fifth of the encoded length and eight bytes a line cover all of that with room."""
    data = html.encode()
    lines = data.count(b"\n") + 1
    encoded = len(data) + 2 * len(data.translate(None, _QP_SAFE))
    return encoded + encoded // 5 + 8 * lines + 16, (len(data) + lines) * 78 // 57 + 78


def clip_verdict(html: str) -> tuple[bool, str] | None:
    """:func:`clip_message` for email.html as sent.  The exact size encodes the part as the
    email package does (pure Python: milliseconds an email); an email whose bounds are below
    both limits gets no message whatever its exact size, so it is not encoded."""
    qp, b64 = size_bounds(html)
    if qp <= CLIP_WARN_BYTES and b64 <= CLIP_BYTES:
        return None
    return clip_message(sent_size(html))


def clip_message(size: int) -> tuple[bool, str] | None:
    """(over the limit, message) for an HTML part of ``size`` bytes as sent, or None when it is comfortably small.

    Sizes are printed in exact bytes: 102,179 must never read as the limit itself.  With a
    :class:`SentSize` the warning also says what a mailing service that re-encodes the part
    as base64 sends, and warns when that alone would be clipped."""
    b64 = getattr(size, "base64", size)
    if size > CLIP_BYTES:
        return (
            True,
            (
                f"email.html is {size:,} bytes as sent, over Gmail's clipping limit of {CLIP_BYTES:,}: Gmail would hide"
                " the rest and the unsubscribe link; shorten it or split it"
            ),
        )
    if size > CLIP_WARN_BYTES or b64 > CLIP_BYTES:
        clipped = ", which Gmail clips" if b64 > CLIP_BYTES else ""
        tail = "" if b64 == size else f"; a mailing service that re-encodes it as base64 sends {b64:,} bytes{clipped}"
        share = f"{size * 100 // CLIP_BYTES} % of Gmail's clipping limit of {CLIP_BYTES:,}"
        return False, f"email.html is {size:,} bytes as sent, {share} (mailing services add link tracking){tail}"
    return None


_FILE_NAME = re.compile(r"\S+\.(?:jpe?g|png|gif|webp|svg|avif)", re.IGNORECASE)
VAGUE_ALT_TEXT = frozenset({"image", "photo", "picture", "img", "graphic", "logo", "icon", "screenshot"})


def link_text_problem(text: str) -> str | None:
    """Why a link's text fails a screen-reader user who lists the links, or None."""
    if " ".join(text.lower().strip(" .…:!→»>").split()) in VAGUE_LINK_TEXT:
        return (
            f"link text {text.strip()!r} does not say where it goes; describe the destination (screen readers list"
            " links by their text)"
        )
    return None


EMPTY_ALT = (
    "markdown image has no alt text: say what it shows between the brackets, as in ![A chart of the results](https://…)"
)


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


# The email's dark design: (text colour, the surface it sits on).  Links and muted text
# appear both on the card and on the page background (the header and footer lines).
DARK_PAIRS = (
    ("text_color", "surface_color"),
    ("brand_color", "surface_color"),
    ("muted_color", "surface_color"),
    ("brand_color", "background_color"),
    ("muted_color", "background_color"),
    ("text_color", "code_color"),  # code blocks and table headers (their links too) are a shade lighter than the card
)


def dark_contrast(dark: object) -> list[tuple[str, str, float]]:
    """(text key, surface key, ratio) for each pair of ``dark`` (a DarkTheme) under 4.5:1."""
    low: list[tuple[str, str, float]] = []
    for fg, bg in DARK_PAIRS:
        if bg == "code_color" and any(f == fg for f, _, _ in low):
            continue  # already too faint on the card: one warning for one colour
        if (ratio := contrast(getattr(dark, fg), getattr(dark, bg))) < MIN_CONTRAST:
            low.append((fg, bg, ratio))
    return low


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
