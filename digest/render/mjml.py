"""MJML to HTML through MRML (mjml-python), with what MRML needs to keep every character,
and the inbox preview text hidden the way spam filters accept (:func:`quiet_preview`)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from digest.render.errors import MjmlError

_ENTITY = re.compile(r"&[A-Za-z][A-Za-z0-9]*;")


def mjml_error_line(mjml_src: str, filename: str | None) -> tuple[int, str]:
    """The template line most likely at fault when MJML refuses what it produced, and what
    is wrong there (MRML's own errors carry no position).  The produced markup is checked
    as XML (which MJML is, but for HTML's named entities); the first line lxml stumbles on
    is looked up in the template's source, where most of an MJML template's lines stand as
    they are written.  Line 1 when nothing better is known."""
    from lxml import etree  # type: ignore[import-untyped]

    try:
        etree.fromstring(
            _ENTITY.sub("&amp;", mjml_src).encode(), etree.XMLParser(resolve_entities=False, no_network=True)
        )
        return 1, ""
    except etree.XMLSyntaxError as e:
        produced_line, message = e.lineno or 1, str(e.msg or "").split(", line ")[0]
        if m := re.match(r"Opening and ending tag mismatch: (\S+) line (\d+) and", message):
            produced_line, message = int(m.group(2)), f"<{m.group(1)}> is never closed"
    detail = f" ({message})" if message else ""
    return source_line(mjml_src, produced_line, filename), detail


def source_line(mjml_src: str, produced_line: int, filename: str | None) -> int:
    """The line of the template at ``filename`` that most likely wrote line ``produced_line``
    of ``mjml_src``: the same text, else one containing it, else the same number."""
    produced = mjml_src.splitlines()
    wanted = produced[produced_line - 1].strip() if 0 < produced_line <= len(produced) else ""
    try:
        source = Path(filename).read_text(encoding="utf-8-sig").splitlines() if filename else []
    except (OSError, UnicodeDecodeError):
        source = []
    if wanted:
        for number, text in enumerate(source, 1):
            if text.strip() == wanted:
                return number
        for number, text in enumerate(source, 1):
            if wanted in text or (text.strip() and text.strip() in wanted and len(text.strip()) > 8):
                return number
    return min(produced_line, max(1, len(source)))


# MRML parses and renders recursively: 5,000 nested <mj-wrapper> (or about 12,000 nested
# <div>) overflow its thread's stack and the process dies with SIGSEGV, no message.  A real
# email nests about 30 deep (markdown-it stops at 20 levels), so the MJML a template produces
# is refused past MAX_DEPTH, far from the crash even on a thread with a 1 MiB stack.
MAX_DEPTH = 200
_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][\w:.-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.DOTALL)
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def too_deep(mjml_src: str) -> tuple[int, str] | None:
    """(line of ``mjml_src``, tag) where elements first nest deeper than MAX_DEPTH, or None.
    Counted as an HTML parser would: void and self-closed elements do not nest, and an end
    tag closes what is open down to its element (an unclosed <p> does not count for ever)."""
    stack: list[str] = []
    for m in _TAG.finditer(mjml_src):
        name = m.group(2)
        if name is None:  # a comment
            continue
        name = name.lower()
        if m.group(1):
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
        elif not m.group(3).rstrip().endswith("/") and name not in _VOID:
            stack.append(name)
            if len(stack) > MAX_DEPTH:
                return mjml_src.count("\n", 0, m.start()) + 1, name
    return None


# MRML (the Rust MJML inside mjml-python 1.4) writes some characters of attribute values
# as Rust escapes: the alt text "ومارّة" comes out as "ومار\u{651}ة", a Persian
# zero-width non-joiner as "\u{200c}" (also in the aria-label MJML makes from the
# title).  Affected: combining marks, format characters (ZWNJ, ZWJ in emoji, bidi
# controls, DEL), non-ASCII spaces (NBSP, U+202F) and a few fillers.  Written as numeric
# character references they pass through MRML untouched, and lxml (inline_css) turns
# them back into the characters.  Except C1 controls (U+0080-U+009F): an HTML parser,
# lxml's included, reads &#x80;-&#x9f; as the Windows-1252 characters (&#x86; is "†",
# &#x93; is "“"), so the email would show a character that the web page and the feeds
# do not have.  Once MRML is done they go back in as the characters themselves.
# MRML also doubles a backslash in an attribute value (alt="a\\b" for a\b, and in the
# aria-label it copies from <mj-title>), so a backslash is written as a reference too,
# except in <mj-style>, whose CSS would not read a reference (and keeps its own escapes).
_MRML_FILLERS = "\u115f\u1160\u3164\uffa0\uff9e\uff9f"
_MRML_CANDIDATE = re.compile(f"[^\\x00-\\x7e\\w]|[{_MRML_FILLERS}]")  # letters and digits are safe; DEL is not
_MJ_STYLE = re.compile(r"(<mj-style\b.*?</mj-style>)", re.DOTALL)


def _mrml_safe(mjml_src: str) -> str:
    def encode(match: re.Match[str]) -> str:
        ch = match.group()
        if unicodedata.category(ch)[0] in "MCZ" or ch in _MRML_FILLERS:
            return f"&#x{ord(ch):x};"
        return ch

    parts = _MJ_STYLE.split(_MRML_CANDIDATE.sub(encode, mjml_src))  # odd parts are <mj-style> blocks
    return "".join(part if i % 2 else part.replace("\\", "&#x5c;") for i, part in enumerate(parts))


_C1_REFERENCE = re.compile("&#x([89][0-9a-f]);")  # as _mrml_safe writes them: user text's own "&" is "&amp;"


def _c1_raw(html: str) -> str:
    return _C1_REFERENCE.sub(lambda m: chr(int(m.group(1), 16)), html)


def mjml_to_html(mjml_src: str) -> str:
    import mjml

    # fonts={} stops MJML from linking Google Fonts; comments stay because Outlook's
    # layout lives in <!--[if mso]> conditional comments.
    try:
        html: str = mjml.mjml2html(_mrml_safe(mjml_src), disable_comments=False, fonts={})
    except Exception as e:  # mjml-python raises bare ValueErrors from the Rust parser
        raise MjmlError(str(e)) from e
    return quiet_preview(_c1_raw(html))


# MJML's mj-preview hides the inbox preview text as white 1 px text (color:#ffffff;
# font-size:1px), which spam filters score as hidden text: SpamAssassin's
# HTML_FONT_LOW_CONTRAST (0.7 on every message), and FONT_INVIS_MSGID for the 1 px size
# alone.  The same text hidden by display, height and overflow (mso-hide for Outlook)
# scores nothing.  MJML has no option for it, so its style is replaced here; it stays the
# body's first child, where inboxes look for it.
_MJ_PREVIEW = re.compile(r'(<body\b[^>]*>\s*<div style=")display:none;font-size:1px;color:#ffffff;[^"]*(")')
PREVIEW_STYLE = "display:none;max-height:0;overflow:hidden;mso-hide:all"


def quiet_preview(html: str) -> str:
    """MJML's hidden preview text, hidden the way spam filters accept (see above)."""
    return _MJ_PREVIEW.sub(lambda m: m.group(1) + PREVIEW_STYLE + m.group(2), html, count=1)
