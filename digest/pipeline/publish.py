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
- Files are never changed in place: each is written (or linked) under a temporary name and
  renamed.  A file is trusted to be as written by what was recorded then (size, mtime_ns,
  inode, as git's index does); nothing in the folder beside the output is trusted but a file
  that is the recorded output file itself.  ``verify`` trusts nothing and writes every file.
- digest uses or removes only folders it made: a new or old folder must hold MARKER.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.core.errors import DigestError, Problem
from digest.pipeline.output import MARKER, MARKER_TEXT


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
    seen = 0
    try:
        for rel, st in _walk(out):
            rec = files.get(rel)
            if rec is None or st is None or not _same(st, rec):
                return False
            seen += 1
    except OSError:
        return False
    return seen == len(files)


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
        if not os.path.lexists(new):
            os.mkdir(new)
        (new / MARKER).write_bytes(MARKER_TEXT)  # first: a leftover folder is known to be ours
        written = _fill(new, out, files, {} if verify else record)
        _prune(new, files)
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
    why = f"could not {what} the site ({e.strerror or e}); the previous site is unchanged"
    return DigestError([Problem(str(out), None, why)])


def _fill(new: Path, out: Path, files: Mapping[str, Output], record: Mapping[str, Any]) -> Record:
    """Bring ``new`` to hold ``files``: a recorded output file with the right key is linked (or
    is there already, the same inode), every other file is written."""
    written: Record = {}
    folders: set[Path] = {new}
    for rel, output in files.items():
        target = new / rel
        if target.parent not in folders:
            _folder(new, target.parent, folders)
        key = key_of(output)
        if (st := reusable(out, record, rel, key)) is not None:
            if _inode(target) == st.st_ino or _link(out / rel, target):
                written[rel] = [key, st.st_size, st.st_mtime_ns, st.st_ino]
                continue
        tmp = target.with_name(f"{target.name}.digest-tmp")
        tmp.write_bytes(output.make() if isinstance(output, Later) else output)
        _replace(tmp, target)
        st = os.lstat(target)
        written[rel] = [key, st.st_size, st.st_mtime_ns, st.st_ino]
    return written


def _inode(path: Path) -> int | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_ino if stat.S_ISREG(st.st_mode) else None


def _replace(tmp: Path, target: Path) -> None:
    """``tmp`` renamed to ``target``; a folder in its way (the site's shape changed) is removed first."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    os.replace(tmp, target)


def _folder(new: Path, folder: Path, known: set[Path]) -> None:
    """``folder`` under ``new`` as a real folder: a file or link in its way is removed.  ``known``: the folders
    made sure of already (``folder`` joins them)."""
    part = new
    for name in folder.relative_to(new).parts:
        part = part / name
        if part in known:
            continue
        known.add(part)
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            os.mkdir(part)
            continue
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(part)
            os.mkdir(part)


def _prune(new: Path, files: Mapping[str, Output]) -> None:
    """Remove from ``new`` every file the new site does not have (old issues' files, a killed
    build's temporary ones, anything not a file), then the folders left empty."""
    for rel, _ in _walk(new):
        if rel not in files:
            os.unlink(new / rel)
    for folder, _, _ in os.walk(new, topdown=False):  # deepest first; never into a link (none is left)
        if folder != str(new) and not any(os.scandir(folder)):
            os.rmdir(folder)


def _link(source: Path, target: Path) -> bool:
    """``target`` made a hard link of ``source``: at once where the name is free (a link appears whole), else
    through a temporary name."""
    try:
        os.link(source, target)
        return True
    except FileExistsError:
        pass  # a file or a folder in the way: replaced through a temporary name
    except OSError:  # a file system without hard links: the file is written instead
        return False
    tmp = target.with_name(f"{target.name}.digest-tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.link(source, tmp)
    except OSError:  # a file system without hard links: the file is written instead
        return False
    _replace(tmp, target)
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
    """A new or old site folder is digest's if it is a real folder that holds MARKER (or is empty)."""
    if folder.is_symlink() or not folder.is_dir():
        raise DigestError([Problem(str(folder), None, "is in the way of the site and is not digest's: move it away")])
    if not os.path.isfile(folder / MARKER) and any(os.scandir(folder)):
        raise DigestError(
            [Problem(str(folder), None, f"is in the way of the site and has no {MARKER} file: move it away")]
        )


def swap(new: Path, out: Path) -> None:
    """Make ``new`` the output folder atomically; the old output ends up at ``new``."""
    if not os.path.lexists(out):
        os.rename(new, out)
        return
    if _exchange(new, out):
        return
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


@functools.lru_cache(maxsize=1)
def _renameat2() -> Any:
    # The C library is already loaded into this process: CDLL(None) finds its symbols.
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:
        return None


def _exchange(a: Path, b: Path) -> bool:
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))
