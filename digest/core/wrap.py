"""Plain text in lines of a given number of columns, for the text email.

Rules:
- A line breaks only at an ASCII space.  A URL, a word or a code span longer than the
  line stays whole on a line of its own: a URL cut in two is a dead link in every mail
  client, and a code span cut in two is different code.
- Width is what a monospace mail client shows: a wide (CJK) character takes two
  columns, combining marks and format characters (bidi marks and isolates, ZWJ, ZWNJ)
  none.  Right-to-left text wraps the same way: lines are in logical order, and each
  line is laid out by the reader's client.
- Hard line breaks stay.  The spaces at a break are dropped; all others are kept as
  written.  Nothing else is changed: no tab expansion, no character replaced.
"""

from __future__ import annotations

import re
import unicodedata

# Below this many columns for the text itself (deeply nested lists and quotes), lines
# would hold a word or two; the text keeps at least this much and the line runs longer.
MIN_COLUMNS = 20

_SPACES = re.compile(r"( +)")


def text_width(text: str) -> int:
    """Columns ``text`` takes in a monospace plain-text email (wide CJK = 2, marks = 0)."""
    if text.isascii():  # no ASCII character is wide, combining or a format character
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def wrap(text: str, width: int, indent: int = 0, glue: str | None = None) -> list[str]:
    """``text`` as lines of at most ``width`` columns, ``indent`` columns of which are
    taken by a prefix the caller writes (a list marker, "> ").  ``glue`` is a character
    that stands for a space where no break is allowed (inside a code span): it is a
    space again in the result."""
    room = max(MIN_COLUMNS, width - indent)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += _wrap_paragraph(paragraph, room)
    return [line.replace(glue, " ") for line in lines] if glue else lines


def _wrap_paragraph(paragraph: str, room: int) -> list[str]:
    parts = _SPACES.split(paragraph)  # words at even positions, runs of spaces between
    lines: list[str] = []
    line, used = parts[0], text_width(parts[0])  # leading spaces (parts[0] == "") stay below
    for i in range(1, len(parts), 2):
        spaces, word = parts[i], parts[i + 1]
        if not word:  # spaces at the end of the paragraph
            break
        cost = len(spaces) + text_width(word)
        if used + cost <= room or not line.strip(" "):
            line, used = line + spaces + word, used + cost
        else:
            lines.append(line)
            line, used = word, text_width(word)
    lines.append(line)
    return lines
