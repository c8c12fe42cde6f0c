"""The build cache: each issue's model and rendered files, keyed on everything that shapes them.

Rules:
- The key of an issue is a hash of its file's bytes, config.yaml, every template
  (the newsletter's and the built-in ones), and digest's own source and version.  Any
  change to any of them is a different key, so a stale entry is never found.
- Validated models are also kept on their own, keyed the same way without the templates
  (validation never reads them): after a template change every issue is rendered again,
  but none is validated again.  An unreadable model is validated again, never used.
- The cache lives outside the published output (``ROOT/.digest-cache``).
- An entry is trusted only after its files match the checksums recorded with it; a
  corrupt, truncated or unreadable entry is ignored and rebuilt, never used.
- Entries are plain JSON, never pickle: a cache folder that came from somewhere else
  (say, committed by mistake) must not be able to run code.
- Only entries this user's digest wrote are used: each record is authenticated with an
  HMAC under a random per-user key kept outside every newsletter (``user_key``).  A cache
  that arrives with the folder (a commit, an archive, another user) fails the check and
  is rebuilt, so it cannot put into a page anything no YAML holds.
- The cache folder and its parts must be real folders: digest refuses one that is, or
  holds, a symbolic link where its own folders belong, and pruning never follows a link.
- Entries are written to a temporary name and renamed, so a killed build leaves no
  half-written entry under a real key; unused entries are pruned after each build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from digest import __version__
from digest.core.errors import DigestError, Problem
from digest.core.models import Image, Issue, Item, Section

CACHE_DIR = ".digest-cache"
_FORMAT = 2
KEY_FILE = Path("digest") / "cache-key"  # under $XDG_STATE_HOME (default ~/.local/state)


def key_path() -> Path | None:
    """Where this user's cache key lives: outside every newsletter, so it never travels with one."""
    state = os.environ.get("XDG_STATE_HOME", "")
    try:
        base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    except (KeyError, RuntimeError):  # no home folder at all
        return None
    return base / KEY_FILE


@lru_cache(maxsize=4)
def _load_key(path: Path) -> bytes | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            # Written whole under a temporary name, then linked in place: no build ever
            # reads half a key, and of two first builds at once one key wins.
            tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_hex(32).encode())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            key = f.read(4096).strip()
    except OSError:
        return None
    return key if len(key) >= 32 else None


def user_key() -> bytes | None:
    """This user's random cache key, made on first use; None (no cache at all) if it cannot be kept."""
    path = key_path()
    return _load_key(path) if path is not None else None


