"""How wide a markdown table may be on a 320 px phone, and the column shares of one that
must be laid out by the email itself (see the rule below); :mod:`digest.core.markdown`
renders the table with them."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it.token import Token

# Tables on a 320 px phone.  The email's text column there is 272 px (the web page's
# 280 px).  A table's cells keep their words whole (word-break: normal; overflow-wrap:
# break-word), so with the browser's own (auto) layout a table is at least as wide as its
# columns' longest words, and whether that fits can only be estimated here, without the
# reader's font: This Week in Rust's 4-column triage tables, estimated to fit by a count
# of characters, came out 277 px in 272.  So a table whose longest words come anywhere
# near the width (over _SAFE of it, room for a font wider than the estimate) is laid out
# by the email itself: class md-fit, width 100% and table-layout: fixed, a size smaller
# (13 px, 5 px side padding) and each column's share written on its header cell.  Such
# a table fits any screen whatever the font, a word breaks only where it is wider than
# its cell, and the shares give each column its longest word first where the width
# allows, then room in proportion to its text.  A table well under the width keeps the
# auto layout and its natural width.
_PHONE_EM = 18.5  # 272 px of the email's 14 px table text (the page: 280 px of 15 px)
_SAFE = 0.85
_CELL_EM = 1.2  # a cell's padding and border: 8 + 8 + 1 px at 14 px
# 272 px of an md-fit table's 13 px is 20.9 em (the page: 280 px of 13 px, 21.5 em), less
# a margin for fonts wider than the estimate's (the page's system-ui is DejaVu Sans on
# many Linux systems, about a tenth wider than Arial).
_FIT_EM = 19.5
_FIT_CELL_EM = 0.85  # 5 + 5 + 1 px at 13 px
BOLD = 1.15  # header cells are bold (in DejaVu Sans, a sixth wider than regular Arial)
_NARROW = frozenset(" .,:;'!|()[]{}ijlIft/\\\"`")
_WIDE = frozenset("mwMW%@")
# Where a browser may break a line inside a cell's text: at spaces, and after a hyphen
# between a letter or digit and a letter ("incr-|patched", never "-|12.4%" or "2024-|06").
_BREAKS = re.compile(r" |(?<=\w-)(?=[^\W\d_])")


def _em(text: str, code: bool = False) -> float:
    """An estimate of ``text``'s width in em in a sans-serif font (Arial, Roboto and San
    Francisco are within a few per cent of it); code in a monospace one."""
    if code:
        return 0.62 * len(text)
    width = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            width += 1.25  # emoji and CJK
        elif unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        elif ch in _NARROW:
            width += 0.3
        elif ch in _WIDE:
            width += 0.88
        elif ch.isupper():
            width += 0.68
        else:
            width += 0.56
    return width


def cell_width(tokens: list[Token], idx: int) -> tuple[float, float]:
    """(its longest word, its whole text) in em, for the cell opening at ``idx``."""
    inline = tokens[idx + 1] if idx + 1 < len(tokens) else None
    if inline is None or inline.type != "inline":
        return 0.0, 0.0
    words: list[float] = [0.0]
    for child in inline.children or ():
        if child.type not in ("text", "code_inline"):
            continue
        for i, part in enumerate(_BREAKS.split(child.content)):
            if i:
                words.append(0.0)  # a space, or a hyphen between letters: the next word starts
            words[-1] += _em(part, child.type == "code_inline")
    spaces = len(words) - 1
    return max(words), sum(words) + 0.3 * spaces


def column_shares(columns: list[tuple[float, float]]) -> list[float] | None:
    """Each column's share of a full-width table in per cent, from its (longest word,
    longest cell) in em; None when the longest words fit well within a phone's width, so
    the browser's own layout can be left to it."""
    if not columns or sum(word + _CELL_EM for word, _ in columns) <= _SAFE * _PHONE_EM:
        return None
    least = [word + _FIT_CELL_EM for word, _ in columns]
    most = [max(text, word) + _FIT_CELL_EM for word, text in columns]
    if sum(most) <= _FIT_EM:  # every cell fits on one line: each column as wide as its text
        widths = most
    elif sum(least) <= _FIT_EM:  # the longest words fit: the room left goes where the text is,
        # after every column gets up to a sixth more than its longest word, for fonts wider
        # than the estimate (bold DejaVu Sans' "count" is a sixth wider than Arial's)
        margin = min(_FIT_EM / sum(least), 1 + 1 / 6)
        least = [w * margin for w in least]
        spare = _FIT_EM - sum(least)
        extra = [max(m - w, 0.0) for m, w in zip(most, least, strict=True)]
        widths = [w + spare * e / sum(extra) for w, e in zip(least, extra, strict=True)] if sum(extra) else least
    else:  # not every longest word fits: only the longest break, at the widest cap that fits
        ranked = sorted(least)
        for kept in range(len(ranked) - 1, -1, -1):  # as many columns kept whole as the width allows
            cap = (_FIT_EM - sum(ranked[:kept])) / (len(ranked) - kept)
            if kept == 0 or ranked[kept - 1] <= cap:
                break
        widths = [min(w, cap) for w in least]
    total = sum(widths)
    return [round(100 * w / total, 1) for w in widths]
