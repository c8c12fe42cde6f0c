"""The email's CSS inlined by premailer (css_inline), and the bytes MJML and premailer add beyond
the design taken out.

premailer and lxml are imported only when an email is inlined.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import escape

from digest.core.models import Config
from digest.render.css_inline import BGCOLOR_ELEMENTS, inline_css, preload
from digest.render.environment import UNSUBSCRIBE_PLACEHOLDER

if TYPE_CHECKING:
    pass

__all__ = ["BGCOLOR_ELEMENTS", "finish_email", "inline_css", "inline_email", "lean_email", "preload"]


# lxml's HTML serializer (which premailer uses) percent-encodes href and src values:
# non-ASCII characters and spaces, and older libxml2 versions more.  So a link to
# https://éxample.com/ünï would reach the reader as https://%C3%A9xample.com/%C3%BCn%C3%AF
# (a host that is no longer the editor's), and a merge tag in a URL could be mangled.
# Links and images must reach the reader exactly as MJML wrote them, like in the web
# page and the feeds: every href/src value crosses premailer as an ASCII token and is
# put back afterwards.  MJML always writes these attributes double-quoted.
#
# The attribute patterns here start with a literal ('="', 'style="'), which the regex engine
# searches for by itself, and look behind for the attribute's name and the space before it:
# a pattern that starts with \s is tried at every space of the text, several times slower.
_URL_ATTR = re.compile(r'="(?:(?<=\shref=")|(?<=\ssrc="))([^"]*)"')
_URL_TOKEN = re.compile(r'="(?:(?<=\shref=")|(?<=\ssrc="))https://url-(\d+)\.digest\.invalid/"')


def _protect_urls(html: str) -> tuple[str, list[str]]:
    # re.split gives [text, URL, text, URL, ..., text].
    parts = _URL_ATTR.split(html)
    urls = parts[1::2]
    parts[1::2] = [f'="https://url-{i}.digest.invalid/"' for i in range(len(urls))]
    return "".join(parts), urls


def _restore_urls(html: str, urls: list[str]) -> str:
    parts = _URL_TOKEN.split(html)
    parts[1::2] = [f'="{urls[int(i)]}"' for i in parts[1::2]]
    return "".join(parts)


def inline_email(html: str) -> str:
    """MJML's HTML with its CSS inlined and the bytes beyond the design taken out; every
    link and image URL exactly as MJML wrote it; code blocks Outlook can wrap."""
    html, urls = _protect_urls(_reset_rules_in_head(html))
    return _restore_urls(outlook_code_blocks(lean_email(inline_css(html))), urls)


# Classic Outlook for Windows (Word's engine) never wraps a <pre>: a long line of code
# widens the whole email past the screen (This Week in Rust has code lines of up to 364
# characters).  So Outlook, alone, gets each code block as a table cell of monospace text,
# which it wraps at spaces and breaks where a word is wider than the cell: lines end in
# <br>, runs of spaces keep their width as "&nbsp; ", and a spacer row stands for the
# <pre>'s bottom margin (Word ignores a table's).  Every other client reads the <pre>
# (white-space: pre-wrap wraps it there).  The two stand in conditional comments, so each
# client sees one; the code's text is carried twice, which costs its bytes once more, so
# only a block with a line too long for the column gets it.
_PRE_BLOCK = re.compile(r"<pre\b([^>]*)>(?:<code\b[^>]*>)?(.*?)(?:</code>)?</pre>", re.DOTALL)
_PRE_STYLE = re.compile(r'\sstyle="([^"]*)"')
_CELL_DROPS = ("white-space", "margin")
_PRE_FITS = 70  # characters of 13 px monospace in the 552 px column (about 7.8 px each)


def _outlook_code(match: re.Match[str]) -> str:
    import html

    if max(map(len, html.unescape(match.group(2)).split("\n"))) <= _PRE_FITS:
        return match.group(0)  # every line fits the column: Outlook shows the <pre> as it is
    style = _PRE_STYLE.search(match.group(1))
    kept = [d for d in (style.group(1).split(";") if style else []) if d.split(":", 1)[0].strip() not in _CELL_DROPS]
    cell = ";".join([*kept, "font-family:Consolas,'Courier New',monospace", "word-wrap:break-word"])
    lines = match.group(2).removesuffix("\n").split("\n")
    text = "<br>".join(re.sub(r"^ ", "&nbsp;", line.replace("  ", " &nbsp;")) for line in lines)
    return (
        '<!--[if mso]><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"'
        f' style="table-layout:fixed"><tr><td style="{cell}">{text}</td></tr>'
        '<tr><td style="height:12px;font-size:0;line-height:0">&nbsp;</td></tr></table><![endif]-->'
        f"<!--[if !mso]><!-->{match.group(0)}<!--<![endif]-->"
    )


def outlook_code_blocks(html: str) -> str:
    """Each <pre> of the email beside a table cell for Outlook (see above)."""
    return _PRE_BLOCK.sub(_outlook_code, html) if "<pre" in html else html


# MJML writes height="auto" on every <img>, which is not a valid height (a number of pixels);
# the inline style's height:auto does the work, and Outlook sizes an image by its width.
_IMG_HEIGHT_AUTO = re.compile(r'(<img\b(?:\s+[\w:-]+(?:="[^"]*")?)*?)\s+height="auto"')  # values are double-quoted
# An image of known size (a local image) has MJML's height in pixels in its style too, which would
# stretch it in a column narrower than 600 px: the attribute keeps the pixels (the space the image
# takes before it loads, and Outlook's size), the style says auto, so the width alone decides.
_IMG_STYLE_HEIGHT = re.compile(r'(<img\b[^>]*?\bheight="\d+"[^>]*?\bstyle="[^"]*?)(?<![\w-])height:\s*\d+px')


def finish_email(html: str, config: Config) -> str:
    html = _IMG_HEIGHT_AUTO.sub(r"\1", html)
    html = _IMG_STYLE_HEIGHT.sub(r"\1height:auto", html)
    url = config.email.unsubscribe_url
    if url:
        # Escape only (& → &amp;, " → &#34;): the merge tag must reach the mailing
        # service character for character.
        html = html.replace(UNSUBSCRIBE_PLACEHOLDER, str(escape(url)))
    return html


# --- a lean email -------------------------------------------------------------------
# Gmail clips a message over 102 KB.  The bytes MJML and premailer add beyond the design
# are taken out here, without changing what any client shows:
# - MJML's reset rules for tables, cells and paragraphs (border-collapse, mso-table-*
#   spacing, p's display:block) stay in <head> instead of being inlined on every cell:
#   the layout tables carry cellspacing/cellpadding/border attributes anyway, the mso-*
#   properties are read only by Outlook, which reads <head> styles, and every <p> has
#   its margin inline from the email's own stylesheet.
# - style="" attributes lose the spaces premailer writes between declarations.
# - class="" names that no remaining <style> rule selects are dropped (premailer keeps
#   them all because the @media rules still select by class).
# - Adjacent Outlook conditional comments with the same condition are merged.
# - Whitespace between block tags goes (never inside <pre>), and the whitespace in <style>
#   blocks that CSS does not need.
# - MJML's responsive rule for a full-width column (.mj-column-per-100: width and max-width
#   100%) goes: the column's inline style is width:100% already, so it changes nothing.
_MJML_RESET = re.compile(r'<style type="text/css">\s*(#outlook a \{.*?)</style>', re.DOTALL)
_HEAD_ONLY_RULES = ("#outlook a", "table, td", "p ")


def _reset_rules_in_head(html: str) -> str:
    m = _MJML_RESET.search(html)
    if not m:
        return html
    rules = [" ".join(rule.split()) + "}" for rule in m.group(1).split("}") if rule.strip()]
    head = "".join(r for r in rules if r.startswith(_HEAD_ONLY_RULES))
    inline = "".join(r for r in rules if not r.startswith(_HEAD_ONLY_RULES))
    blocks = f'<style type="text/css" data-premailer="ignore">{head}</style><style type="text/css">{inline}</style>'
    return html[: m.start()] + blocks + html[m.end() :]


_STYLE_ATTR = re.compile(r'style="(?<=\sstyle=")([^"]*)"')  # see _URL_ATTR
_CLASS_ATTR = re.compile(r'class="(?<=\sclass=")([^"]*)"')
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL)
_CSS_CLASS = re.compile(r"\.(-?[A-Za-z_][\w-]*)")
_CONDITIONAL = re.compile(r"<!--\[if ([^\]]+)\]>(?!<!-->)(.*?)<!\[endif\]-->", re.DOTALL)
_BLOCK = "p|div|ul|ol|li|table|thead|tbody|tr|th|td|h[1-6]|blockquote|hr|pre"
# Whitespace goes after a block tag (or hr, br) when a tag follows, and before a block tag.
# Both patterns start with "<", which the regex engine searches for by itself: a pattern
# that starts with \s is tried at every space of the text (30 times slower).  The second
# splits at a block tag that follows whitespace; that whitespace is then stripped.
_GAP_AFTER_BLOCK = re.compile(rf"(<(?:/?(?:{_BLOCK})|hr|br)\b[^>]*>)\s+(?=<)")
_SPACE_BEFORE_BLOCK = re.compile(rf"<(?<=\s<)(?=/?(?:{_BLOCK})\b)")
_PRE = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL)


_SIDES = ("top", "right", "bottom", "left")
_LENGTH = re.compile(r"-?\d+(?:\.\d+)?(?:px|em|%)?|auto")


def _fold_sides(declarations: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``margin:0 0 12px;margin-top:20px`` as ``margin:20px 0 12px`` (the same box; padding too)."""
    for prop in ("margin", "padding"):
        at = [i for i, (p, _) in enumerate(declarations) if p == prop]
        if len(at) != 1:
            continue
        values = declarations[at[0]][1].split()
        if not 1 <= len(values) <= 4 or not all(_LENGTH.fullmatch(v) for v in values):
            continue
        box = dict(
            zip(
                _SIDES,
                (
                    (values * 4)[:4]
                    if len(values) == 1
                    else [values[0], values[1], values[2 % len(values)], values[-1] if len(values) == 4 else values[1]]
                ),
                strict=True,
            )
        )
        later = [
            (i, p.removeprefix(prop + "-"))
            for i, (p, v) in enumerate(declarations)
            if i > at[0] and p.startswith(prop + "-")
        ]
        if not later or any(side not in _SIDES or not _LENGTH.fullmatch(declarations[i][1]) for i, side in later):
            continue
        for i, side in later:
            box[side] = declarations[i][1]
        top, right, bottom, left = (box[s] for s in _SIDES)
        short = (
            [top, right, bottom, left]
            if left != right
            else [top, right, bottom]
            if top != bottom
            else [top, right]
            if top != right
            else [top]
        )
        folded = {i for i, _ in later}
        declarations = [
            (p, " ".join(short) if i == at[0] else v) for i, (p, v) in enumerate(declarations) if i not in folded
        ]
    return declarations


