"""The email's CSS inlined by premailer, and the bytes MJML and premailer add beyond the design taken out.

premailer and lxml are imported inside the functions that use them.
"""

from __future__ import annotations

import re
import types
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import escape

from digest.core.models import Config
from digest.render.environment import UNSUBSCRIBE_PLACEHOLDER

if TYPE_CHECKING:
    import logging

    import premailer


# lxml's HTML serializer (which premailer uses) percent-encodes href and src values:
# non-ASCII characters and spaces, and older libxml2 versions more.  So a link to
# https://éxample.com/ünï would reach the reader as https://%C3%A9xample.com/%C3%BCn%C3%AF
# (a host that is no longer the editor's), and a merge tag in a URL could be mangled.
# Links and images must reach the reader exactly as MJML wrote them, like in the web
# page and the feeds: every href/src value crosses premailer as an ASCII token and is
# put back afterwards.  MJML always writes these attributes double-quoted.
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')
_URL_TOKEN = re.compile(r'(\s(?:href|src)=")https://url-(\d+)\.digest\.invalid/(")')


def _protect_urls(html: str) -> tuple[str, list[str]]:
    urls: list[str] = []

    def token(match: re.Match[str]) -> str:
        urls.append(match.group(2))
        return f"{match.group(1)}https://url-{len(urls) - 1}.digest.invalid/{match.group(3)}"

    return _URL_ATTR.sub(token, html), urls


def _restore_urls(html: str, urls: list[str]) -> str:
    return _URL_TOKEN.sub(lambda m: m.group(1) + urls[int(m.group(2))] + m.group(3), html)


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


def inline_css(html: str) -> str:
    """Move <style> rules into style="" attributes; media queries stay in <style>."""
    import logging


    doctype = "<!doctype html>"
    # premailer keeps a doctype only if it matches lxml's spelling case-sensitively;
    # take MJML's off and put it back verbatim.
    body = html.lstrip()
    if body[: len(doctype)].lower() == doctype:
        body = body[len(doctype) :]
    inliner = _inliner_class()(
        body,
        allow_network=False,
        session=_NoNetwork(),
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=False,  # inlinable rules move out; @media rules are left over
        strip_important=False,  # left-over @media rules need !important to beat inline
        remove_classes=False,  # the @media rules still select by class
        # MJML sets width/height attributes for Outlook (e.g. <img width="552">);
        # premailer would overwrite them from CSS ("100%"), breaking Outlook's sizes.
        disable_basic_attributes=["width", "height"],
        disable_validation=True,  # mso-* properties are not CSS 2.1, but needed
        cssutils_logging_level=logging.CRITICAL,
        cssutils_logging_handler=_null_handler(),
    )
    # pretty_print would add whitespace between MJML's inline-block columns.
    inlined: str = inliner.transform(pretty_print=False)
    return doctype + inlined


def _defer_requests() -> None:
    """Let premailer import without loading requests until something uses it.

    premailer imports requests (40 ms, about a tenth of an edit build) only to fetch
    external stylesheets, which a build never lets it do: no network during a build
    (allow_network=False, and a session that refuses).  So premailer is given a stand-in
    module that loads the real requests on first use, which a build never reaches."""
    import sys

    if "requests" not in sys.modules:
        sys.modules["requests"] = _DeferredModule("requests")


class _DeferredModule(types.ModuleType):
    """Stands in for a module until an attribute is asked of it: then the real module is
    imported, takes its place in sys.modules, and answers this and every later lookup."""

    def __getattr__(self, name: str) -> Any:
        import importlib
        import sys

        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, name)


class _NoNetwork:
    """premailer's HTTP session: a build never fetches anything."""

    def get(self, url: str, *args: Any, **kwargs: Any) -> Any:
        raise OSError(f"digest never uses the network during a build (asked for {url})")


