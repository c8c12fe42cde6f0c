"""The build cache: each issue's validated model and rendered files, by content key.

Rules:
- It lives in this user's cache folder, outside the newsletter (digest.core.cachedir): a
  cache that arrives with the folder is never read, so nothing in it needs a signature.
- It holds data only: JSON and the rendered bytes, never code (no pickle, no compiled templates).
- Keys are hashes of content: the issue file's name and bytes, config.yaml, every template
  and digest's own code; never a path as it was spelt.
- A record is written under a temporary name and renamed: a reader sees a whole record or
  none.  A file whose bytes no longer match the checksum in its record is a miss.
- After each build, the records that build did not use are removed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest import __version__
from digest.core.errors import Problem
from digest.core.models import Image, Issue, Item, Person, Section
from digest.pipeline.stages import Context, Source

FORMAT = 8  # of the records: a new format is a new key for everything
RECORDS = "issues"
SITES = "sites.json"  # what each output folder held after the last build (digest.pipeline.publish)


def salt(ctx: Context) -> bytes:
    """What every key covers besides the issue: digest's version and the records' format,
    config.yaml, and ``ctx.templates`` (every template and digest's own code)."""
    try:
        config = (ctx.config.root / "config.yaml").read_bytes()
    except OSError:
        config = b"<unreadable>"
    version = f"digest {__version__} cache {FORMAT}\n".encode()
    return hashlib.sha256(version + hashlib.sha256(config).digest() + ctx.templates).digest()


def issue_keys(ctx: Context, sources: list[Source]) -> dict[int, str]:
    """Each issue's key: its rendered files are a function of its file's name and bytes, the salt, and which
    local sibling editions publish its number (its pages and email link the issue there, or that edition's archive)."""
    base = salt(ctx)
    return {
        src.number: hashlib.sha256(base + src.rel.encode() + b"\0" + src.data + _siblings(ctx, src.number)).hexdigest()
        for src in sources
    }


def _siblings(ctx: Context, number: int) -> bytes:
    return "".join(f"\0{e.url}" for e in ctx.config.editions if e.issues is not None and number in e.issues).encode()


@dataclass(frozen=True)
class Record:
    """One cached issue: its model, its warnings, and where its rendered files are."""

    issue: Issue
    warnings: tuple[Problem, ...]  # validation's
    clip: Problem | None  # the clip gate's
    folder: Path
    sums: dict[str, str]  # file name → sha256

    def read(self, name: str) -> bytes | None:
        """A rendered file's bytes, or None if it is gone or no longer what was written."""
        try:
            data = (self.folder / name).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == self.sums.get(name) else None


class Cache:
    """The records of one newsletter, in ``folder`` (this user's cache folder for it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.records = folder / RECORDS

    def get(self, key: str) -> Record | None:
        try:
            meta = json.loads((self.records / key / "meta.json").read_bytes())
            issue = _issue_from_json(meta["issue"])
            clip = Problem(**meta["clip"]) if meta["clip"] else None
            return Record(issue, tuple(Problem(**w) for w in meta["warnings"]), clip, self.records / key, meta["sums"])
        except (OSError, ValueError, KeyError, TypeError, IndexError):  # damaged or absent: not cached
            return None

    def put(
        self, key: str, issue: Issue, warnings: tuple[Problem, ...], clip: Problem | None, files: dict[str, bytes]
    ) -> None:
        """Store a record; a cache that cannot be written only costs speed."""
        folder = self.records / key
        tmp = self.records / f".{key}.{os.getpid()}.tmp"
        meta = {
            "issue": _to_json(issue),
            "warnings": [dataclasses.asdict(w) for w in warnings],
            "clip": dataclasses.asdict(clip) if clip else None,
            "sums": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        }
        try:
            tmp.mkdir(parents=True)
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            if folder.is_dir():
                shutil.rmtree(folder)
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)

    def prune(self, keep: set[str]) -> None:
        """Remove every record but ``keep``'s (old versions of issues, a killed build's temporary ones)."""
        try:
            entries = list(os.scandir(self.records))
        except OSError:
            return
        for entry in entries:
            if entry.name not in keep:
                shutil.rmtree(entry.path, ignore_errors=True)  # never follows a link inside

    def site(self, out: Path) -> dict[str, Any]:
        """What the last build recorded about output folder ``out``, or {}."""
        try:
            record: dict[str, Any] = json.loads((self.folder / SITES).read_bytes())[str(out.resolve())]
            return record
        except (OSError, ValueError, KeyError):
            return {}

    def record_site(self, out: Path, record: dict[str, Any]) -> None:
        try:
            records = json.loads((self.folder / SITES).read_bytes())
        except (OSError, ValueError):
            records = {}
        records[str(out.resolve())] = record
        tmp = self.folder / f".{SITES}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(records), encoding="utf-8")
            os.replace(tmp, self.folder / SITES)
        except OSError:
            tmp.unlink(missing_ok=True)


# An issue as JSON: its own fields by name, each section as [title, intro, items,
# sub-sections, id, sponsored, anchor] and each item as the list of its fields in order (its
# authors as [name, url] pairs).
_ITEM_FIELDS = [f.name for f in dataclasses.fields(Item)]
_IMAGE, _DATE, _AUTHORS = _ITEM_FIELDS.index("image"), _ITEM_FIELDS.index("date"), _ITEM_FIELDS.index("authors")


def _to_json(issue: Issue) -> dict[str, Any]:
    d = {f.name: getattr(issue, f.name) for f in dataclasses.fields(Issue)}
    d["date"] = issue.date.isoformat()
    d["updated"] = issue.updated.isoformat() if issue.updated else None
    d["sections"] = [_section_json(s) for s in issue.sections]
    return d


def _item_json(item: Item) -> list[Any]:
    row = [getattr(item, name) for name in _ITEM_FIELDS]
    row[_IMAGE] = [item.image.src, item.image.alt] if item.image else None
    row[_DATE] = item.date.isoformat() if item.date else None
    row[_AUTHORS] = [[p.name, p.url] for p in item.authors]
    return row


def _item_from_json(row: list[Any]) -> Item:
    row[_IMAGE] = Image(*row[_IMAGE]) if row[_IMAGE] else None
    row[_DATE] = dt.date.fromisoformat(row[_DATE]) if row[_DATE] else None
    row[_AUTHORS] = tuple(Person(*p) for p in row[_AUTHORS])
    return Item(*row)


def _section_json(section: Section) -> list[Any]:
    return [
        section.title,
        section.intro,
        [_item_json(i) for i in section.items],
        [_section_json(s) for s in section.sections],
        section.id,
        section.sponsored,
        section.anchor,
    ]


def _section_from_json(row: list[Any]) -> Section:
    title, intro, items, subs, ident, sponsored, anchor = row
    subsections = tuple(map(_section_from_json, subs))
    return Section(title, tuple(map(_item_from_json, items)), intro, subsections, ident, sponsored, anchor)


def _issue_from_json(d: dict[str, Any]) -> Issue:
    updated = dt.date.fromisoformat(d["updated"]) if d["updated"] else None
    sections = tuple(map(_section_from_json, d["sections"]))
    return Issue(**{**d, "date": dt.date.fromisoformat(d["date"]), "updated": updated, "sections": sections})
