"""Publishing: the new site appears whole in one step, and costs what changed.

How: the new site is made in a folder beside the output (``.site.digest-new`` for ``site``),
which holds the site before the last one: each file the last build wrote with the same key,
and still as it was written, is hard-linked there from the output (or is that very file
already), the others are written, and what the new site does not have is removed.  Then the
two folders are swapped in one step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two
renames); the previous site, now beside the output, is where the next build starts.  So an
edit writes a few files and no build deletes a whole site.

Rules:
- A failed or killed build never touches the output folder: until the swap only the folder
  beside it changes, and a build that fails removes that folder.  After a kill between the
  two renames of the fallback, the next build puts the previous site back before anything else.
- Files are never changed in place: each is written under a temporary name and renamed, or
  hard-linked into the new site's folder, which nothing reads before the swap.  A file is
  trusted to be as written by what was recorded then (size, mtime_ns, inode, as git's index
  does); nothing in the folder beside the output is trusted but a file that is the recorded
  output file itself.  ``verify`` trusts nothing and writes every file.
- digest uses or removes only folders it made: a new or old folder must hold MARKER.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.core.errors import DigestError
from digest.pipeline.output import MARKER, MARKER_TEXT, refused


@dataclass(frozen=True)
class Later:
    """A file known by its key, made only if the output does not hold it already."""

    key: str
    make: Callable[[], bytes]


Output = bytes | Later
Record = dict[str, list[Any]]  # path under the site → [key, size, mtime_ns, inode]


def key_of(output: Output) -> str:
    return output.key if isinstance(output, Later) else hashlib.sha256(output).hexdigest()


def unchanged(out: Path, record: Mapping[str, Any], site_key: str) -> bool:
    """Whether ``out`` is the site the last build made for ``site_key``, untouched since."""
    files: Record = record.get("files", {})
    if record.get("site_key") != site_key or not files:
        return False
    try:
        found = _walk(out)
    except OSError:
        return False
    return len(found) == len(files) and all(
        st is not None and rel in files and _same(st, files[rel]) for rel, st in found
    )


def reusable(out: Path, record: Mapping[str, Any], rel: str, key: str) -> os.stat_result | None:
    """The stat of ``out/rel`` if the last build wrote it under ``key`` and it is still as written."""
    rec = record.get("files", {}).get(rel)
    if rec is None or rec[0] != key:
        return None
    try:
        st = os.lstat(out / rel)
    except OSError:
        return None
    return st if _same(st, rec) else None


def publish(out: Path, files: Mapping[str, Output], record: Mapping[str, Any], verify: bool = False) -> Record:
    """Make ``files`` the site in ``out``; returns the record of what it now holds."""
    new = _beside(out, "new")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        recover(out)
    except OSError as e:
        raise _failed(out, "write", e) from e
    if os.path.lexists(new):
        _refuse_unless_ours(new)  # before anything is written: a folder of the user's stays as it is
    step = "write"
    try:
        new.mkdir(exist_ok=True)  # or the site before the last one, which is ours
        if not os.path.lexists(new / MARKER):  # first: a leftover folder is known to be ours
            (new / MARKER).write_bytes(MARKER_TEXT)
        written = _fill(new, out, files, {} if verify else record)
        os.chmod(new, 0o755)
        step = "replace"
        swap(new, out)
    except BaseException as e:  # a full disk, a page's template failing as it is made, an interrupt
        _remove_ours(new)  # nothing half-written stays
        if isinstance(e, OSError):
            raise _failed(out, step, e) from e
        raise
    return written


def _failed(out: Path, what: str, e: OSError) -> DigestError:
    return refused(out, f"could not {what} the site ({e.strerror or e}); the previous site is unchanged")


def _fill(new: Path, out: Path, files: Mapping[str, Output], record: Mapping[str, Any]) -> Record:
    """Bring ``new`` to hold ``files``: what it holds besides them goes first, so nothing is in the way of a file
    or a folder; then a recorded output file with the right key is linked (or is there already, the same inode),
    and every other file is written."""
    _prune(new, files)
    written: Record = {}
    folders: set[Path] = {new}
    for rel, output in files.items():
        target = new / rel
        if target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        key = key_of(output)
        st = reusable(out, record, rel, key)
        if st is None or not _link(out / rel, target, st.st_ino):
            tmp = target.with_name(f"{target.name}.digest-tmp")
            tmp.write_bytes(output.make() if isinstance(output, Later) else output)
            os.replace(tmp, target)
            st = os.lstat(target)
        written[rel] = [key, st.st_size, st.st_mtime_ns, st.st_ino]
    return written


def _prune(new: Path, files: Mapping[str, Output]) -> None:
    """Remove from ``new`` every file the new site does not have (old issues' files, a killed build's temporary
    ones) and anything not a regular file, then the folders left empty: each folder left holds a file of the site."""
    for rel, st in _walk(new):
        if rel not in files or st is None:
            os.unlink(new / rel)
    for folder, _, _ in os.walk(new, topdown=False):  # deepest first; never into a link (none is left)
        if folder != str(new) and not any(os.scandir(folder)):
            os.rmdir(folder)


def _link(source: Path, target: Path, inode: int) -> bool:
    """``target`` made a hard link of ``source`` (``inode``), unless it is one already; False on a file system
    without hard links.  ``target`` is in the new site's private folder: its older version goes, then the link
    takes its name."""
    try:
        if os.lstat(target).st_ino == inode:
            return True
        os.unlink(target)
    except FileNotFoundError:
        pass
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def _same(st: os.stat_result, rec: list[Any]) -> bool:
    return stat.S_ISREG(st.st_mode) and [st.st_size, st.st_mtime_ns, st.st_ino] == rec[1:4]


def _walk(folder: Path) -> list[tuple[str, os.stat_result | None]]:
    """Every entry but folders under ``folder``, relative, with its lstat (None: not a regular file)."""
    out: list[tuple[str, os.stat_result | None]] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(folder / rel if rel else folder) as it:
            for entry in it:
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                else:
                    st = entry.stat(follow_symlinks=False)
                    out.append((path, st if stat.S_ISREG(st.st_mode) else None))
    return out


def _beside(out: Path, kind: str) -> Path:
    """The new or old site's folder: beside the output, on its file system (the swap is a rename)."""
    return out.with_name(f".{out.name}.digest-{kind}")