@lru_cache(maxsize=1)
def _inliner_class() -> type[premailer.Premailer]:
    """premailer, keeping what it makes of each stylesheet for the life of the process.

    premailer turns every <style> block back and forth through cssutils on every call
    (a third of a build's time).  An email's stylesheets are the same text for every
    issue of a newsletter, and what premailer makes of a text depends only on the
    text, its position and the options, which are fixed here; so each is made once.
    transform() only reads the parsed rules; the leftover @media rules it turns into
    text once more, which is kept too.
    """
    _defer_requests()
    import premailer

    Rules = tuple[list[tuple[tuple[int, ...], str, str]], list[Any]]
    parsed: dict[tuple[str, int], Rules] = {}
    leftover_text: dict[int, tuple[list[Any], str]] = {}

    class Inliner(premailer.Premailer):
        def _style_to_basic_html_attributes(self, element: Any, style_content: str, force: bool = False) -> None:
            # premailer copies background-color into bgcolor on every element; HTML allows
            # it (and old clients read it) only on these.  A bgcolor MJML wrote stays.
            had = "bgcolor" in element.attrib
            super()._style_to_basic_html_attributes(element, style_content, force)
            if not had and element.tag not in BGCOLOR_ELEMENTS:
                element.attrib.pop("bgcolor", None)

        def _parse_style_rules(self, css_body: str, ruleset_index: int) -> Rules:
            key = (css_body or "", ruleset_index)
            if key not in parsed:
                if len(parsed) >= 64:  # a template that varies its CSS per issue
                    parsed.clear()
                    leftover_text.clear()
                parsed[key] = super()._parse_style_rules(css_body, ruleset_index)
            return parsed[key]

        def _css_rules_to_string(self, rules: list[Any]) -> str:
            known = leftover_text.get(id(rules))
            if known is not None and known[0] is rules:
                return known[1]
            text: str = super()._css_rules_to_string(rules)
            if any(rules is leftover for _, leftover in parsed.values()):
                leftover_text[id(rules)] = (rules, text)
            return text

    return Inliner


@lru_cache(maxsize=1)
def _null_handler() -> logging.Handler:
    """One shared handler: premailer adds it to cssutils' logger on every Premailer(),
    and logging skips a handler that is already attached, so they never pile up."""
    import logging

    return logging.NullHandler()


BGCOLOR_ELEMENTS = frozenset({"table", "td", "body"})
# MJML writes height="auto" on every <img>, which is not a valid height (a number of pixels);
# the inline style's height:auto does the work, and Outlook sizes an image by its width.
_IMG_HEIGHT_AUTO = re.compile(r'(<img\b(?:\s+[\w:-]+(?:="[^"]*")?)*?)\s+height="auto"')  # values are double-quoted


def finish_email(html: str, config: Config) -> str:
    html = _IMG_HEIGHT_AUTO.sub(r"\1", html)
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


_STYLE_ATTR = re.compile(r'(\sstyle=")([^"]*)(")')
_CLASS_ATTR = re.compile(r'\sclass="([^"]*)"')
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL)
_CSS_CLASS = re.compile(r"\.(-?[A-Za-z_][\w-]*)")
_CONDITIONAL = re.compile(r"<!--\[if ([^\]]+)\]>(?!<!-->)(.*?)<!\[endif\]-->", re.DOTALL)
_BLOCK = "p|div|ul|ol|li|table|thead|tbody|tr|th|td|h[1-6]|blockquote|hr|pre"
_BLOCK_GAP = re.compile(rf"(<(?:/?(?:{_BLOCK})|hr|br)\b[^>]*>)\s+(?=<)|\s+(?=</?(?:{_BLOCK})\b)")
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
        box = dict(zip(_SIDES, (values * 4)[:4] if len(values) == 1 else [values[0], values[1], values[2 % len(values)], values[-1] if len(values) == 4 else values[1]], strict=True))
        later = [(i, p.removeprefix(prop + "-")) for i, (p, v) in enumerate(declarations) if i > at[0] and p.startswith(prop + "-")]
        if not later or any(side not in _SIDES or not _LENGTH.fullmatch(declarations[i][1]) for i, side in later):
            continue
        for i, side in later:
            box[side] = declarations[i][1]
        top, right, bottom, left = (box[s] for s in _SIDES)
        short = [top, right, bottom, left] if left != right else [top, right, bottom] if top != bottom else [top, right] if top != right else [top]
        folded = {i for i, _ in later}
        declarations = [(p, " ".join(short) if i == at[0] else v) for i, (p, v) in enumerate(declarations) if i not in folded]
    return declarations


def _compact_style(match: re.Match[str]) -> str:
    return match.group(1) + _compact_css(match.group(2)) + match.group(3)


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

    def classes(m: re.Match[str]) -> str:
        kept = [name for name in m.group(1).split() if name in used]
        return f' class="{" ".join(kept)}"' if kept else ""

    html = _CLASS_ATTR.sub(classes, _STYLE_ATTR.sub(_compact_style, html))
    html = _merge_conditionals(html)
    parts = _PRE.split(html)  # odd parts are <pre> elements: their whitespace is content
    return "".join(part if i % 2 else _BLOCK_GAP.sub(r"\1", part) for i, part in enumerate(parts))
