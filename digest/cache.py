"""The build cache: each issue's model and rendered files, keyed on everything that shapes them.

Rules:
- The key of an issue is a hash of its file's bytes, config.yaml, every template
  (the newsletter's and the built-in ones), and digest's own source and version.  Any
  change to any of them is a different key, so a stale entry is never found.
- The cache lives outside the published output (``ROOT/.digest-cache``).
- An entry is trusted only after its files match the checksums recorded with it; a
  corrupt, truncated or unreadable entry is ignored and rebuilt, never used.
- Entries are plain JSON, never pickle: a cache folder that came from somewhere else
  (say, committed by mistake) must not be able to run code.
- Entries are written to a temporary name and renamed, so a killed build leaves no
  half-written entry under a real key; unused entries are pruned after each build.
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

from . import __version__
from .errors import Problem
from .models import Image, Issue, Item, Section

CACHE_DIR = ".digest-cache"
_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Entry:
    issue: Issue
    warnings: tuple[Problem, ...]
    content: str  # the issue's HTML fragment, for the feeds
    files: dict[str, Path]  # output name (email.html...) → the cached file


def salt(root: Path) -> bytes:
    """What every issue's output depends on besides its own file."""
    h = hashlib.sha256(f"digest {__version__} cache {_FORMAT}\n".encode())
    sources = [root / "config.yaml"]
    for folder in (root / "templates", _PACKAGE / "templates", _PACKAGE):
        if folder.is_dir():
            sources += sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in sources:
        h.update(f"\0{path.name}\0".encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.digest()


def key(salt_bytes: bytes, issue_file: bytes, name: str) -> str:
    return hashlib.sha256(salt_bytes + name.encode() + b"\0" + issue_file).hexdigest()


class BuildCache:
    def __init__(self, root: Path) -> None:
        self.dir = root / CACHE_DIR / "objects"
        self.used: set[str] = set()

    def get(self, k: str) -> Entry | None:
        """The entry for ``k`` if present and intact, else None."""
        folder = self.dir / k
        try:
            meta = json.loads((folder / "meta.json").read_bytes())
            issue = _issue_from_json(meta["issue"])
            warnings = [Problem(**w) for w in meta["warnings"]]
            content, sums = meta["content"], meta["sums"]
            files = {}
            for name, digest in sums.items():
                path = folder / name
                if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    return None
                files[name] = path
        except Exception:  # noqa: BLE001 - any damage at all means "not cached"
            return None
        self.used.add(k)
        return Entry(issue, tuple(warnings), content, files)

    def put(self, k: str, issue: Issue, warnings: list[Problem], content: str, outputs: dict[str, bytes]) -> dict[str, Path] | None:
        """Store an entry; returns the cached files, or None if the cache cannot be written."""
        folder = self.dir / k
        tmp = self.dir / f"{k}.tmp-{os.getpid()}"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for name, data in outputs.items():
                (tmp / name).write_bytes(data)
            sums = {name: hashlib.sha256(data).hexdigest() for name, data in outputs.items()}
            meta = {"issue": _to_json(issue), "warnings": [dataclasses.asdict(w) for w in warnings], "content": content, "sums": sums}
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return None  # a cache we cannot write only costs speed
        self.used.add(k)
        return {name: folder / name for name in outputs}

    def prune(self) -> None:
        """Remove entries this build did not use (old versions of issues, killed writes)."""
        if not self.dir.is_dir():
            return
        for path in self.dir.iterdir():
            if path.name not in self.used:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value is not None else None


def _issue_from_json(d: dict[str, Any]) -> Issue:
    sections = tuple(
        Section(
            title=s["title"],
            items=tuple(
                Item(**{**i, "image": Image(**i["image"]) if i["image"] else None, "date": _date(i["date"])}) for i in s["items"]
            ),
        )
        for s in d["sections"]
    )
    return Issue(**{**d, "date": _date(d["date"]), "sections": sections})