def _remove_ours(folder: Path) -> None:
    """Remove a new or old site folder digest made (it holds MARKER, or is empty); refuse anything else."""
    if not os.path.lexists(folder):
        return
    _refuse_unless_ours(folder)
    shutil.rmtree(folder)


def _refuse_unless_ours(folder: Path) -> None:
    """A new or old site folder is digest's if it is a real folder that holds MARKER as a file, not a link (or
    is empty): publish writes the marker in it first, and must never write through a link."""
    if folder.is_symlink() or not folder.is_dir():
        raise refused(folder, "is in the way of the site and is not digest's: move it away")
    try:
        marked = stat.S_ISREG(os.lstat(folder / MARKER).st_mode)
    except FileNotFoundError:
        marked = False
    if not marked and any(os.scandir(folder)):
        raise refused(folder, f"is in the way of the site and has no {MARKER} file: move it away")


def swap(new: Path, out: Path) -> None:
    """Make ``new`` the output folder atomically; the old output ends up at ``new``."""
    if not os.path.lexists(out):
        os.rename(new, out)
    elif not _exchange(new, out):
        # No atomic exchange here: two renames, with a short window where only the old site
        # exists (under its -old name, where recover() finds it after a kill).
        old = _beside(out, "old")
        os.rename(out, old)
        os.rename(new, out)
        os.rename(old, new)


def recover(out: Path) -> None:
    """After a kill between the fallback's two renames the previous site is whole under its
    -old name: put it back (or, if the new one made it in, remove it)."""
    old = _beside(out, "old")
    if os.path.lexists(old):
        _refuse_unless_ours(old)  # never a folder of the user's moved into the site's place
        if not os.path.lexists(out):
            os.rename(old, out)
        else:
            _remove_ours(old)


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one step (Linux's renameat2 with RENAME_EXCHANGE); False where that cannot be done."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # the C library, loaded already
    if renameat2 is None:
        return False
    if renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))
