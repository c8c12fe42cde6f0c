"""Publishing: the new site appears whole in one atomic step, and costs what changed.

How: every output folder has a spare, a second complete site that is not served (the
site before the last build).  A build brings the spare up to date, touching only the
files that differ from the new site, then swaps it with the output folder in one step
(Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames).  The folder swapped out is
the next build's spare, so no build ever deletes a site, or waits for one to be deleted.

Rules:
- A failed or killed build never touches the output folder: until the swap, only the
  spare changes.  After a kill between the two renames of the fallback, the next build
  puts the previous site back before anything else.
- Which file holds what is known from what was recorded when it was written (sha256,
  size, mtime_ns, inode, in the site record): a file is written again only if the new
  site needs other bytes, or if it changed since (``verify``: read and hash each file).
- Files are never changed in place: each is written (or hard-linked from the build cache)
  under a temporary name and renamed, so a recorded inode always has the recorded bytes.
- The spare lives in the newsletter's work folder (``.digest-cache``); beside the output
  only when the output is on another filesystem, because the swap must be a rename.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digest.build.cache import BuildCache, Stored, same_stat
from digest.core.errors import DigestError, Problem

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
Output = Stored | bytes  # a file in the build cache (linked), or bytes to write
Record = dict[str, list[Any]]  # path under the site → [sha256, size, mtime_ns, inode]


class Site:
    """An output folder, its spare, and what the last build recorded about both."""

    def __init__(self, out: Path, cache: BuildCache) -> None:
        self.out = out.absolute()
        self.cache = cache
        self.record = cache.site_record(self.out)

    def unchanged(self, build_key: str) -> dict[str, Any] | None:
        """The last build's summary if it was for ``build_key`` and the folder is exactly as it left it."""
        if self.record.get("build_key") != build_key or not _matches(self.out, self.record.get("live", {}), self.cache.verify):
            return None
        summary: dict[str, Any] = self.record["summary"]
        return summary

    def publish(self, files: Mapping[str, Output], build_key: str, summary: dict[str, Any]) -> None:
        """Make ``files`` the site: bring the spare up to date, then swap it in."""
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            spare = self.spare()
            recover(spare, self.out)
            live = _update(spare, files, self._known(), self.cache.verify)
            os.chmod(spare, 0o755)
        except OSError as e:
            raise DigestError([Problem(str(self.out), None, f"could not write the site ({e.strerror or e}); the previous site is unchanged")]) from e
        previous = self.record.get("live", {}) if self.out.exists() else {}
        try:
            swap(spare, self.out)
        except OSError as e:
            raise DigestError([Problem(str(self.out), None, f"could not replace the site ({e.strerror or e}); the previous site is unchanged")]) from e
        self.record = {"build_key": build_key, "summary": summary, "live": live, "spare": previous}
        self.cache.record_site(self.out, self.record)

    def spare(self) -> Path:
        """Where this output folder's spare lives (on its filesystem: the swap is a rename)."""
        work = self.cache.work
        if os.stat(work).st_dev == os.stat(self.out.parent).st_dev:
            tag = hashlib.sha256(os.fsencode(self.out.resolve())).hexdigest()[:16]
            return work / f"spare-{tag}"
        return self.out.with_name(f".{self.out.name}.digest-spare")

    def _known(self) -> dict[int, list[Any]]:
        """Recorded files by inode, from both trees: after a kill just after a swap, the
        record describes the two trees the other way round, and inodes say which is which."""
        known: dict[int, list[Any]] = {}
        for tree in (self.record.get("spare", {}), self.record.get("live", {})):
            for rec in tree.values():
                known[rec[3]] = rec
        return known


def _matches(folder: Path, record: Record, verify: bool) -> bool:
    """Whether ``folder`` holds exactly the recorded files, as recorded."""
    if not record:
        return False
    seen = 0
    try:
        for rel, st in _walk(folder):
            rec = record.get(rel)
            if rec is None or st is None or not same_stat(st, rec[1], rec[2], rec[3]):
                return False
            if verify and not Stored(folder / rel, *rec).intact(verify=True):
                return False
            seen += 1
    except OSError:
        return False
    return seen == len(record)


def _walk(folder: Path, folders: list[str] | None = None) -> list[tuple[str, os.stat_result | None]]:
    """Every entry but folders under ``folder``, relative, with its lstat (None: not a regular
    file); the folders under it are added to ``folders`` when given."""
    out: list[tuple[str, os.stat_result | None]] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(folder / rel if rel else folder) as it:
            for entry in it:
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                    if folders is not None:
                        folders.append(path)
                else:
                    st = entry.stat(follow_symlinks=False)
                    out.append((path, st if stat.S_ISREG(st.st_mode) else None))
    return out


