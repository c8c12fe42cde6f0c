"""Translations between editions: the untranslated marker, and the fingerprint an item keeps of its source.

The marker.  `digest translate` carries every text a reader reads (the issue's title, subject, preheader, intro
and outro; sections' titles and intros; items' titles, summaries and image alt texts) over from the source edition
with MARKER in front of it.  The marker is part of the text itself, so it goes when the translator replaces the
text, and cannot be forgotten as a separate flag would be.  Rules:
- Any text holding MARKER is untranslated.  In a published issue it is an error at that text's line (check and
  build fail: it can never reach the site, the feeds or a reader); in a draft it is a note, which fails nothing (the
  work in progress of a translation).  Validation finds them as it reads every text (Checker.marked, one pass;
  digest.core.issues reports them), the family's commands with untranslated() below.  send, export and push
  refuse an issue with one, draft or not.
- The preview shows it highlighted (digest.preview).

The fingerprint.  An item that `translate` wrote carries ``translated_from:``, 12 hex digits of the
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
from collections.abc import Iterator

from digest.core.errors import Problem
from digest.core.issues import FINGERPRINT_KEY, NOT_TRANSLATED
from digest.core.loading import Node, decode, parse
from digest.core.validate import UNTRANSLATED as MARKER

__all__ = ["FINGERPRINT_KEY", "MARKER", "NOT_TRANSLATED", "fingerprint", "item_marked", "untranslated", "unsendable"]
# The texts a reader reads, by where they are: `translate` marks these; the rest (links, dates, names of sources
# and authors, ids) is copied as it is.
ISSUE_TEXTS = ("title", "subject", "preheader", "intro", "outro")
SECTION_TEXTS = ("title", "intro")
ITEM_TEXTS = ("title", "summary")


def fingerprint(title: object, summary: object) -> str:
    """The fingerprint of an item's title and summary (values as YAML reads them; absent ones are None)."""

    def text(value: object) -> str:
        return " ".join(value.split()) if isinstance(value, str) else ""

    data = f"title\0{text(title)}\0summary\0{text(summary)}".encode()
    return hashlib.sha256(data).hexdigest()[:12]  # what digest.core.issues accepts as translated_from


def item_marked(item: dict[str, Node]) -> bool:
    """Whether an item (its mapping) still holds marked text."""
    return any(True for _ in _marked(item, ""))


def untranslated(top: dict[str, Node]) -> list[tuple[Node, str]]:
    """Every text of an issue file that holds the marker, as (node, key path), in the order of the file: the texts
    validation reports (digest.core.validate.Checker.marked)."""
    return list(_marked(top, ""))


def _marked(value: dict[str, Node] | list[Node], path: str) -> Iterator[tuple[Node, str]]:
    children = value.items() if isinstance(value, dict) else ((f"[{i}]", n) for i, n in enumerate(value, 1))
    for key, node in children:
        here = f"{path}{key}" if key.startswith("[") else f"{path}.{key}" if path else key
        if isinstance(node.value, (dict, list)):
            yield from _marked(node.value, here)
        elif isinstance(node.value, str) and MARKER in node.value:
            yield node, here


def unsendable(rel: str, data: bytes) -> list[Problem]:
    """Errors at every untranslated text of an issue file, for send, export and push (a draft's too: an email
    leaves digest for good)."""
    text, _ = decode(data, rel)
    node = parse(text, rel)[0] if text is not None else None
    if node is None or not node.is_map:
        return []
    why = f"is not translated yet (it holds {MARKER}): translate it and delete the marker before sending"
    return [Problem(rel, n.line, why, path) for n, path in untranslated(_map(node))]


def _map(node: Node | None) -> dict[str, Node]:
    return node.value if node is not None and isinstance(node.value, dict) else {}
