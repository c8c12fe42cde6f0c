"""`digest editions`: for each issue of the source edition, what each local edition has of it.

Rules:
- Items correspond by their ``id:`` first (a translation may link a translated article), else by their link
  compared normalised, as the link ledger compares links (digest.core.urls.normalize_url).  A source item with
  neither is not tracked (copied by `translate` when it makes the issue, never reported missing).
- Each item of a translation is in one column: stale (its ``translated_from:`` is not the source item's
  fingerprint now: the source's title or summary changed after the translation was made), else untranslated (a
  text of it still holds the marker), else translated; a source item with no counterpart is missing, a
  translation's item with none in the source is extra.  ``marked`` counts every text still holding the marker,
  the issue's and sections' too: what `check` refuses once the issue is published.
- Files are read as the link ledger reads them, leniently: an issue with errors still gets its row ("invalid"
  only when it does not parse at all).  Nothing is written, nothing fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from digest.core import translation
from digest.core.errors import DigestError, Problem
from digest.core.issuefiles import discover
from digest.core.loading import Node, decode, parse
from digest.core.urls import normalize_url
from digest.editions.family import Family, Member


@dataclass(frozen=True)
class Entry:
    """One item of an issue file, as the family compares it."""

    section: int  # its top-level section, from 0
    ident: str | None
    link: str | None  # normalised
    fingerprint: str  # of its title and summary now
    made_from: str | None  # its translated_from:
    marked: bool
    node: Node

    def matches(self, other: Entry) -> bool:
        return bool(self.ident and self.ident == other.ident) or bool(
            self.link and self.link == other.link and not (self.ident and other.ident)
        )

    @property
    def tracked(self) -> bool:
        return bool(self.ident or self.link)


@dataclass
class Doc:
    """One issue file, read leniently."""

    number: int
    rel: str
    path: Path
    data: bytes
    top: dict[str, Node] | None  # None: it does not parse
    draft: bool = False
    items: list[Entry] = field(default_factory=list)
    marked: int = 0

    @property
    def state(self) -> str:
        return "invalid" if self.top is None else "draft" if self.draft else "published"


@dataclass(frozen=True)
class Row:
    number: int
    language: str
    state: str  # source, absent, draft, published, invalid
    items: int | None = None
    translated: int = 0
    untranslated: int = 0
    stale: int = 0
    missing: int = 0
    extra: int = 0
    marked: int = 0
    source_state: str = ""

    @property
    def behind(self) -> bool:
        """A published translation that lacks items, is stale or still has marked text (--strict fails)."""
        return self.state == "published" and bool(self.missing or self.stale or self.marked)


def issue_files(member: Member) -> dict[int, tuple[Path, str]]:
    files, _ = discover(member.config.root)
    return {number: (path, rel) for number, path, rel in files}


def read_doc(number: int, path: Path, rel: str) -> Doc:
    try:
        data = path.read_bytes()
    except OSError:
        return Doc(number, rel, path, b"", None)
    text, _ = decode(data, rel)
    node = parse(text, rel)[0] if text is not None else None
    if node is None or not node.is_map:
        return Doc(number, rel, path, data, None)
    top: dict[str, Node] = node.value  # type: ignore[assignment]
    draft = top.get("draft")
    doc = Doc(number, rel, path, data, top, draft is not None and draft.value is True)
    for index, section in enumerate(_list(top.get("sections"))):
        s = _map(section)
        for item in [
            *_list(s.get("items")),
            *(i for sub in _list(s.get("sections")) for i in _list(_map(sub).get("items"))),
        ]:
            fields = _map(item)
            if fields:
                doc.items.append(_entry(index, fields, item))
    doc.marked = len(translation.untranslated(top))
    return doc


def _entry(section: int, fields: dict[str, Node], node: Node) -> Entry:
    def text(key: str) -> str | None:
        value = fields[key].value if key in fields else None
        return value.strip() if isinstance(value, str) and value.strip() else None

    link = text("url")
    return Entry(
        section,
        text("id"),
        normalize_url(link) if link else None,
        translation.fingerprint(
            fields["title"].value if "title" in fields else None,
            fields["summary"].value if "summary" in fields else None,
        ),
        text(translation.FINGERPRINT_KEY),
        translation.item_marked(fields),
        node,
    )


def pair(source: Doc, other: Doc) -> tuple[list[tuple[Entry, Entry]], list[Entry], list[Entry]]:
    """(matched (source, translation) pairs, the source's tracked items missing there, the translation's extras)."""
    left = list(other.items)
    pairs, missing = [], []
    for s in source.items:
        if not s.tracked:
            continue
        found = next((t for t in left if s.ident and t.ident == s.ident), None) or next(
            (t for t in left if s.matches(t)), None
        )
        if found is None:
            missing.append(s)
        else:
            pairs.append((s, found))
            left.remove(found)
    return pairs, missing, left


def compare(number: int, language: str, source: Doc, other: Doc | None) -> Row:
    if other is None:
        return Row(number, language, "absent", source_state=source.state)
    if other.top is None:
        return Row(number, language, "invalid", source_state=source.state)
    pairs, missing, extra = pair(source, other)
    stale = sum(1 for s, t in pairs if t.made_from is not None and t.made_from != s.fingerprint)
    untranslated = sum(
        1 for s, t in pairs if t.marked and not (t.made_from is not None and t.made_from != s.fingerprint)
    )
    return Row(
        number,
        language,
        other.state,
        len(other.items),
        len(pairs) - stale - untranslated,
        untranslated,
        stale,
        len(missing),
        len(extra),
        other.marked,
        source.state,
    )


def status(family: Family, number: int | None = None, newest: int | None = None) -> list[Row]:
    """One row for the source and one per translation, for every issue of the source (or issue ``number``, or the
    ``newest`` ones)."""
    sources = issue_files(family.source)
    if number is not None and number not in sources:
        raise DigestError([family.source.problems([Problem("issues", None, f"there is no issue {number}")])[0]])
    others = [(m, issue_files(m)) for m in family.translations]
    rows: list[Row] = []
    for n in sorted(sources, reverse=True)[:newest] if number is None else [number]:
        doc = read_doc(n, *sources[n])
        rows.append(Row(n, family.source.language, "source", len(doc.items), source_state=doc.state))
        for member, files in others:
            rows.append(compare(n, member.language, doc, read_doc(n, *files[n]) if n in files else None))
    return rows


COLUMNS = ("issue", "edition", "state", "items", "translated", "untranslated", "stale", "missing", "extra", "marked")


def table(rows: list[Row]) -> list[str]:
    """The rows as aligned columns, newest issue first; the source's row says its own state."""
    cells = [list(COLUMNS)]
    for r in rows:
        if r.state == "source":
            cells.append([str(r.number), r.language, r.source_state, str(r.items), "", "", "", "", "", ""])
        elif r.items is None:
            cells.append(["", r.language, r.state, "-", "-", "-", "-", "-", "-", "-"])
        else:
            counts = (r.items, r.translated, r.untranslated, r.stale, r.missing, r.extra, r.marked)
            cells.append(["", r.language, r.state, *map(str, counts)])
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


def _list(node: Node | None) -> list[Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def _map(node: Node | None) -> dict[str, Node]:
    return node.value if node is not None and isinstance(node.value, dict) else {}