def _rewrite_attributes(html: str, pattern: re.Pattern[str], name: str, value: Callable[[str], str | None]) -> str:
    """Each attribute ``pattern`` finds (name="value" after a space) with value(its value);
    None drops it and the space before it.

    Through re.split ([text, value, text, ...]): a third faster than re.sub with a function."""
    parts = pattern.split(html)
    for i in range(1, len(parts), 2):
        new = value(parts[i])
        if new is None:
            parts[i - 1] = parts[i - 1][:-1]
            parts[i] = ""
        else:
            parts[i] = f'{name}="{new}"'
    return "".join(parts)


_UNUSUAL = re.compile(r"""['"(][^'")]*;""")


@lru_cache(maxsize=4096)
def _compact_css(css: str) -> str:
    """One style attribute's declarations without spaces, margin and padding sides folded
    (cached: MJML writes the same few styles on every item)."""
    if _UNUSUAL.search(css) or "!important" in css:  # leave anything unusual as written
        return css
    declarations = [(p.strip(), v.strip()) for p, _, v in (d.partition(":") for d in css.split(";") if d.strip())]
    return ";".join(f"{p}:{v}" for p, v in _fold_sides(declarations))


def _merge_conditionals(html: str) -> str:
    out: list[str] = []
    pos, last_end, last_condition = 0, -1, ""
    for m in _CONDITIONAL.finditer(html):
        if m.start() == last_end and m.group(1) == last_condition:
            out[-1] = out[-1][: -len("<![endif]-->")] + m.group(2) + "<![endif]-->"
        else:
            out += [html[pos : m.start()], m.group(0)]
        pos = last_end = m.end()
        last_condition = m.group(1)
    return "".join(out) + html[pos:]


