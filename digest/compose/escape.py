"""Other people's text → markdown that shows exactly that text: the one escaping rule of `add` and `collect`.

A page's og:title or a feed entry's title is text, not markdown: `*stars*` must stay
two stars, `![img](http://x/y.png)` must not load a third party's image, a backticked
word must not become code.  Every character CommonMark (with GFM tables and
strikethrough, as digest.core.markdown parses) could read as markup gets a backslash,
which CommonMark defines for every ASCII punctuation character, so the rendered text is
the original character for character.

Rules (the smallest set that keeps the YAML readable; tests/test_compose_hostile.py checks
by rendering that the text comes back unchanged):
- anywhere: ``\\`` `` ` `` ``*`` ``_`` ``~`` ``[`` ``]``; ``&`` only where it starts an entity
  (``&amp;``, ``&#38;``); ``<`` only where it could start an autolink (``<https:…>``,
  ``<a@b.org>``; raw HTML is never live in digest);
- at the start of a line: ``#`` ``>`` ``+`` ``-`` ``=`` (headings, quotes, lists, rules,
  setext underlines) and the ``.``/``)`` of ``1.`` (ordered lists);
- ``|`` only in text of more than one line (a table needs a second, delimiter, line).
"""

from __future__ import annotations

import re

_ANYWHERE = re.compile(r"([\\`*_~\[\]])")
_ENTITY = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)")
_AUTOLINK = re.compile(r"<(?=[A-Za-z][A-Za-z0-9.+-]{1,31}:|[^\s<>@]+@)")
_LINE_MARK = re.compile(r"^([ \t]*)([#>+=-])", re.MULTILINE)
_ORDERED = re.compile(r"^([ \t]*[0-9]{1,9})([.)])", re.MULTILINE)


def escape_markdown(text: str, *, pipes: bool | None = None) -> str:
    """``text`` as markdown that renders to exactly ``text``; ``pipes``: escape ``|`` (default: when
    the text has more than one line; a piece of a larger document may need it anyway)."""
    text = _ANYWHERE.sub(r"\\\1", text)
    text = _ENTITY.sub(r"\\&", text)
    text = _AUTOLINK.sub(r"\\<", text)
    text = _LINE_MARK.sub(r"\1\\\2", text)
    text = _ORDERED.sub(r"\1\\\2", text)
    if pipes or (pipes is None and "\n" in text):
        text = text.replace("|", "\\|")
    return text
