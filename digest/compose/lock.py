"""The lock every writer of an issue file holds: `add`, `collect`, `new` and the browser editor.

Rules:
- The lock is ``flock`` on the issues folder itself, opened read-only: digest creates no lock
  file, so nothing new appears in the newsletter (no stray file for git to show, none that a
  build could publish or that `digest check` would have to ignore), and there is never a stale
  lock to delete: the kernel drops it when the process ends, however it ends (kill -9 too).
- Held for a read-modify-write of a file, never across the network: a command fetches first,
  then locks, reads the file as it is now, edits and replaces it.  So a holder keeps it for
  milliseconds, and a second writer waits for it (up to WAIT seconds) and then edits the file
  the first one wrote.  Waiting longer than that is refused with a message, never a silent skip.
- Re-entrant within a process (a thread that holds it may take it again), and threads of one
  process exclude each other, as processes do.
- A writer that does not take the lock (a person's text editor) is still caught by the last
  check before the rename (digest.compose.edit.write_atomic), but not in the instant between
  that check and the rename: only digest's own writers are fully serialised.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.core.errors import DigestError, Problem

WAIT = 10.0  # seconds a writer waits for another to finish before giving up
_POLL = 0.02

_guard = threading.Lock()
_local: dict[Path, threading.RLock] = {}  # one per folder: threads of this process take turns
_depth: dict[Path, int] = {}  # how deeply this process holds each folder's flock


@contextmanager
def issues_locked(folder: Path, rel: str = "issues", wait: float | None = None) -> Iterator[None]:
    """Hold the lock on ``folder`` (the issues folder) for the length of the ``with`` block,
    waiting at most ``wait`` seconds (default WAIT) for another holder."""
    wait = WAIT if wait is None else wait
    real = folder.resolve()
    with _guard:
        local = _local.setdefault(real, threading.RLock())
    if not local.acquire(timeout=wait):
        raise _busy(rel, wait)
    try:
        if _depth.get(real, 0):  # this thread already holds the folder's flock
            _depth[real] += 1
            try:
                yield
            finally:
                _depth[real] -= 1
            return
        fd = _lock(real, rel, wait)
        _depth[real] = 1
        try:
            yield
        finally:
            _depth[real] = 0
            os.close(fd)  # closing the descriptor releases the flock
    finally:
        local.release()


def _lock(folder: Path, rel: str, wait: float) -> int:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        why = f"cannot be opened to lock it ({e.strerror or e}); nothing was written"
        raise DigestError([Problem(rel, None, why)]) from None
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    # flock unsupported here (some network filesystems): no edit without the lock.
                    why = f"cannot be locked ({e.strerror or e}); nothing was written"
                    raise DigestError([Problem(rel, None, why)]) from None
            if time.monotonic() >= deadline:
                raise _busy(rel, wait)
            time.sleep(_POLL)
    except BaseException:
        os.close(fd)
        raise


def _busy(rel: str, wait: float) -> DigestError:
    return DigestError(
        [
            Problem(
                rel,
                None,
                f"another digest command (add, collect, new or the editor) has been writing here for {wait:g} s;"
                " nothing was written: try again when it has finished",
            )
        ]
    )