def _update(spare: Path, files: Mapping[str, Output], known: dict[int, list[Any]], verify: bool) -> Record:
    """Make ``spare`` hold exactly ``files``; returns the record of what it then holds."""
    spare.mkdir(exist_ok=True)
    folders: list[str] = []
    existing = dict(_walk(spare, folders))
    record: Record = {}
    made: set[Path] = {spare}
    for rel, output in files.items():
        sha = output.sha256 if isinstance(output, Stored) else hashlib.sha256(output).hexdigest()
        st = existing.pop(rel, None)
        if st is not None:
            # Already the right bytes: a recorded file with the same checksum, or the very
            # file (a hard link of it) that the build cache holds.
            rec = known.get(st.st_ino)
            if isinstance(output, Stored) and st.st_ino == output.ino:
                rec = output.record()
            if rec is not None and rec[0] == sha and same_stat(st, rec[1], rec[2], rec[3]):
                if not verify or Stored(spare / rel, *rec).intact(verify=True):
                    record[rel] = rec
                    continue
        target = spare / rel
        if target.parent not in made:
            _make_folder(spare, target.parent)
            made.add(target.parent)
        tmp = target.with_name(f"{target.name}.digest-tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(output, Stored):
            try:
                os.link(output.path, tmp)
            except OSError:
                shutil.copyfile(output.path, tmp)
        else:
            tmp.write_bytes(output)
        if st is not None and os.lstat(tmp).st_ino == st.st_ino:
            os.unlink(target)  # rename() between two links of one file does nothing
        os.replace(tmp, target)
        st = os.lstat(target)
        record[rel] = [sha, st.st_size, st.st_mtime_ns, st.st_ino]
    for rel in existing:  # files the new site does not have, anything not a file, a killed build's temporary files
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spare / rel)
    _remove_folders(spare, set(folders) - _parents(files))
    return record


def _make_folder(spare: Path, folder: Path) -> None:
    """``folder`` under ``spare`` as a real folder (a file or link in its way is removed)."""
    for part in reversed([folder, *folder.parents]):
        if not part.is_relative_to(spare) or part == spare:
            continue
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            os.mkdir(part)
            continue
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(part)
            os.mkdir(part)


def _parents(files: Mapping[str, Output]) -> set[str]:
    """Every folder the files of the new site are in, relative to the site."""
    parents: set[str] = set()
    for rel in files:
        while "/" in rel:
            rel = rel.rsplit("/", 1)[0]
            if rel in parents:
                break
            parents.add(rel)
    return parents


def _remove_folders(spare: Path, unwanted: set[str]) -> None:
    """The folders the new site does not have, deepest first (their files are gone already)."""
    for rel in sorted(unwanted, key=lambda r: r.count("/"), reverse=True):
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(spare / rel)


def swap(new: Path, out: Path) -> None:
    """Make ``new`` the output folder atomically; the old output ends up at ``new``."""
    if not os.path.lexists(out):
        os.rename(new, out)
        return
    if not out.is_dir() or out.is_symlink():
        raise DigestError([Problem(str(out), None, "exists and is not a folder; refusing to replace it")])
    if _exchange(new, out):
        return
    # No atomic exchange here: two renames, with a short window where only the old one
    # exists (under its -old name, where recover() finds it after a kill).
    old = _old(new)
    os.rename(out, old)
    os.rename(new, out)
    os.rename(old, new)


def recover(spare: Path, out: Path) -> None:
    """Tidy up after a killed build; safe while we hold the lock.

    If the two-rename fallback was cut between its renames, the previous site is still
    whole under its -old name: put it back (or, if the new one made it, keep it as the spare)."""
    old = _old(spare)
    if os.path.isdir(old) and not os.path.islink(old):
        if not os.path.lexists(out):
            os.rename(old, out)
        elif not os.path.lexists(spare):
            os.rename(old, spare)
        else:
            shutil.rmtree(old)
    if os.path.islink(spare) or (os.path.lexists(spare) and not os.path.isdir(spare)):
        os.unlink(spare)


def _old(spare: Path) -> Path:
    return spare.with_name(spare.name + "-old")


@functools.lru_cache(maxsize=1)
def _renameat2() -> Any:
    # The C library is already loaded into this process: CDLL(None) finds its symbols
    # (find_library would run ldconfig in a subprocess on every build).
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:
        return None


def _exchange(a: Path, b: Path) -> bool:
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))
