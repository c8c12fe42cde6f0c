"""CommonMark with GFM tables and strikethrough for intros, summaries and outros (and
inline markdown for titles), rendered safely to HTML (plain text: digest.core.plaintext).

Rules:
- Raw HTML is never live: markdown-it runs with ``html: False`` so tags show as text.
- Links may point only to http(s) and mailto URLs, and to the schemes config.yaml allows
  (``links: {schemes: [irc, ftp]}``); images only to http(s).  javascript:, data:,
  vbscript: and file: are never allowed (config validation refuses them, and
  :func:`url_problem` refuses them whatever the config says).  Validation reports any
  other target as an error at its line (:func:`bad_links`); rendering never emits one.
- Titles are inline markdown only (code spans, emphasis, strikethrough, links): a title
  such as "1. Intro" or "# tag" stays a title, never becomes a list or a heading.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from markupsafe import Markup

from digest.core import tables

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

# markdown-it is imported when a text is first parsed: a build with nothing to do, and
# config.yaml's URL checks, never need it.


_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")

# Schemes that run code or read local files in a mail client or browser: never allowed.
NEVER_SCHEMES = ("javascript", "data", "vbscript", "file")
SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")  # RFC 3986, lower case


def fragment(url: str) -> str | None:
    """The anchor a link to ``#anchor`` (a place in the same issue) names, percent-decoded; None for other links."""
    if not url.startswith("#") or len(url) < 2 or _CONTROL.search(url):
        return None
    from urllib.parse import unquote

    return unquote(url[1:])


def anchor_problem(url: str, anchors: frozenset[str] | None) -> str | None:
    """Why a link to ``#anchor`` leads nowhere: ``anchors`` are the issue's (None: the text is not an issue's)."""
    name = fragment(url)
    if name is None:
        return f"{_short(url)} names no anchor: write a section's or item's anchor after the '#', without spaces"
    if anchors is None:
        return f"{_short(url)} links to an anchor, but only an issue's text has anchors to link to"
    if name in anchors:
        return None
    import difflib

    close = [a for a in sorted(anchors) if a == name.lower()] or difflib.get_close_matches(name, sorted(anchors), 1)
    hint = f"; did you mean '#{close[0]}'?" if close else ""
    return (
        f"{_short(url)} is no anchor of this issue: link to a section's or item's id:, or to the slug of its title"
        f" (its permalink on the web page shows it){hint}"
    )


def url_problem(url: str, *, allow_mailto: bool = True, schemes: tuple[str, ...] = ()) -> str | None:
    """Why ``url`` is not an acceptable absolute link target, or None if it is.

    ``schemes`` are the further schemes config.yaml allows for links (never for images).
    """
    got = _short(url)
    if _CONTROL.search(url):
        return f"must be an http(s) URL without spaces or control characters, got {got}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"must be an http(s) URL, got {got}"
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.netloc or not parts.hostname:
            return f"must be an absolute http(s) URL with a host, got {got}"
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            return f"has an impossible port number (the most is 65535), got {got}"
        return None
    if allow_mailto and scheme == "mailto" and len(url) > len("mailto:"):
        return None
    if scheme in schemes and scheme not in NEVER_SCHEMES and len(url) > len(scheme) + 1:
        return None
    names = ["http(s)", *(["mailto"] if allow_mailto else []), *(x for x in schemes if x not in NEVER_SCHEMES)]
    kind = "an " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]) + " URL"
    if not scheme:  # relative, or a bare host name: say what a full address looks like
        return f"must be a full {kind.removeprefix('an ')} (like https://example.com/page), got {got}"
    return f"must be {kind}, got {got}"


def _short(url: str, limit: int = 60) -> str:
    """``repr`` of a URL cut short, so one long value cannot flood the output."""
    return repr(url) if len(url) <= limit else repr(url[: limit - 1]) + "…"


def _new_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = _new_parser()
    # Every link is checked by bad_links() during validation and by the renderers;
    # markdown-it's own silent filter would hide a bad link instead of reporting it.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.add_render_rule("heading_open", _heading)
    md.add_render_rule("heading_close", _heading)
    # The email styles user tables by this class: MJML's layout tables must keep theirs.
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("table_open", _table_open)
    md.add_render_rule("th_open", _cell)
    md.add_render_rule("td_open", _cell)
    return md