# MJML writes these two for every full-width column; with the inline width:100% they are no-ops.
_FULL_COLUMN_RULES = re.compile(
    r"(?:\.moz-text-html\s+)?\.mj-column-per-100\s*\{\s*width:\s*100%\s*!important;\s*max-width:\s*100%(?:\s*!important)?;?\s*\}"
)
_EMPTY_MEDIA = re.compile(r"@media[^{};]*\{\s*\}")
_EMPTY_STYLE = re.compile(r"<style\b[^>]*>\s*</style>")
_CSS_GAP = re.compile(r"\s*([{};,>])\s*|(:)\s+|\s{2,}")
_IMPORTANT = re.compile(r"\s+!important")


@lru_cache(maxsize=64)
def _lean_css(css: str) -> str:
    """Whitespace CSS does not need: around braces, semicolons, commas and child
    combinators, after colons, runs of it; descendant combinators keep their one space.
    Left alone if it holds a string or a comment (their spaces are content)."""
    if any(c in css for c in "'\"/"):
        return css
    css = _EMPTY_MEDIA.sub("", _FULL_COLUMN_RULES.sub("", css))
    css = _CSS_GAP.sub(lambda m: m.group(1) or m.group(2) or " ", css).strip()
    return _IMPORTANT.sub("!important", css).replace(";}", "}")