def _mac(key: bytes, kind: str, name: str, body: Any) -> str:
    message = json.dumps([kind, name, body], sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal(key: bytes, kind: str, name: str, body: Any) -> str:
    """``body`` as JSON with an HMAC that binds it to its kind and name (so no record can stand in for another)."""
    return json.dumps({"mac": _mac(key, kind, name, body), "body": body})


def unseal(key: bytes | None, kind: str, name: str, raw: bytes) -> Any:
    """The body of a sealed record, or raise ValueError if this user's digest did not write it."""
    record = json.loads(raw)
    if key is None or not isinstance(record, dict) or not isinstance(record.get("mac"), str):
        raise ValueError("not sealed")
    if not hmac.compare_digest(record["mac"], _mac(key, kind, name, record.get("body"))):
        raise ValueError("not written by this user's digest")
    return record["body"]


def refuse_links(work: Path) -> None:
    """Refuse a cache folder that is, or whose own parts are, a symbolic link or not a folder:
    digest never writes, prunes or reads through a link out of its cache."""
    for path, folder in ((work, True), (work / "objects", True), (work / "models", True), (work / "site.json", False), (work / "build.lock", False)):
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


@dataclass(frozen=True)
class Entry:
    issue: Issue
    warnings: tuple[Problem, ...]
    content: str  # the issue's HTML fragment, for the feeds
    files: dict[str, Path]  # output name (email.html...) → the cached file
    sums: dict[str, str]  # output name → sha256 of its bytes


def salts(root: Path) -> tuple[bytes, bytes]:
    """What every issue's output depends on besides its own file, and what its validated
    model depends on (the same without the templates, which validation never reads): a
    template change then re-renders every issue without validating any again."""
    render = hashlib.sha256(f"digest {__version__} cache {_FORMAT} render\n".encode())
    model = hashlib.sha256(f"digest {__version__} cache {_FORMAT} model\n".encode())
    shared = [root / "config.yaml", *sorted(_PACKAGE.rglob("*.py"))]  # digest's own code: an upgrade re-renders everything
    templates = []
    for folder in (root / "templates", _PACKAGE / "render" / "templates"):
        if folder.is_dir():
            templates += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in shared + templates:
        try:
            data = path.read_bytes()
        except OSError:
            data = b"<missing>"
        for h in (render, model) if path in shared else (render,):
            h.update(f"\0{path}\0".encode())
            h.update(data)
    return render.digest(), model.digest()


def key(salt_bytes: bytes, issue_file: bytes, name: str) -> str:
    return hashlib.sha256(salt_bytes + name.encode() + b"\0" + issue_file).hexdigest()


def build_key(issue_keys: list[str]) -> str:
    """The whole site is a function of its issues' keys (each of which covers config and templates)."""
    return hashlib.sha256("\n".join(issue_keys).encode()).hexdigest()


class BuildCache:
    def __init__(self, root: Path, key: bytes | None = None) -> None:
        self.work = root / CACHE_DIR  # also holds the build lock and staging folders
        refuse_links(self.work)
        self.key = key if key is not None else user_key()
        self.dir = self.work / "objects"
        self.models = self.work / "models"  # validated issues, keyed without the templates
        self.manifest = root / CACHE_DIR / "site.json"

    def up_to_date(self, build_key: str, out: Path) -> dict[str, Any] | None:
        """The summary of the last build if ``out`` is exactly what it wrote for ``build_key``.

        Every file of the site is checked against the checksums recorded when it was
        written, and no file may be missing or extra: an edited site is rebuilt."""
        try:
            meta = unseal(self.key, "site", "site", self.manifest.read_bytes())
            if meta["build_key"] != build_key or meta["out"] != str(out.resolve()):
                return None
            sums: dict[str, str] = meta["files"]
            seen = 0
            for folder, _dirs, names in os.walk(out):
                for name in names:
                    path = os.path.join(folder, name)
                    rel = os.path.relpath(path, out).replace(os.sep, "/")
                    with open(path, "rb") as f:
                        if sums.get(rel) != hashlib.sha256(f.read()).hexdigest():
                            return None
                    seen += 1
            if seen != len(sums):
                return None
            summary: dict[str, Any] = meta["summary"]
            return summary
        except Exception:  # noqa: BLE001 - an unreadable manifest just means "build it"
            return None

    def record_site(self, build_key: str, out: Path, files: dict[str, str], summary: dict[str, Any]) -> None:
        """Remember what was just written to ``out`` (called after the swap)."""
        if self.key is not None:
            _replace_json(self.manifest, seal(self.key, "site", "site", {"build_key": build_key, "out": str(out.resolve()), "files": files, "summary": summary}))

    def forget_site(self) -> None:
        """Called before a build replaces the site: until it finishes, nothing is known about it."""
        try:
            self.manifest.unlink(missing_ok=True)
        except OSError:
            pass

    def has(self, k: str) -> bool:
        """Whether an entry for ``k`` exists (not whether it is intact: :meth:`get` checks that)."""
        return (self.dir / k / "meta.json").is_file()

    def get(self, k: str) -> Entry | None:
        """The entry for ``k`` if present and intact, else None."""
        folder = self.dir / k
        try:
            meta = unseal(self.key, "entry", k, (folder / "meta.json").read_bytes())
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
        return Entry(issue, tuple(warnings), content, files, sums)

    def put(self, k: str, issue: Issue, warnings: list[Problem], content: str, outputs: dict[str, bytes], sums: dict[str, str]) -> dict[str, Path] | None:
        """Store an entry (``sums``: the sha256 of each output); returns its files, or None if the cache cannot be written."""
        if self.key is None:
            return None
        folder = self.dir / k
        tmp = self.dir / f"{k}.tmp-{os.getpid()}"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for name, data in outputs.items():
                (tmp / name).write_bytes(data)
            meta = {"issue": _to_json(issue), "warnings": [dataclasses.asdict(w) for w in warnings], "content": content, "sums": sums}
            (tmp / "meta.json").write_text(seal(self.key, "entry", k, meta), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return None  # a cache we cannot write only costs speed
        return {name: folder / name for name in outputs}

    def get_model(self, k: str) -> tuple[Issue, tuple[Problem, ...]] | None:
        """A validated issue and its warnings, stored under model key ``k``, or None."""
        try:
            meta = unseal(self.key, "model", k, (self.models / f"{k}.json").read_bytes())
            return _issue_from_json(meta["issue"]), tuple(Problem(**w) for w in meta["warnings"])
        except Exception:  # noqa: BLE001 - any damage at all means "validate it again"
            return None

    def put_model(self, k: str, issue: Issue, warnings: list[Problem]) -> None:
        """Store a validated issue (one without errors) under model key ``k``; a failure only costs speed."""
        if self.key is not None:
            _replace_json(self.models / f"{k}.json", seal(self.key, "model", k, {"issue": _to_json(issue), "warnings": [dataclasses.asdict(w) for w in warnings]}))

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
    return Issue(**{**d, "date": _date(d["date"]), "updated": _date(d["updated"]), "sections": sections})