def _table_open(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    columns: dict[int, tuple[float, float]] = {}
    column = 0
    for i in range(idx + 1, len(tokens)):
        t = tokens[i].type
        if t == "table_close":
            break
        if t == "tr_open":
            column = 0
        elif t in ("th_open", "td_open"):
            word, text = tables.cell_width(tokens, i)
            if t == "th_open":
                word, text = word * tables.BOLD, text * tables.BOLD
            old = columns.get(column, (0.0, 0.0))
            columns[column] = (max(old[0], word), max(old[1], text))
            column += 1
    shares = tables.column_shares([columns[c] for c in sorted(columns)])
    env["shares"] = shares
    env["column"] = 0
    return '<table class="md-table">\n' if shares is None else '<table class="md-table md-fit">\n'


def _cell(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    if idx > 0 and tokens[idx - 1].type == "tr_open":
        env["column"] = 0
    column = env.get("column", 0)
    env["column"] = column + 1
    from markdown_it.common.utils import escapeHtml

    attrs = dict(tokens[idx].attrs)
    shares = env.get("shares")
    if shares and tokens[idx].tag == "th" and column < len(shares):
        # The header row sets a fixed table's column widths (CSS 2.1, 17.5.2.1).
        attrs["style"] = f"width:{shares[column]}%" + (f";{attrs['style']}" if attrs.get("style") else "")
    return f"<{tokens[idx].tag}" + "".join(f' {k}="{escapeHtml(str(v))}"' for k, v in attrs.items()) + ">"


@lru_cache(maxsize=1)
def _checking_parser() -> MarkdownIt:
    """The parser for validation: link targets as written, not percent-encoded.

    Rendering normalizes ``<https://a b>`` to ``https://a%20b``; validation must see
    the space the editor wrote, and the text it can find again in the file.
    """
    md = _new_parser()
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    return md


# Titles are plain text that may use inline markdown.  Autolinks stay text in them: a
# title such as "add From<core::ascii::Char>" names a type, not a link to "core:".
@lru_cache(maxsize=1)
def _title_checking_parser() -> MarkdownIt:
    """Like :func:`_checking_parser`, for titles: the one parse of a title (see :func:`parsed`)."""
    md = _new_parser().disable("autolink")
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    return md


@dataclass(frozen=True)
class BadLink:
    line_offset: int  # lines after the first line of the markdown text
    message: str
    url: str = ""  # the target as written (after markdown's own unescaping)


def parsed(src: str, schemes: tuple[str, ...] = (), inline: bool = False) -> list[Token]:
    """``src`` parsed once, for validation's link checks and for rendering alike.

    Each link and image target is kept as written in ``meta["written"]`` (what validation
    checks and reports: ``<https://a b>`` with its space), and in ``attrs`` as rendering
    writes it: normalized (``https://a%20b``), and made harmless if it is not allowed
    (unreachable after validation; defence in depth).  Renderers only read the tokens.
    Links may also use ``schemes`` (config.yaml's ``links.schemes``); images never.
    ``inline``: ``src`` is a title, parsed as inline markdown only.
    """
    # All three passed as values: lru_cache keys a call by how its arguments are spelt,
    # and parsed(src) then parsed(src, schemes, False) would parse one text twice.
    return _parse(src, schemes, inline)


@lru_cache(maxsize=512)
def _parse(src: str, schemes: tuple[str, ...], inline: bool) -> list[Token]:
    normalize = _parser().normalizeLink
    tokens = _title_checking_parser().parseInline(src) if inline else _checking_parser().parse(src)
    for block in tokens:
        for tok in block.children or ():
            if tok.type not in ("link_open", "image"):
                continue
            attr = "href" if tok.type == "link_open" else "src"
            written = str(tok.attrs.get(attr, ""))
            url = normalize(written)
            if attr == "href" and fragment(written) is not None:
                pass  # a place in the issue: validation checked that it is one
            elif attr == "href" and url_problem(url, schemes=schemes):
                url = "#"
            elif attr == "src" and url_problem(url, allow_mailto=False):
                url = ""
            tok.meta = {**(tok.meta or {}), "written": written}
            tok.attrs[attr] = url
    return tokens


def _inline_tokens(src: str, schemes: tuple[str, ...] = (), inline: bool = False) -> list[tuple[int, Token]]:
    """Link-bearing inline tokens with their line offsets in ``src``."""
    out: list[tuple[int, Token]] = []
    if "[" not in src and "<" not in src:
        return out  # no link, image or autolink can exist without one of these
    for block in parsed(src, schemes, inline):
        if block.type != "inline" or not block.children:
            continue
        line = block.map[0] if block.map else 0
        for child in block.children:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            out.append((line, child))
    return out


@dataclass(frozen=True)
class Link:
    line_offset: int
    kind: str  # "link" or "image"
    text: str  # the visible text, or the image's alt text
    target: str


def links(src: str, schemes: tuple[str, ...] = (), inline: bool = False) -> list[Link]:
    """Every link and image in ``src``, with its text as a reader (or screen reader) gets it.

    ``schemes`` only selects the parse validation and rendering share (targets are as written).
    """
    out: list[Link] = []
    current: tuple[int, str, list[str]] | None = None
    for line, tok in _inline_tokens(src, schemes, inline):
        if tok.type == "link_open":
            current = (line, str(tok.meta["written"]), [])
        elif tok.type == "link_close" and current is not None:
            out.append(Link(current[0], "link", "".join(current[2]), current[1]))
            current = None
        elif tok.type == "image":
            out.append(Link(line, "image", "".join(c.content for c in tok.children or ()), str(tok.meta["written"])))
        elif current is not None and tok.type in ("text", "code_inline"):
            current[2].append(tok.content)
    return out


@lru_cache(maxsize=256)
def bad_links(
    src: str, schemes: tuple[str, ...] = (), inline: bool = False, anchors: frozenset[str] | None = None
) -> tuple[BadLink, ...]:
    """Links and images in ``src`` whose target is not allowed (cached: an alias repeats a text).

    Links may be http(s), mailto or one of ``schemes``, or ``#anchor`` for one of ``anchors``
    (the issue's: digest.core.anchors); images only http(s).
    """
    problems = []
    for line, tok in _inline_tokens(src, schemes, inline):
        if tok.type == "link_open":
            url = str(tok.meta["written"])
            what = "link"
        elif tok.type == "image":
            url = str(tok.meta["written"])
            what = "image"
        else:
            continue
        if what == "link" and url.startswith("#"):
            if why := anchor_problem(url, anchors):
                problems.append(BadLink(line, f"markdown link target {why}", url))
            continue
        why = url_problem(url, allow_mailto=(what == "link"), schemes=schemes if what == "link" else ())
        if why and what == "image" and url.startswith("images/"):
            # Local images are published from an item's image: (digest.core.images), not from markdown.
            why += "; a picture from the newsletter's images/ folder goes in the item's image: {src: …, alt: …}"
        if why:
            problems.append(BadLink(line, f"markdown {what} target {why}", url))
    return tuple(problems)


# A link hook rewrites the href of every link (never an image) as it is rendered: the
# email's UTM tagging (digest.render.html).  It must be a value (hashable, equal for the
# same work), since rendering is cached on it.
LinkHook = Callable[[str], str]


@lru_cache(maxsize=4096)
def to_html(
    src: str, top: int = 1, schemes: tuple[str, ...] = (), *, link: LinkHook | None = None, rel: str | None = None
) -> Markup:
    """Render markdown to safe HTML (raw HTML in ``src`` appears as text).

    ``top`` is the level the text's highest headings get, so headings inside a blurb
    continue the page's outline instead of restarting it at h1.  The outline never
    skips a level (a screen reader's list of headings would show a gap): levels are
    ranked, so "#" then "###" become top and top + 1, a text that uses only "##" starts
    at top, and no heading is more than one level below the one before it.  Levels
    stop at h6.  ``link`` rewrites each link's href (see :data:`LinkHook`); ``rel`` is every
    link's rel (sponsored content's links on the web page: "sponsored").
    """
    md = _parser()
    tokens = parsed(src, schemes)
    env = {"heading_levels": _heading_levels(tokens, top), "link": link, "rel": rel}
    return Markup(md.renderer.render(tokens, md.options, env).strip())


def _heading_levels(tokens: list[Token], top: int) -> dict[int, int]:
    """The HTML level of each heading_open and heading_close token (by index), under the rule of :func:`to_html`."""
    written = {int(tok.tag[1]) for tok in tokens if tok.type == "heading_open"}
    rank = {level: n for n, level in enumerate(sorted(written))}
    levels: dict[int, int] = {}
    previous = top - 1
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            previous = levels[i] = min(6, top + rank[int(tok.tag[1])], previous + 1)
        elif tok.type == "heading_close":
            levels[i] = previous  # headings cannot nest: it closes the last one opened
    return levels


def _heading(self: object, tokens: list[Token], idx: int, options: object, env: dict[str, dict[int, int]]) -> str:
    level = env["heading_levels"][idx]
    return f"<h{level}>" if tokens[idx].nesting == 1 else f"</h{level}>\n"


def _link_open(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    link, rel = env.get("link"), env.get("rel")
    tok = tokens[idx]
    if link is not None and tok.attrs.get("href", "#") != "#":
        tok = tok.copy(attrs={**tok.attrs, "href": link(str(tok.attrs["href"]))})
    if rel:
        tok = tok.copy(attrs={**tok.attrs, "rel": rel})
    rendered: str = self.renderToken([tok], 0, options, env)
    return rendered


@lru_cache(maxsize=4096)
def to_inline_html(
    src: str, schemes: tuple[str, ...] = (), *, link: LinkHook | None = None, rel: str | None = None
) -> Markup:
    """Like :func:`to_html` for a one-paragraph text, without the ``<p>`` wrapper."""
    html = str(to_html(src, 1, schemes, link=link, rel=rel))
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


@lru_cache(maxsize=8192)
def title_html(
    src: str,
    schemes: tuple[str, ...] = (),
    linked: bool = False,
    link: LinkHook | None = None,
    rel: str | None = None,
) -> Markup:
    """A title (inline markdown) as HTML: code spans, emphasis, strikethrough, links.

    ``linked``: the title is itself a link, so links inside it render as their text
    (validation reports them; a link inside a link is not HTML).  ``link`` rewrites each
    link's href (see :data:`LinkHook`); ``rel`` is every link's rel (see :func:`to_html`).
    """
    md = _parser()
    tokens = parsed(src, schemes, inline=True)
    if linked:
        children = [t for t in tokens[0].children or () if t.type not in ("link_open", "link_close")] if tokens else []
        tokens = [tokens[0].copy(children=children)] if tokens else []
    return Markup(md.renderer.render(tokens, md.options, {"link": link, "rel": rel}))
