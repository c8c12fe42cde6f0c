"""Translations between editions: the untranslated marker, and the fingerprint an item keeps of its source.

The marker.  `digest translate` carries every text a reader reads (the issue's title, subject, preheader, intro
and outro; sections' titles and intros; items' titles, summaries and image alt texts) over from the source edition
with MARKER in front of it.  The marker is part of the text itself, so it goes when the translator replaces the
text, and cannot be forgotten as a separate flag would be.  Rules:
- A text holding MARKER is untranslated.  In a published issue it is an error at that text's line (check and build
  fail: it can never reach the site, the feeds or a reader); in a draft it is a note, which fails nothing (the work
  in progress of a translation).  send, export and push refuse an issue with one, draft or not.
- The preview shows it highlighted (digest.preview).

The fingerprint.  An item that `translate` wrote carries ``translated_from:``, FINGERPRINT_CHARS hex digits of the
SHA-256 of the source item's title and summary as they were then.  `digest editions` compares it with the source
item's current fingerprint: a difference means the source was rewritten after the translation was made (stale).
Why a key of the item, not a comment or a side file: YAML keeps a key's value through any hand edit that reformats
the file (quoting, folding, indentation, moving the item), where comments are lost by tools that rewrite YAML and
a side file goes out of step with renames; it is validated like every key, and it is read from the file by the
family's commands only: validation does not put it into the Item model, so no template can print it, and nothing
of it reaches any output.  The fingerprint is of the text as YAML reads it, with runs of whitespace made one
space: reformatting the source (a folded block, a re-wrapped line) does not make its translations stale; a change
of wording does.  It needs no network and no history (no git): only the two files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from digest.core.errors import Problem
from digest.core.loading import Node, decode, parse

MARKER = "[untranslated]"
FINGERPRINT_KEY = "translated_from"
FINGERPRINT_CHARS = 12
_FINGERPRINT = re.compile(f"[0-9a-f]{{{FINGERPRINT_CHARS}}}")
NOT_TRANSLATED = (
    f"is not translated yet (it holds {MARKER}): translate it and delete the marker, or keep the issue a draft"
    " (draft: true)"
)
# The texts a reader reads, by where they are: the rest (links, dates, names of sources and authors) is copied.
ISSUE_TEXTS = ("title", "subject", "preheader", "intro", "outro")
SECTION_TEXTS = ("title", "intro")
ITEM_TEXTS = ("title", "summary")


def fingerprint(title: object, summary: object) -> str:
    """The fingerprint of an item's title and summary (values as YAML reads them; absent ones are None)."""

    def text(value: object) -> str:
        return " ".join(value.split()) if isinstance(value, str) else ""

    data = f"title\0{text(title)}\0summary\0{text(summary)}".encode()
    return hashlib.sha256(data).hexdigest()[:FINGERPRINT_CHARS]


def fingerprint_problem(value: str) -> str | None:
    """Why ``value`` is not a fingerprint, or None."""
    if _FINGERPRINT.fullmatch(value):
        return None
    return (
        f"must be the {FINGERPRINT_CHARS} hex digits digest translate wrote (the source item's fingerprint); delete"
        " the line if it is not a translation"
    )


def texts(top: dict[str, Node]) -> Iterator[tuple[Node, str]]:
    """Every text of an issue file a reader reads, as (node, key path), in the order of the file."""
    for key in ISSUE_TEXTS[:-1]:  # the outro comes after the sections
        if key in top:
            yield top[key], key
    yield from _sections(top.get("sections"), "sections", 0)
    if "outro" in top:
        yield top["outro"], "outro"


def _sections(node: Node | None, path: str, depth: int) -> Iterator[tuple[Node, str]]:
    for i, section in enumerate(_list(node), 1):
        s = _map(section)
        here = f"{path}[{i}]"
        for key in SECTION_TEXTS:
            if key in s:
                yield s[key], f"{here}.{key}"
        for j, item in enumerate(_list(s.get("items")), 1):
            yield from _item_texts(_map(item), f"{here}.items[{j}]")
        if depth == 0:
            yield from _sections(s.get("sections"), f"{here}.sections", 1)


def _item_texts(item: dict[str, Node], path: str) -> Iterator[tuple[Node, str]]:
    for key in ITEM_TEXTS:
        if key in item:
            yield item[key], f"{path}.{key}"
    image = _map(item.get("image"))
    if "alt" in image:
        yield image["alt"], f"{path}.image.alt"


def item_marked(item: dict[str, Node]) -> bool:
    """Whether an item (its mapping) still has untranslated text."""
    return any(marked(node) for node, _ in _item_texts(item, ""))


def marked(node: Node) -> bool:
    return isinstance(node.value, str) and MARKER in node.value


def untranslated(top: dict[str, Node]) -> list[tuple[Node, str]]:
    """The texts of an issue file that still hold the marker."""
    return [(node, path) for node, path in texts(top) if marked(node)]


def _list(node: Node | None) -> list[Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def _map(node: Node | None) -> dict[str, Node]:
    return node.value if node is not None and isinstance(node.value, dict) else {}


def unsendable(rel: str, data: bytes) -> list[Problem]:
    """Errors at every untranslated text of an issue file, for send, export and push (a draft's too: an email
    leaves digest for good)."""
    text, _ = decode(data, rel)
    node = parse(text, rel)[0] if text is not None else None
    if node is None or not node.is_map:
        return []
    why = f"is not translated yet (it holds {MARKER}): translate it and delete the marker before sending"
    return [Problem(rel, n.line, why, path) for n, path in untranslated(_map(node))]
