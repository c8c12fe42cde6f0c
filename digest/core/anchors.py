"""Anchors: every section and item of an issue gets one, the id its page and its email give it.

Rules:
- An explicit ``id:`` is the anchor.  Otherwise the anchor is a slug of the title as a
  reader sees it: lower case, any script's letters, marks and digits kept (a Persian title
  gives a Persian slug), every run of anything else one '-', cut at a word to SLUG_CHARS.
  An untitled item takes its summary's first words; with nothing to slug, "section" or "item".
- Unique within the issue.  Explicit ids and the page's own ids (RESERVED) are taken first;
  then sections in the order of the file, then items: the first of each slug has it bare.
  A later holder of a slug gets a suffix made from its own content (its url, else its text),
  never from its position, so inserting or moving another section or item changes no other
  anchor (only a second holder of the same slug, which has its own content, gets a suffix).
  Two holders with the very same content fall back to -2, -3 in the order of the file.
- Computed once, from the issue's YAML before its fields are read, so that validation can
  check every markdown link to ``#anchor`` against the issue's anchors.
- The web page gives every section and item its id.  The email gives one to every section and
  to the items an id: names or a link of the issue targets (:func:`linked`): an id on each of
  This Week in Rust's 250 items cost #587 14 KB as sent, and nine issues went over Gmail's clip.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from digest.core import markdown
from digest.core.loading import Node
from digest.core.models import Issue

SLUG_CHARS = 48
# The ids the built-in pages use themselves (the skip link's target, the share and recent
# issues headings, the search box): no section or item may take them.
RESERVED = frozenset({"main", "share", "recent", "search"})
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_DASHES = re.compile(r"-+")


def slug(text: str, fallback: str) -> str:
    """``text`` as an anchor name (see the rules above); ``fallback`` when nothing of it is left."""
    text = unicodedata.normalize("NFC", _MD_LINK.sub(r"\1", text)).lower()
    kept = "".join(ch if unicodedata.category(ch)[0] in "LMN" else "-" for ch in text)
    name = _DASHES.sub("-", kept).strip("-")
    if len(name) > SLUG_CHARS:
        cut = name[:SLUG_CHARS]
        name = cut.rsplit("-", 1)[0] if "-" in cut else cut
    while name and (name[0] == "-" or unicodedata.category(name[0])[0] == "M"):  # a mark cannot start a word
        name = name[1:]
    return name or fallback


@dataclass(frozen=True)
class Holder:
    path: str  # its key path: sections[1].items[2]
    explicit: str | None  # its id:, when it is one
    base: str  # the slug of its title
    content: str  # what tells it from another holder of the same slug


def holders(sections: Node | None) -> list[Holder]:
    """Every section and item under the issue's ``sections:`` node, sections first."""
    found_sections: list[Holder] = []
    found_items: list[Holder] = []

    def text(entry: dict[str, Node], key: str) -> str:
        node = entry.get(key)
        return node.value.strip() if node is not None and isinstance(node.value, str) else ""

    def visit(node: Node | None, path: str, nested: bool) -> None:
        if node is None or not isinstance(node.value, list):
            return
        for index, sec in enumerate(node.value, 1):
            if not isinstance(sec.value, dict):
                continue
            here = f"{path}[{index}]"
            fields: dict[str, Node] = sec.value
            title = text(fields, "title")
            firsts = "\0".join(_item_content(i) for _, i in _entries(fields.get("items"))[:1])
            found_sections.append(
                Holder(here, _explicit(fields), slug(title, "section"), f"{title}\0{text(fields, 'intro')}\0{firsts}")
            )
            for number, entry in _entries(fields.get("items")):
                title = text(entry, "title") or " ".join(text(entry, "summary").split()[:8])
                found_items.append(
                    Holder(f"{here}.items[{number}]", _explicit(entry), slug(title, "item"), _item_content(entry))
                )
            if not nested:
                visit(fields.get("sections"), f"{here}.sections", True)

    visit(sections, "sections", False)
    return found_sections + found_items


def _entries(node: Node | None) -> list[tuple[int, dict[str, Node]]]:
    """The mappings of a list node with their places, counted from 1 (what is not one is validation's to report)."""
    if node is None or not isinstance(node.value, list):
        return []
    return [(n, entry.value) for n, entry in enumerate(node.value, 1) if isinstance(entry.value, dict)]


def _item_content(entry: dict[str, Node]) -> str:
    parts = [entry.get(k) for k in ("url", "title", "summary")]
    return "\0".join(p.value.strip() if p is not None and isinstance(p.value, str) else "" for p in parts)


def _explicit(entry: dict[str, Node]) -> str | None:
    node = entry.get("id")
    return node.value.strip() if node is not None and isinstance(node.value, str) and node.value.strip() else None


def assign(found: list[Holder]) -> dict[str, str]:
    """Each holder's anchor by its key path, unique within the issue (see the rules above)."""
    taken = set(RESERVED) | {h.explicit for h in found if h.explicit}
    anchors: dict[str, str] = {}
    for holder in found:
        if holder.explicit:
            anchors[holder.path] = holder.explicit
            continue
        name = holder.base
        if name in taken:
            name = f"{holder.base}-{hashlib.sha256(holder.content.encode()).hexdigest()[:6]}"
            count = 2
            while name in taken:  # the very same content twice: the order of the file decides
                name = f"{holder.base}-{hashlib.sha256(holder.content.encode()).hexdigest()[:6]}-{count}"
                count += 1
        taken.add(name)
        anchors[holder.path] = name
    return anchors


def linked(issue: Issue) -> frozenset[str]:
    """The anchors the issue's own markdown links to (``[events](#events)``)."""
    texts = [issue.intro, issue.outro]
    for top in issue.sections:
        for section in (top, *top.sections):
            texts += [section.title, section.intro]
            texts += [text for item in section.items for text in (item.title, item.summary)]
    found: set[str] = set()
    for text in texts:
        if text and "#" in text:
            found.update(name for link in markdown.links(text) if (name := markdown.fragment(link.target)) is not None)
    return frozenset(found)
