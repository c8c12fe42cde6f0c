"""CommonMark for intros, summaries and outros, rendered safely to HTML and to text.

Rules:
- Raw HTML is never live: markdown-it runs with ``html: False`` so tags show as text.
- Links and images may point only to http(s) and mailto URLs.  Validation reports any
  other target as an error at its line (:func:`bad_links`); rendering never emits one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from digest.core.wrap import text_width, wrap

_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def url_problem(url: str, *, allow_mailto: bool = True) -> str | None:
    """Why ``url`` is not an acceptable absolute link target, or None if it is."""
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
    kind = "an http(s) or mailto URL" if allow_mailto else "an http(s) URL"
    if not scheme:  # relative, or a bare host name: say what a full address looks like
        return f"must be a full {kind.removeprefix('an ')} (like https://example.com/page), got {got}"
    return f"must be {kind}, got {got}"


def _short(url: str, limit: int = 60) -> str:
    """``repr`` of a URL cut short, so one long value cannot flood the output."""
    return repr(url) if len(url) <= limit else repr(url[: limit - 1]) + "…"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    # Every link is checked by bad_links() during validation and by the renderers;
    # markdown-it's own silent filter would hide a bad link instead of reporting it.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.add_render_rule("heading_open", _heading)
    md.add_render_rule("heading_close", _heading)
    md.add_render_rule("link_open", _link_open)
    return md


@lru_cache(maxsize=1)
def _checking_parser() -> MarkdownIt:
    """The parser for validation: link targets as written, not percent-encoded.

    Rendering normalizes ``<https://a b>`` to ``https://a%20b``; validation must see
    the space the editor wrote, and the text it can find again in the file.
    """
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    return md


@dataclass(frozen=True)
class BadLink:
    line_offset: int  # lines after the first line of the markdown text
    message: str
    url: str = ""  # the target as written (after markdown's own unescaping)


@lru_cache(maxsize=512)
def _tokens(src: str) -> list[Token]:
    """``src`` parsed once, for validation's link checks and for rendering alike.

    Each link and image target is kept as written in ``meta["written"]`` (what validation
    checks and reports: ``<https://a b>`` with its space), and in ``attrs`` as rendering
    writes it: normalized (``https://a%20b``), and made harmless if it is not allowed
    (unreachable after validation; defence in depth).  Renderers only read the tokens.
    """
    normalize = _parser().normalizeLink
    tokens = _checking_parser().parse(src)
    for block in tokens:
        for tok in block.children or ():
            if tok.type not in ("link_open", "image"):
                continue
            attr = "href" if tok.type == "link_open" else "src"
            written = str(tok.attrs.get(attr, ""))
            url = normalize(written)
            if url_problem(url, allow_mailto=(attr == "href")):
                url = "#" if attr == "href" else ""
            tok.meta = {**(tok.meta or {}), "written": written}
            tok.attrs[attr] = url
    return tokens


def _inline_tokens(src: str) -> list[tuple[int, Token]]:
    """Link-bearing inline tokens with their line offsets in ``src``."""
    out: list[tuple[int, Token]] = []
    if "[" not in src and "<" not in src:
        return out  # no link, image or autolink can exist without one of these
    for block in _tokens(src):
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


def links(src: str) -> list[Link]:
    """Every link and image in ``src``, with its text as a reader (or screen reader) gets it."""
    out: list[Link] = []
    current: tuple[int, str, list[str]] | None = None
    for line, tok in _inline_tokens(src):
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
def bad_links(src: str) -> tuple[BadLink, ...]:
    """Links and images in ``src`` whose target is not http(s)/mailto (cached: an alias repeats a text)."""
    problems = []
    for line, tok in _inline_tokens(src):
        if tok.type == "link_open":
            url = str(tok.meta["written"])
            what = "link"
        elif tok.type == "image":
            url = str(tok.meta["written"])
            what = "image"
        else:
            continue
        why = url_problem(url, allow_mailto=(what == "link"))
        if why:
            problems.append(BadLink(line, f"markdown {what} target {why}", url))
    return tuple(problems)


# A link hook rewrites the href of every link (never an image) as it is rendered: the
# email's UTM tagging (digest.render.utm).  It must be a value (hashable, equal for the
# same work), since rendering is cached on it.
LinkHook = Callable[[str], str]


@lru_cache(maxsize=4096)
def to_html(src: str, top: int = 1, *, link: LinkHook | None = None) -> Markup:
    """Render markdown to safe HTML (raw HTML in ``src`` appears as text).

    ``top`` is the level the text's highest headings get, so headings inside a blurb
    continue the page's outline instead of restarting it at h1.  The outline never
    skips a level (a screen reader's list of headings would show a gap): levels are
    ranked, so "#" then "###" become top and top + 1, a text that uses only "##" starts
    at top, and no heading is more than one level below the one before it.  Levels
    stop at h6.  ``link`` rewrites each link's href (see :data:`LinkHook`).
    """
    md = _parser()
    tokens = _tokens(src)
    return Markup(md.renderer.render(tokens, md.options, {"heading_levels": _heading_levels(tokens, top), "link": link}).strip())


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
    link = env.get("link")
    tok = tokens[idx]
    if link is not None and tok.attrs.get("href", "#") != "#":
        tok = tok.copy(attrs={**tok.attrs, "href": link(str(tok.attrs["href"]))})
    rendered: str = self.renderToken([tok], 0, options, env)
    return rendered


@lru_cache(maxsize=4096)
def to_inline_html(src: str, *, link: LinkHook | None = None) -> Markup:
    """Like :func:`to_html` for a one-paragraph text, without the ``<p>`` wrapper."""
    html = str(to_html(src, link=link))
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


# While text is wrapped, the spaces inside a code span are this character, so that code
# is never broken across lines (wrap() turns it back into a space).  It cannot come from
# an editor: YAML cannot carry it and markdown-it replaces it with U+FFFD.
_GLUE = "\x00"


def _inline_text(children: list[Token], reflow: bool = False, link: LinkHook | None = None) -> str:
    out: list[str] = []
    link_stack: list[tuple[str, int]] = []
    for tok in children:
        t = tok.type
        if t == "code_inline" and reflow:
            out.append(tok.content.replace(" ", _GLUE))
        elif t in ("text", "code_inline", "html_inline"):
            out.append(tok.content)
        elif t == "softbreak":
            out.append(" " if reflow else "\n")
        elif t == "hardbreak":
            out.append("\n")
        elif t == "link_open":
            link_stack.append((str(tok.attrs.get("href", "")), len(out)))
        elif t == "link_close" and link_stack:
            href, start = link_stack.pop()
            label = "".join(out[start:])
            target = href[len("mailto:"):] if href.lower().startswith("mailto:") else href
            shown = link(target) if link is not None and href != "#" else target
            if href == "#":
                pass
            elif label.strip() in (target, href):  # an autolink (<https://…>) shows its URL as its label
                if shown != target:
                    out[start:] = [shown]  # the link written once, as it goes out
            else:
                out.append(f" ({shown})" if label.strip() else shown)
        elif t == "image":
            # A reader of plain text gets what the image shows, as a screen reader does.
            alt = "".join(c.content for c in tok.children or ()).strip()
            out.append(f"[{alt or 'image'}]")
    return "".join(out)


@lru_cache(maxsize=4096)
def to_text(src: str, width: int | None = None, *, link: LinkHook | None = None) -> str:
    """Render markdown to plain text: no markup characters, every link's URL written out,
    images as their alt text.  With ``width``, paragraphs are wrapped to that many columns
    (prefixes of lists and quotes included); code blocks are kept as written.  ``link``
    rewrites each link's URL (see :data:`LinkHook`)."""
    lines: list[str] = []
    prefix_stack: list[str] = []
    counters: list[int] = []
    pending_marker: str | None = None
    blank_needed = False

    def emit(text: str, code: bool = False) -> None:
        nonlocal pending_marker, blank_needed
        if blank_needed and lines:
            lines.append("")
        blank_needed = False
        indent = "".join(prefix_stack)
        for i, line in enumerate(text.split("\n") if code or width is None else wrap(text, width, text_width(indent), _GLUE)):
            if i == 0 and pending_marker is not None:
                lines.append((indent[: -len(pending_marker)] + pending_marker + line).rstrip())
            else:
                lines.append((indent + line).rstrip())
        pending_marker = None

    for tok in _tokens(src):
        t = tok.type
        if t == "paragraph_open" or t == "heading_open":
            pass
        elif t == "inline":
            emit(_inline_text(tok.children or [], width is not None, link))
        elif t in ("paragraph_close", "heading_close"):
            if not tok.hidden:
                blank_needed = True
        elif t == "bullet_list_open":
            counters.append(0)
        elif t == "ordered_list_open":
            counters.append(int(tok.attrs.get("start", 1) or 1) - 1 + 1000000)
        elif t in ("bullet_list_close", "ordered_list_close"):
            counters.pop()
            blank_needed = not counters
        elif t == "list_item_open":
            if counters and counters[-1] >= 1000000:
                counters[-1] += 1
                marker = f"{counters[-1] - 1000000}. "
            else:
                marker = "- "
            prefix_stack.append(" " * len(marker))
            pending_marker = marker
        elif t == "list_item_close":
            prefix_stack.pop()
        elif t == "blockquote_open":
            prefix_stack.append("> ")
        elif t == "blockquote_close":
            prefix_stack.pop()
            blank_needed = True
        elif t in ("fence", "code_block"):
            emit(tok.content.rstrip("\n"), code=True)
            blank_needed = True
        elif t == "hr":
            emit("----")
            blank_needed = True
    return "\n".join(lines).strip("\n")
