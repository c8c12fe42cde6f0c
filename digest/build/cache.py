"""The build cache: each issue's validated model, rendered files and web page, keyed by content.

Rules:
- Keys are hashes of content only (digest.build.memo): the issue file's bytes and name,
  config.yaml, the templates and digest's own code; never a path as it was spelt.
- The cache lives outside the published output (``ROOT/.digest-cache``) and is plain JSON,
  never pickle: a cache folder from elsewhere must not be able to run code.
- Every record is sealed with this user's key (digest.build.seal); one that fails the
  check (another user's, a forged or damaged one) is ignored and rebuilt, never used.
- A cached file is trusted by what was recorded when it was written (size, mtime_ns and
  inode, as git's index does): a file written again, edited or replaced changes them.
  ``verify=True`` (``digest build --verify``) hashes every byte instead.
- The cache folder and its parts must be real folders: digest refuses one that is, or
  holds, a symbolic link where its own folders belong, and pruning never follows a link.
- After each build, one sealed index (``index.json``) holds every current entry's record
  but its sections, and every page's, so the next build reads one file, not one per
  issue and page; an entry whose own record changed since is read from that record.
  An issue's sections are read from its own record when first used (digest.build.lazy).
- Entries are written to a temporary name and renamed, so a killed build leaves no
  half-written entry under a real key; unused entries are pruned after each build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.build.lazy import LazySections
from digest.build.seal import seal, unseal, unseal_shared, user_key
from digest.core.errors import DigestError, Problem
from digest.core.models import Image, Issue, Item, Section

CACHE_DIR = ".digest-cache"
INDEX = "index.json"  # every current entry's record but its sections, in one file (BuildCache.write_index)
COMPILED = "templates"  # compiled templates (digest.build.compiled)


@dataclass(frozen=True)
class Stored:
    """A file as digest wrote it: its checksum and what the file system recorded."""

    path: Path
    sha256: str
    size: int
    mtime_ns: int
    ino: int

    @classmethod
    def of(cls, path: Path, sha256: str) -> Stored:
        st = os.lstat(path)
        return cls(path, sha256, st.st_size, st.st_mtime_ns, st.st_ino)

    def record(self) -> list[Any]:
        return [self.sha256, self.size, self.mtime_ns, self.ino]

    def intact(self, verify: bool = False) -> bool:
        """Whether the file is still what was written (by its stat; by its bytes if ``verify``)."""
        try:
            if verify:
                with open(self.path, "rb") as f:
                    return hashlib.file_digest(f, "sha256").hexdigest() == self.sha256
            return same_stat(os.lstat(self.path), self.size, self.mtime_ns, self.ino)
        except OSError:
            return False


def same_stat(st: os.stat_result, size: int, mtime_ns: int, ino: int) -> bool:
    return stat.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns, st.st_ino) == (size, mtime_ns, ino)


PAGE = "index.html"  # an issue's web page, stored apart from its entry (digest.build.memo.page_key)
CONTENT = "content.html"  # an entry's feed fragment: a file of its own, read only for the issues the feeds carry


@dataclass(frozen=True)
class Entry:
    issue: Issue
    warnings: tuple[Problem, ...]
    content: Stored  # the issue's HTML fragment, for its web page and the feeds (not published)
    files: dict[str, Stored]  # output name (email.html...) → the cached file


def refuse_links(work: Path) -> None:
    """Refuse a cache folder that is, or whose own parts are, a symbolic link or not a folder:
    digest never writes, prunes or reads through a link out of its cache."""
    for path, folder in ((work, True), (work / "objects", True), (work / "models", True), (work / COMPILED, True), (work / "site.json", False), (work / INDEX, False), (work / "build.lock", False)):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError as e:
            raise DigestError([Problem(str(path), None, f"cannot read the build cache: {e.strerror or e}")]) from e
        if stat.S_ISLNK(mode):
            raise DigestError([Problem(str(path), None, "is a symbolic link; digest keeps its build cache only in real folders: delete the link (the cache is rebuilt)")])
        if folder and not stat.S_ISDIR(mode):
            raise DigestError([Problem(str(path), None, "is not a folder; it belongs to digest's build cache: delete it (the cache is rebuilt)")])
_PACKAGE = Path(__file__).resolve().parent.parent


class BuildCache:
    def __init__(self, root: Path, *, key: bytes | None = None, verify: bool = False) -> None:
        self.work = root / CACHE_DIR  # also holds the build lock and the spare site
        refuse_links(self.work)
        self.key = key if key is not None else user_key()
        self.verify = verify
        self.dir = self.work / "objects"
        self.models = self.work / "models"  # validated issues, keyed without the templates
        self.sites = self.work / "site.json"
        self._index: dict[str, Any] | None = None

    def index(self) -> dict[str, Any]:
        """The index the last build wrote ({} if there is none, or it is not this user's)."""
        if self._index is None:
            try:
                self._index = _sealed_file(self.key, "index", INDEX, self.work / INDEX)
            except Exception:  # noqa: BLE001 - no index only means reading each entry's own record
                self._index = {}
        return self._index

    def get(self, k: str) -> Entry | None:
        """The entry for ``k`` if this user's digest wrote it and its files are intact, else None.
        From the index when it holds ``k`` and the entry's record is as indexed; its
        sections are then read from that record when first used (digest.build.lazy)."""
        folder = self.dir / k
        try:
            if (rec := self.index().get(k)) is not None and Stored(folder / "meta.json", *rec["meta"]).intact(self.verify):
                meta, issue = rec, _issue_from_json(rec["issue"], LazySections(lambda: self._sections(k)))
            else:
                meta = unseal(self.key, "entry", k, (folder / "meta.json").read_bytes())
                issue = _issue_from_json(meta["issue"])
            files = {name: Stored(folder / name, *rec) for name, rec in meta["files"].items()}
            content = files.pop(CONTENT)
            if not content.intact(self.verify) or not all(f.intact(self.verify) for f in files.values()):
                return None
            return Entry(issue, tuple(Problem(**w) for w in meta["warnings"]), content, files)
        except Exception:  # noqa: BLE001 - any damage at all means "not cached"
            return None

    def _sections(self, k: str) -> tuple[Section, ...]:
        """An indexed entry's sections, from its own record (checked intact at lookup)."""
        try:
            meta = unseal(self.key, "entry", k, (self.dir / k / "meta.json").read_bytes())
            return tuple(map(_section_from_json, meta["issue"]["sections"]))
        except Exception as e:  # noqa: BLE001
            raise DigestError([Problem(str(self.dir / k), None, "the build cache changed during the build: build again")]) from e

    def put(self, k: str, issue: Issue, warnings: Iterable[Problem], content: str, outputs: dict[str, bytes]) -> Entry | None:
        """Store an entry; returns it, or None if the cache cannot be written (that only costs speed)."""
        meta = {"issue": _to_json(issue), "warnings": [dataclasses.asdict(w) for w in warnings]}
        moved = self._store("entry", k, meta, {**outputs, CONTENT: content.encode()})
        return Entry(issue, tuple(warnings), moved.pop(CONTENT), moved) if moved is not None else None

    def get_page(self, k: str) -> Stored | None:
        """The web page stored under page key ``k`` if this user's digest wrote it and it is intact, else None."""
        folder = self.dir / k
        try:
            meta = self.index().get(k) or unseal(self.key, "page", k, (folder / "meta.json").read_bytes())
            page = Stored(folder / PAGE, *meta["files"][PAGE])
            return page if page.intact(self.verify) else None
        except Exception:  # noqa: BLE001 - any damage at all means "not cached"
            return None

    def put_page(self, k: str, data: bytes) -> Stored | None:
        """Store a web page under page key ``k``; None if the cache cannot be written."""
        files = self._store("page", k, {}, {PAGE: data})
        return files[PAGE] if files is not None else None

    def _store(self, kind: str, k: str, meta: dict[str, Any], outputs: dict[str, bytes]) -> dict[str, Stored] | None:
        """Write ``outputs`` and the sealed ``meta`` as folder ``k``, through a temporary name."""
        if self.key is None:
            return None
        folder = self.dir / k
        tmp = self.dir / f"{k}.tmp-{os.getpid()}"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            files = {}
            for name, data in outputs.items():
                (tmp / name).write_bytes(data)
                files[name] = Stored.of(tmp / name, hashlib.sha256(data).hexdigest())
            body = {**meta, "files": {name: f.record() for name, f in files.items()}}
            (tmp / "meta.json").write_text(seal(self.key, kind, k, body), encoding="utf-8")
            if os.path.lexists(folder):
                shutil.rmtree(folder) if os.path.isdir(folder) and not os.path.islink(folder) else os.unlink(folder)
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        return {name: dataclasses.replace(f, path=folder / name) for name, f in files.items()}

    def get_model(self, k: str) -> tuple[Issue, tuple[Problem, ...]] | None:
        """A validated issue and its warnings, stored under model key ``k``, or None."""
        try:
            meta = unseal(self.key, "model", k, (self.models / f"{k}.json").read_bytes())
            return _issue_from_json(meta["issue"]), tuple(Problem(**w) for w in meta["warnings"])
        except Exception:  # noqa: BLE001 - any damage at all means "validate it again"
            return None

    def put_model(self, k: str, issue: Issue, warnings: Iterable[Problem]) -> None:
        """Store a validated issue (one without errors) under model key ``k``; a failure only costs speed."""
        if self.key is not None:
            body = {"issue": _to_json(issue), "warnings": [dataclasses.asdict(w) for w in warnings]}
            _replace_json(self.models / f"{k}.json", seal(self.key, "model", k, body))

    def site_record(self, out: Path) -> dict[str, Any]:
        """What the last build recorded about output folder ``out`` (its files, its spare), or {}."""
        try:
            record: dict[str, Any] = _sealed_file(self.key, "sites", "sites", self.sites)[str(out.resolve())]
            return record
        except Exception:  # noqa: BLE001 - an unreadable record just means "check everything"
            return {}

    def record_site(self, out: Path, record: dict[str, Any] | None) -> None:
        """Remember (or, with None, forget) what is in output folder ``out`` and its spare."""
        if self.key is None:
            return
        try:
            records = dict(_sealed_file(self.key, "sites", "sites", self.sites))  # a copy: the parse is shared
        except Exception:  # noqa: BLE001
            records = {}
        if record is None:
            records.pop(str(out.resolve()), None)
        else:
            records[str(out.resolve())] = record
        _replace_json(self.sites, seal(self.key, "sites", "sites", records))

    def prune(self, keep: set[str], keep_models: Iterable[str] = ()) -> None:
        """Remove every entry but the current issues' (old versions of issues, killed writes)."""
        for folder, wanted in ((self.dir, keep), (self.models, {f"{k}.json" for k in keep_models})):
            try:
                entries = list(os.scandir(folder))  # refuse_links made sure ``folder`` is no link
            except OSError:
                continue
            for entry in entries:
                if entry.name in wanted:
                    continue
                # A link is removed itself, never followed; rmtree does not follow links inside.
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def write_index(self, entries: Iterable[str], pages: Iterable[str]) -> None:
        """Write the index of the current entries and pages: each one's record (an entry's
        without its sections) and the stat of that record's file, so the next build reads
        one file instead of one per issue and page.  A record already indexed is kept while
        its file is as indexed; the others are read from their folders (the issues and
        pages rendered just now, or rendered again because their cached files were damaged)."""
        if self.key is None:
            return
        old, new = self.index(), {}
        for kind, keys in (("entry", entries), ("page", pages)):
            for k in keys:
                path = self.dir / k / "meta.json"
                if k in old and Stored(path, *old[k]["meta"]).intact():
                    new[k] = old[k]
                    continue
                try:
                    raw = path.read_bytes()
                    meta = unseal(self.key, kind, k, raw)
                    st = os.lstat(path)
                except Exception:  # noqa: BLE001 - not indexed: the next build reads its own record
                    continue
                if kind == "entry":
                    meta["issue"] = {name: v for name, v in meta["issue"].items() if name != "sections"}
                meta["meta"] = [hashlib.sha256(raw).hexdigest(), st.st_size, st.st_mtime_ns, st.st_ino]
                new[k] = meta
        self._index = new
        _replace_json(self.work / INDEX, seal(self.key, "index", INDEX, new))


def _sealed_file(key: bytes | None, kind: str, name: str, path: Path) -> dict[str, Any]:
    """A sealed file's body, a mapping shared with every other reader of the same text in
    this process (digest.build.seal.unseal_shared): read-only."""
    body = unseal_shared(key, kind, name, path.read_bytes())
    if not isinstance(body, dict):
        raise ValueError("not a mapping")
    return body


def _replace_json(path: Path, text: str) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary name, so no reader sees half a
    file; a cache that cannot be written only costs speed, so failures pass quietly."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


# An issue as JSON: its own fields by name, each section as [title, intro, items,
# sub-sections] and each item as the list of its fields in order (about half the text,
# and much faster to read back, than one mapping per item: a build reads every cached
# issue for the archive).
_ITEM_FIELDS = [f.name for f in dataclasses.fields(Item)]
_IMAGE, _DATE = _ITEM_FIELDS.index("image"), _ITEM_FIELDS.index("date")


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
    return row


def _item_from_json(row: list[Any]) -> Item:
    row[_IMAGE] = Image(*row[_IMAGE]) if row[_IMAGE] else None
    row[_DATE] = dt.date.fromisoformat(row[_DATE]) if row[_DATE] else None
    return Item(*row)


def _section_json(section: Section) -> list[Any]:
    return [section.title, section.intro, [_item_json(i) for i in section.items], [_section_json(sub) for sub in section.sections]]


def _section_from_json(row: list[Any]) -> Section:
    title, intro, items, subs = row
    return Section(title, tuple(map(_item_from_json, items)), intro, tuple(map(_section_from_json, subs)))


def _issue_from_json(d: dict[str, Any], lazy: LazySections | None = None) -> Issue:
    sections = lazy if lazy is not None else tuple(map(_section_from_json, d["sections"]))
    updated = dt.date.fromisoformat(d["updated"]) if d["updated"] else None
    return Issue(**{**d, "date": dt.date.fromisoformat(d["date"]), "updated": updated, "sections": sections})