def _lean_style_blocks(html: str) -> str:
    html = _STYLE_BLOCK.sub(lambda m: m.group(0).replace(m.group(1), _lean_css(m.group(1))), html)
    return _EMPTY_STYLE.sub("", html)


def lean_email(html: str) -> str:
    """The inlined email with the bytes taken out that change nothing a client shows (see above)."""
    html = _lean_style_blocks(html)
    used = {name for css in _STYLE_BLOCK.findall(html) for name in _CSS_CLASS.findall(css)}

    def classes(value: str) -> str | None:
        kept = [name for name in value.split() if name in used]
        return " ".join(kept) if kept else None

    html = _rewrite_attributes(html, _STYLE_ATTR, "style", _compact_css)
    html = _rewrite_attributes(html, _CLASS_ATTR, "class", classes)
    html = _merge_conditionals(html)
    parts = _PRE.split(html)  # odd parts are <pre> elements: their whitespace is content
    return "".join(part if i % 2 else _block_gaps(part) for i, part in enumerate(parts))


def _block_gaps(html: str) -> str:
    pieces = _SPACE_BEFORE_BLOCK.split(_GAP_AFTER_BLOCK.sub(r"\1", html))
    return "<".join([piece.rstrip() for piece in pieces[:-1]] + pieces[-1:])
