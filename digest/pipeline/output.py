"""Which folders a build may write, and one build at a time.

Rules:
- A build replaces only an output folder that is absent, empty, or a site digest built
  (it holds MARKER); never the newsletter folder, a folder that contains it, or its sources.
  Checked before anything is written.
- One build at a time per newsletter: a second one is told and exits, rather than racing
  the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from digest.core.errors import DigestError, Problem

# Every site digest writes holds this file: a folder without it is not digest's to replace.
MARKER = ".digest-site"
MARKER_TEXT = b"This folder is a site built by digest; `digest build` replaces it as a whole.\n"
# What a build may never replace, relative to the newsletter folder: its sources.
SOURCES = ("config.yaml", "issues", "templates")


def check_output(root: Path, out: Path) -> None:
    """Refuse an output folder that a build may not replace: only an absent or empty folder,
    or a site digest built (it holds MARKER), may be.  Never the newsletter folder, a folder
    that contains it, or its sources.  Called before anything is written."""
    real_root, real_out = root.resolve(), out.resolve()
    another = "refusing to replace it with the site: choose another --out"
    if real_root.is_relative_to(real_out):
        raise refused(out, f"{'is' if real_out == real_root else 'contains'} the newsletter folder; {another}")
    for name in SOURCES:
        if real_out.is_relative_to(real_root / name):
            where = "is" if real_out == real_root / name else "is inside"
            raise refused(out, f"{where} the newsletter's {name}; {another}")
    if out.is_symlink():
        raise refused(out, "is a symbolic link; refusing to replace it: give the folder itself as --out")
    if out.exists() and not out.is_dir():
        raise refused(out, "exists and is not a folder; refusing to replace it")
    try:
        if not out.exists() or not any(os.scandir(out)):
            return
        marker = os.lstat(out / MARKER)
    except FileNotFoundError:
        marker = None
    except OSError as e:
        raise refused(out, f"cannot read the output folder: {e.strerror or e}; refusing to replace it") from e
    if marker is None or not stat.S_ISREG(marker.st_mode):
        why = f"is not empty and is not a site digest built (it has no {MARKER} file); refusing to replace it"
        raise refused(out, f"{why}: choose an empty or new folder")


def refused(path: Path, why: str) -> DigestError:
    """A problem with a folder a build writes (or would), as one message."""
    return DigestError([Problem(str(path), None, why)])


@contextlib.contextmanager
def locked(root: Path, cache: Path) -> Iterator[None]:
    """Hold the newsletter's build lock (in this user's cache folder for it, so that a
    read-only newsletter can be built), or fail at once with a clear message."""
    lock_path = cache / "build.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        raise refused(cache, f"cannot create the build lock {lock_path}: {e.strerror or e}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            why = "another digest build of this newsletter is running; try again when it has finished"
            raise refused(root, why) from None
        yield
    finally:
        os.close(fd)
