"""`digest translate N --to LANG`: issue N of the source edition, carried into a local edition to translate.

Rules:
- It makes the issue when that edition has none: the same number, date, sections and items, links, sources,
  authors, images, dates and ids; every text a reader reads is carried over with the untranslated marker in front
  (digest.core.translation), each item gets ``translated_from:`` (its source's fingerprint), and the issue is a
  draft.  The file is checked as `check` would before it is written, atomically, under the writers' lock.
- When the issue is there, it adds only the items it lacks (digest.editions.status decides which), each at the end
  of the corresponding section (by the section's id, else by its place), through `add`'s append-only edit: nothing
  already in the file changes, comments and translated text included.
- It refuses the source edition itself, and an edition without ``root:``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from digest.compose.edit import Batch, dump_document, save_issue
from digest.compose.lock import issues_locked
from digest.compose.new import create_new
from digest.core import translation
from digest.core.config import CONFIG_FILE
from digest.core.errors import DigestError, Problem
from digest.core.issuefiles import ISSUES_DIR, discover
from digest.core.issues import load_issue
from digest.core.loading import Node
from digest.editions.family import Family, Member, entry_line
from digest.editions.status import Doc, issue_files, pair, read_doc

HEADER = """\
# Issue {number}, carried over from the {source} edition by `digest translate` to be translated.
# Every text starting with {marker} still needs translating: replace it (marker included) with its translation.
# `digest check` refuses the issue while any is left, unless it is a draft; set draft: false when it is done.
# translated_from: on each item is the fingerprint of the source item's title and summary it was made from:
# keep it, so that `digest editions` can tell when the source changes after the translation.
"""


@dataclass(frozen=True)
class Translated:
    member: Member
    rel: str  # as seen from --root
    created: bool
    added: int  # items written
    published: bool  # the edition's issue is not a draft (added items make `check` fail until translated)


def translate(family: Family, number: int, language: str) -> Translated:
    member = _target(family, language)
    sources = issue_files(family.source)
    if number not in sources:
        raise DigestError(family.source.problems([Problem(ISSUES_DIR, None, f"there is no issue {number}")]))
    source = read_doc(number, *sources[number])
    if source.top is None:
        why = "does not parse: run digest check there, and translate once it does"
        raise DigestError(family.source.problems([Problem(source.rel, None, why)]))
    folder = member.config.root / ISSUES_DIR
    if not folder.is_dir():
        raise DigestError(member.problems([Problem(ISSUES_DIR, None, "folder not found: the edition needs one")]))
    with issues_locked(folder):  # what the edition has is read and written under one hold of the lock
        found, problems = discover(member.config.root)
        if errors := [p for p in problems if not p.warning]:  # a link out of the edition is refused, never followed
            raise DigestError(member.problems(errors))
        files = {n: (path, rel) for n, path, rel in found}
        if number not in files:
            return _create(family, member, source)
        return _add(member, source, read_doc(number, *files[number]))


def _target(family: Family, language: str) -> Member:
    member = family.member(language)
    if member is family.source:
        why = f"{language} is the source edition: translate from it into another edition (--to fa)"
        raise DigestError([Problem("--to", None, why)])
    if member is not None:
        return member
    if not any(e.language.lower() == language.lower() for e in family.root.editions):
        names = ", ".join(m.language for m in family.translations)
        raise DigestError([Problem("--to", None, f"no edition is in {language!r}: the local editions are {names}")])
    found = entry_line(family.root.root, language)
    where, line = (f"editions[{found[0]}]", found[1]) if found else ("editions", None)
    why = f"{language} has no root: translate writes into a local edition's folder (root: its newsletter folder)"
    raise DigestError([Problem(CONFIG_FILE, line, why, where)])


def _create(family: Family, member: Member, source: Doc) -> Translated:
    assert source.top is not None
    doc: dict[str, Any] = {}
    for key, node in source.top.items():
        if key == "updated":  # the source's correction, not the translation's
            continue
        if key == "sections":
            doc[key] = [_section(s) for s in _list(node)]
        elif key in translation.ISSUE_TEXTS:
            doc[key] = _marked(node)
        elif key != "draft":
            doc[key] = plain(node)
    doc = _with_draft(doc)
    header = HEADER.format(number=source.number, source=family.source.language, marker=translation.MARKER)
    data = (header + dump_document(doc)).encode()
    name = source.path.name
    path, rel = member.config.root / ISSUES_DIR / name, f"{ISSUES_DIR}/{name}"
    _, problems = load_issue(member.config, source.number, path, rel, data=data)
    if errors := [p for p in problems if not p.warning]:
        raise DigestError(member.problems(errors))
    create_new(path, data, member.shown(rel))
    return Translated(member, member.shown(rel), True, len(source.items), False)


def _with_draft(doc: dict[str, Any]) -> dict[str, Any]:
    """``draft: true`` right after the date (or the number), where `digest new` writes it."""
    out: dict[str, Any] = {} if "date" in doc or "number" in doc else {"draft": True}
    for key, value in doc.items():
        out[key] = value
        if key == "date" or (key == "number" and "date" not in doc):
            out["draft"] = True
    return out


def _add(member: Member, source: Doc, there: Doc) -> Translated:
    shown = member.shown(there.rel)
    if there.top is None:
        raise DigestError([Problem(shown, None, "does not parse: fix it first (digest check)")])
    _, missing, _ = pair(source, there)
    if not missing:
        return Translated(member, shown, False, 0, not there.draft)
    assert source.top is not None
    source_sections = _list(source.top.get("sections"))
    there_sections = _list(there.top.get("sections"))
    batches: dict[int, Batch] = {}
    for entry in missing:
        at = _section_place(source_sections[entry.section], entry.section, there_sections)
        if entry.section not in batches:
            title = _map(source_sections[entry.section]).get("title")
            batches[entry.section] = Batch(_marked(title) if title is not None else translation.MARKER, position=at)
        batches[entry.section].items.append(_item(entry.node))
    save_issue(
        member.config,
        there.number,
        there.path,
        there.rel,
        list(batches.values()),
        allowed=lambda p: p.message == translation.NOT_TRANSLATED,
    )
    return Translated(member, shown, False, len(missing), not there.draft)


def _section_place(section: Node, index: int, there: list[Node]) -> int:
    """Where a source section's items go in the translation: the section with its id, else the one at its place
    (a place past the translation's sections: a new section at the end)."""
    ident = _map(section).get("id")
    if ident is not None:
        for i, s in enumerate(there):
            other = _map(s).get("id")
            if other is not None and other.value == ident.value:
                return i
    return index


def _section(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in _map(node).items():
        if key in translation.SECTION_TEXTS:
            out[key] = _marked(value)
        elif key == "items":
            out[key] = [_item(i) for i in _list(value)]
        elif key == "sections":
            out[key] = [_section(s) for s in _list(value)]
        else:
            out[key] = plain(value)
    return out


def _item(node: Node) -> dict[str, Any]:
    fields = _map(node)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == translation.FINGERPRINT_KEY:
            continue
        if key in translation.ITEM_TEXTS:
            out[key] = _marked(value)
        elif key == "image" and value.is_map:
            out[key] = {k: _marked(v) if k == "alt" else plain(v) for k, v in _map(value).items()}
        else:
            out[key] = plain(value)
    title, summary = fields.get("title"), fields.get("summary")
    out[translation.FINGERPRINT_KEY] = translation.fingerprint(
        title.value if title else None, summary.value if summary else None
    )
    return out


def _marked(node: Node) -> Any:
    value = node.value
    if not isinstance(value, str) or translation.MARKER in value:
        return plain(node)
    text = value.strip()
    return f"{translation.MARKER} {text}" + ("\n" if "\n" in text else "")


def plain(node: Node) -> Any:
    """A node tree as plain YAML data, to be written again."""
    if isinstance(node.value, dict):
        return {k: plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [plain(v) for v in node.value]
    return node.value


def _list(node: Node | None) -> list[Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def _map(node: Node | None) -> dict[str, Node]:
    return node.value if node is not None and isinstance(node.value, dict) else {}
