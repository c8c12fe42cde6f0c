"""Atomic output: a build writes into a staging folder beside the output and swaps it in.

Rules:
- A failed or killed build never touches the last good output.  The new site appears
  in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames).
- One build at a time per output folder: a second one is told and exits, rather than
  racing the first.
- Staging folders and the lock live beside the output (``.site.tmp-*``, ``.site.lock``),
  on the same filesystem so the swap is a rename.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DigestError, Problem

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class Staging:
    """A folder being filled with the next site."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
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
        self.count += 1

    def link(self, rel: str, source: Path, sha256: str) -> None:
        """Reuse an unchanged file (from the build cache, whose checksum is known) without copying it."""
        target = self._target(rel)
        self.sums[rel] = sha256
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        self.count += 1


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the output folder's build lock, or fail at once with a clear message."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise DigestError([Problem(str(out), None, f"cannot create the build lock {lock_path}: {e.strerror}")]) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DigestError([Problem(str(out), None, "another digest build is writing this folder; try again when it has finished")]) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def staging(out: Path) -> Iterator[Staging]:
    """Yield a staging folder; on success swap it in for ``out``, on any failure delete it."""
    out = out.absolute()
    with locked(out):
        _remove_leftovers(out)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        except OSError as e:
            raise DigestError([Problem(str(out), None, f"cannot write beside the output folder: {e.strerror}")]) from e
        stage = Staging(tmp)
        try:
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


def _exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_leftovers(out: Path) -> None:
    """Staging folders of builds that were killed; safe to delete while we hold the lock."""
    for leftover in out.parent.glob(f".{out.name}.tmp-*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
