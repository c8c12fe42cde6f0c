"""The build cache: each issue's validated model and rendered files, by content key.

Rules:
- It lives in this user's cache folder, outside the newsletter (digest.core.cachedir): a
  cache that arrives with the folder is never read, so nothing in it needs a signature.
- It holds data only: JSON and the rendered bytes, never code (no pickle, no compiled templates).
- Keys are hashes of content: the issue file's name and bytes, its local images' bytes, config.yaml,
  every template and digest's own code; never a path as it was spelt.
- A record is one file (a Pack: a JSON line, then the rendered files' bytes): creating files is
  most of a cold build's system time, so an issue costs the cache one file, not a folder of them.
  It is written under a temporary name and renamed: a reader sees a whole record or none.  A
  file whose bytes no longer match the checksum in its record is a miss.
- After each build, the records that build did not use are removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest import __version__
from digest.core import images
from digest.core.errors import Problem
from digest.core.models import Image, Issue, Item, Person, Section
from digest.pipeline.stages import Context, Source

FORMAT = 10  # of the records: a new format is a new key for everything
RECORDS = "issues"
SITES = "sites.json"  # what each output folder held after the last build (digest.pipeline.publish)
IMAGE_SUMS = "image-sums.json"  # local images' hashes by their stat (digest.core.images.fingerprint)


def salt(ctx: Context) -> bytes:
    """What every key covers besides the issue: digest's version and the records' format,
    config.yaml, and ``ctx.templates`` (every template and digest's own code)."""
    try:
        config = (ctx.config.root / "config.yaml").read_bytes()
    except OSError:
        config = b"<unreadable>"
    version = f"digest {__version__} cache {FORMAT}\n".encode()
    return hashlib.sha256(version + hashlib.sha256(config).digest() + ctx.templates).digest()


def issue_keys(ctx: Context, sources: list[Source], cache: Cache | None = None) -> dict[int, str]:
    """Each issue's key: its file's name and bytes, the salt, the local sibling editions that publish its number (its
    pages link the issue there) and the local images it names (images.state; with ``cache``, known by their stat)."""
    base, known = salt(ctx), cache.read_json(IMAGE_SUMS) if cache is not None else {}
    before = json.dumps(known)
    keys = {}
    for src in sources:
        near = "".join(f"\0{e.url}" for e in ctx.config.editions if e.issues is not None and src.number in e.issues)
        state = near.encode() + images.state(ctx.config.root, src.data, known)
        keys[src.number] = hashlib.sha256(base + src.rel.encode() + b"\0" + src.data + state).hexdigest()
    if cache is not None and json.dumps(known) != before:
        cache.write_json(IMAGE_SUMS, known)
    return keys


def replace_with(path: Path, chunks: list[bytes]) -> None:
    """``chunks`` as the file ``path``, written under a temporary name and renamed (a reader sees the whole file or
    none); a cache that cannot be written only costs speed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.writelines(chunks)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Pack:
    """Named files as one file: a JSON line (``head``, with each file's name, size and SHA-256
    under "files"), then the files' bytes in that order."""

    path: Path
    head: dict[str, Any]
    at: dict[str, tuple[int, int, str]]  # name → (where its bytes begin, size, sha256)

    @classmethod
    def load(cls, path: Path) -> Pack | None:
        """The pack at ``path`` (only its head is read), or None when it is absent or damaged."""
        try:
            with open(path, "rb") as f:
                head = json.loads(line := f.readline())
            at, offset = {}, len(line)
            for name, size, digest in head["files"]:
                at[name], offset = (offset, size, digest), offset + size
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(path, head, at)

    @staticmethod
    def write(path: Path, head: dict[str, Any], files: Mapping[str, bytes]) -> None:
        listing = [[name, len(data), hashlib.sha256(data).hexdigest()] for name, data in files.items()]
        replace_with(path, [json.dumps({**head, "files": listing}).encode() + b"\n", *files.values()])  # one line

    def read(self, name: str) -> bytes | None:
        """A file's bytes, or None if the pack has no such file, is gone, or they are no longer what was written."""
        if name not in self.at:
            return None
        offset, size, digest = self.at[name]
        try:
            with open(self.path, "rb") as f:
                f.seek(offset)
                data = f.read(size)
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == digest else None


def keep_only(folder: Path, keep: set[str]) -> None:
    """Remove every entry of ``folder`` but ``keep``'s (and this process's temporary ones); never follows a link."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in list(entries):
            if entry.name in keep or entry.name.endswith(f".{os.getpid()}.tmp"):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


@dataclass(frozen=True)
class Record:
    """One cached issue: its model, its warnings, and its rendered files (read when needed)."""

    issue: Issue
    warnings: tuple[Problem, ...]  # validation's
    clip: Problem | None  # the clip gate's
    pack: Pack


class Cache:
    """The records of one newsletter, in ``folder`` (this user's cache folder for it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.records = folder / RECORDS

    def get(self, key: str) -> Record | None:
        try:
            if (pack := Pack.load(self.records / key)) is None:
                return None
            clip = Problem(**pack.head["clip"]) if pack.head["clip"] else None
            warnings = tuple(Problem(**w) for w in pack.head["warnings"])
            return Record(_issue_from_json(pack.head["issue"]), warnings, clip, pack)
        except (ValueError, KeyError, TypeError, IndexError):  # damaged: not cached
            return None

    def put(
        self, key: str, issue: Issue, warnings: tuple[Problem, ...], clip: Problem | None, files: dict[str, bytes]
    ) -> None:
        """Store a record; a cache that cannot be written only costs speed."""
        warned = [dataclasses.asdict(w) for w in warnings]
        head = {"issue": _to_json(issue), "warnings": warned, "clip": dataclasses.asdict(clip) if clip else None}
        Pack.write(self.records / key, head, files)

    def prune(self, keep: set[str]) -> None:
        """Remove every record but ``keep``'s (old versions of issues, a killed build's temporary ones)."""
        keep_only(self.records, keep)

    def read_json(self, name: str) -> dict[str, Any]:
        """The cache's JSON object ``name`` (SITES, IMAGE_SUMS), or {} when it is absent or damaged."""
        try:
            value = json.loads((self.folder / name).read_bytes())
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def site(self, out: Path) -> dict[str, Any]:
        """What the last build recorded about output folder ``out``, or {}."""
        record = self.read_json(SITES).get(str(out.resolve()))
        return record if isinstance(record, dict) else {}

    def record_site(self, out: Path, record: dict[str, Any]) -> None:
        self.write_json(SITES, {**self.read_json(SITES), str(out.resolve()): record})

    def write_json(self, name: str, value: Any) -> None:
        replace_with(self.folder / name, [json.dumps(value).encode()])


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
    row[_IMAGE] = list(dataclasses.astuple(item.image)) if item.image else None
    row[_DATE] = item.date.isoformat() if item.date else None
    row[_AUTHORS] = [[p.name, p.url] for p in item.authors]
    return row


def _item_from_json(row: list[Any]) -> Item:
    row[_IMAGE] = Image(*row[_IMAGE]) if row[_IMAGE] else None
    row[_DATE] = dt.date.fromisoformat(row[_DATE]) if row[_DATE] else None
    row[_AUTHORS] = tuple(Person(*p) for p in row[_AUTHORS])
    return Item(*row)


def _section_json(section: Section) -> list[Any]:
    items, subs = [_item_json(i) for i in section.items], [_section_json(s) for s in section.sections]
    return [section.title, section.intro, items, subs, section.id, section.sponsored, section.anchor]


def _section_from_json(row: list[Any]) -> Section:
    title, intro, items, subs, ident, sponsored, anchor = row
    subsections = tuple(map(_section_from_json, subs))
    return Section(title, tuple(map(_item_from_json, items)), intro, subsections, ident, sponsored, anchor)


def _issue_from_json(d: dict[str, Any]) -> Issue:
    updated = dt.date.fromisoformat(d["updated"]) if d["updated"] else None
    sections = tuple(map(_section_from_json, d["sections"]))
    return Issue(**{**d, "date": dt.date.fromisoformat(d["date"]), "updated": updated, "sections": sections})
