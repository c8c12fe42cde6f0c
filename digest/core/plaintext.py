"""Markdown as plain text: the text email, subject lines, feed titles, the preheader.

Rules: no markup characters; every link's URL written out after its text (an autolink
once); images as their alt text, as a screen reader gives them; with a width, paragraphs
wrapped at spaces only (code spans, URLs and long words whole; code blocks and table rows
as written).  The parse is markdown's one parse of each text (:func:`markdown.parsed`),
the same one validation's link checks and the HTML read.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from digest.core.markdown import LinkHook, parsed
from digest.core.wrap import text_width, wrap

if TYPE_CHECKING:
    from markdown_it.token import Token


@lru_cache(maxsize=8192)
def title_text(src: str, urls: bool = False, schemes: tuple[str, ...] = (), link: LinkHook | None = None) -> str:
    """A title as plain text (subject lines, feed titles, the text email): no markup characters.

    ``urls``: write a link's URL after its text, as the text email does; ``link``
    rewrites each of those URLs (the email's UTM tagging).
    """
    tokens = parsed(src, schemes, inline=True)
    children = tokens[0].children or [] if tokens else []
    if not urls:
        children = [t for t in children if t.type not in ("link_open", "link_close")]
    return " ".join(_inline_text(children, link=link).split())


# While text is wrapped, the spaces inside a code span are this character, so that code
# is never broken across lines (wrap() turns it back into a space).  It cannot come from
# an editor: YAML cannot carry it and markdown-it replaces it with U+FFFD.
_GLUE = "\x00"


def _inline_text(children: list[Token], reflow: bool = False, link: LinkHook | None = None, urls: bool = True) -> str:
    """``urls=False``: links as their text only, and an autolink (whose text is its URL) left out."""
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
        elif t in ("s_open", "s_close"):
            out.append("~~")  # struck-out text reads as removed, not as part of the sentence
        elif t == "link_open":
            link_stack.append((str(tok.attrs.get("href", "")), len(out)))
        elif t == "link_close" and link_stack:
            href, start = link_stack.pop()
            label = "".join(out[start:])
            target = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
            shown = link(target) if link is not None and href != "#" else target
            if href == "#":
                pass
            elif not urls:
                if label.strip() in (target, href):
                    out[start:] = []
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
def to_text(
    src: str,
    width: int | None = None,
    schemes: tuple[str, ...] = (),
    *,
    link: LinkHook | None = None,
    urls: bool = True,
) -> str:
    """Render markdown to plain text: no markup characters, every link's URL written out,
    images as their alt text.  With ``width``, paragraphs are wrapped to that many columns
    (prefixes of lists and quotes included); code blocks and table rows are kept as written.  ``link``
    rewrites each link's URL (see :data:`LinkHook`).  ``urls=False`` leaves URLs out (links
    read as their text, autolinks go): the inbox preview line, where a URL only takes room."""
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
        for i, line in enumerate(
            text.split("\n") if code or width is None else wrap(text, width, text_width(indent), _GLUE)
        ):
            if i == 0 and pending_marker is not None:
                lines.append((indent[: -len(pending_marker)] + pending_marker + line).rstrip())
            else:
                lines.append((indent + line).rstrip())
        pending_marker = None

    row: list[str] | None = None  # the cells of the table row being read
    for tok in parsed(src, schemes):
        t = tok.type
        if t == "paragraph_open" or t == "heading_open":
            pass
        elif t == "inline" and row is not None:
            row.append(" ".join(_inline_text(tok.children or [], False, link, urls).split()))
        elif t == "inline":
            emit(_inline_text(tok.children or [], width is not None, link, urls))
        elif t == "tr_open":
            row = []
        elif t == "tr_close" and row is not None:
            emit(" | ".join(row), code=True)  # a row is never wrapped: its continuation would read as the next row
            row = None
        elif t == "thead_close":
            emit("---")
        elif t == "table_close":
            blank_needed = True
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
