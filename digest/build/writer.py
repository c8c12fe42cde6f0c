"""Atomic output: a build writes into a staging folder beside the output and swaps it in.

Rules:
- A failed or killed build never touches the last good output.  The new site appears
  in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames).
- One build at a time per output folder: a second one is told and exits, rather than
  racing the first.
- The lock and the staging folder live in the newsletter's work folder (``.digest-cache``);
  the staging folder goes beside the output only when the output is on another
  filesystem, because the swap must be a rename.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import functools
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from digest.core.errors import DigestError, Problem

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
# Every site digest writes holds this file: a folder without it is not digest's to replace.
MARKER = ".digest-site"
MARKER_TEXT = b"This folder is a site built by digest; `digest build` replaces it as a whole.\n"
# What a build may never replace, relative to the newsletter folder: its sources and its cache.
SOURCES = ("config.yaml", "issues", "templates", ".digest-cache")


class Staging:
    """A folder being filled with the next site."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sums: dict[str, str] = {}  # path under the site → sha256, for the build cache's site record
        self._dirs: set[Path] = {path}

    def _target(self, rel: str) -> Path:
        target = self.path / rel
        if target.parent not in self._dirs:  # one mkdir per folder: metadata calls dominate no-op builds
            target.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(target.parent)
        return target

    def write(self, rel: str, data: bytes) -> None:
        self._target(rel).write_bytes(data)
        self.sums[rel] = hashlib.sha256(data).hexdigest()

    def link(self, rel: str, source: Path, sha256: str) -> None:
        """Reuse an unchanged file (from the build cache, whose checksum is known) without copying it."""
        target = self._target(rel)
        self.sums[rel] = sha256
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def check_output(root: Path, out: Path) -> None:
    """Refuse an output folder that a build may not replace: only an absent or empty folder,
    or a site digest built (it holds MARKER), may be.  Never the newsletter folder, a folder
    that contains it, or its sources and cache.  Called before anything is written."""
    real_root, real_out = root.resolve(), out.resolve()
    if real_root.is_relative_to(real_out):
        why = "is the newsletter folder" if real_out == real_root else "contains the newsletter folder"
        raise DigestError([Problem(str(out), None, f"{why}; refusing to replace it with the site: choose another --out")])
    for name in SOURCES:
        if real_out.is_relative_to(real_root / name):
            where = f"is the newsletter's {name}" if real_out == real_root / name else f"is inside the newsletter's {name}"
            raise DigestError([Problem(str(out), None, f"{where}; refusing to replace it with the site: choose another --out")])
    if out.is_symlink():
        raise DigestError([Problem(str(out), None, "is a symbolic link; refusing to replace it: give the folder itself as --out")])
    if out.exists() and not out.is_dir():
        raise DigestError([Problem(str(out), None, "exists and is not a folder; refusing to replace it")])
    try:
        if not out.exists() or not any(os.scandir(out)):
            return
        marker = os.lstat(out / MARKER)
    except FileNotFoundError:
        marker = None
    except OSError as e:
        raise DigestError([Problem(str(out), None, f"cannot read the output folder: {e.strerror or e}; refusing to replace it")]) from e
    if marker is None or not stat.S_ISREG(marker.st_mode):
        raise DigestError([Problem(str(out), None, f"is not empty and is not a site digest built (it has no {MARKER} file); refusing to replace it: choose an empty or new folder")])


@contextlib.contextmanager
def locked(work: Path) -> Iterator[None]:
    """Hold the newsletter's build lock (in its work folder), or fail at once with a clear message."""
    lock_path = work / "build.lock"
    try:
        work.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise DigestError([Problem(str(work), None, f"cannot create the build lock {lock_path}: {e.strerror or e}")]) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DigestError([Problem(str(work.parent), None, "another digest build of this newsletter is running; try again when it has finished")]) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def staging(out: Path, work: Path) -> Iterator[Staging]:
    """Yield a staging folder; on success swap it in for ``out``, on any failure delete it.

    The staging folder lives in ``work`` (the newsletter's own work folder) when that is on
    the same filesystem as ``out``, so nothing is written beside an output folder elsewhere;
    otherwise beside ``out``, because the swap must be a rename.
    """
    out = out.absolute()
    with locked(work):
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            home = work if os.stat(work).st_dev == os.stat(out.parent).st_dev else out.parent
            _recover(home, out)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=home))
        except OSError as e:
            raise DigestError([Problem(str(out), None, f"cannot write the output folder: {e.strerror or e}; the previous site is unchanged")]) from e
        stage = Staging(tmp)
        try:
            stage.write(MARKER, MARKER_TEXT)
            yield stage
            tmp.chmod(0o755)
            _swap(tmp, out)
        except OSError as e:
            raise DigestError([Problem(str(out), None, f"could not write the site ({e.strerror or e}); the previous site is unchanged")]) from e
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _swap(new: Path, out: Path) -> None:
    """Make ``new`` the output folder atomically; the old output ends up at ``new`` (deleted by the caller)."""
    if not out.exists():
        os.rename(new, out)
        return
    if not out.is_dir() or out.is_symlink():
        raise DigestError([Problem(str(out), None, "exists and is not a folder; refusing to replace it")])
    if _exchange(new, out):
        return
    # No atomic exchange here: two renames, with a short window where only the old one exists.
    old = new.with_name(new.name + "-old")
    os.rename(out, old)
    os.rename(new, out)
    os.rename(old, new)


@functools.lru_cache(maxsize=1)
def _renameat2() -> Any:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    return getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)


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


def _recover(home: Path, out: Path) -> None:
    """Tidy up after killed builds; safe while we hold the lock.

    A staging folder left behind is deleted.  If the two-rename fallback was cut between
    its renames, the previous site is still whole under its ``-old`` name: put it back.
    """
    for leftover in sorted(home.glob(f".{out.name}.tmp-*")):
        if leftover.is_symlink() or not leftover.is_dir():
            continue
        if leftover.name.endswith("-old") and not out.exists():
            os.rename(leftover, out)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
