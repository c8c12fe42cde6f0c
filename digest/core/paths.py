"""Where a newsletter's inputs may come from: its own folder, and nowhere else.

Rules:
- Every input (config.yaml, issues/ and each file in it, templates/ and each file in
  it) may be a symlink only to something inside the newsletter folder (by real path):
  digest never follows a symlink out of the newsletter.
- A symlink loop or a dangling symlink is a clear error, never a crash.
- A file or folder that cannot be read says so, with what to fix.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from digest.core.errors import Problem


class Refused(Exception):
    """An input that may not be read; the message says why, for the newsletter's editor."""

    def __init__(self, message: str, *, missing: bool = False, parent_denied: bool = False) -> None:
        super().__init__(message)
        self.missing = missing  # nothing at all by that name
        self.parent_denied = parent_denied  # the folder it is in cannot be searched (no x permission)


def reason(e: OSError) -> str:
    """An OSError in the words of a message: "permission denied", "is a folder"..."""
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (e.strerror or str(e)).lower()


def input_stat(path: Path, root: Path, *, kind: str = "file") -> os.stat_result:
    """The stat of ``path`` (through a symlink), or Refused when it may not be read as an input
    of the newsletter whose real path is ``root``: a symlink out of it, a loop, a dangling link."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise Refused("not found", missing=True) from None
    except OSError as e:
        raise Refused(f"cannot be read: {reason(e)}", parent_denied=e.errno in (errno.EACCES, errno.EPERM)) from None
    if not stat.S_ISLNK(st.st_mode):
        return st
    loop = f"is a symlink loop (it leads back to itself through other links): replace it with the real {kind}"
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # what Python 3.11's resolve() raises for some loops
        raise Refused(loop) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Refused(loop) from None
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise Refused(f"is a symlink to {_link(path)}, which does not exist") from None
        raise Refused(f"cannot be read: {reason(e)}") from None
    if not target.is_relative_to(root):
        raise Refused(f"is a symlink to a {kind} outside the newsletter folder; refusing to read it")
    try:
        return os.stat(path)
    except OSError as e:
        raise Refused(f"cannot be read: {reason(e)}") from None


def _link(path: Path) -> str:
    try:
        target = os.readlink(path)
    except OSError:
        return "?"
    return repr(target) if len(target) <= 80 else repr(target[:79]) + "…"


TEMPLATES_DIR = "templates"


def templates_folder(root: Path) -> tuple[Path | None, list[Problem]]:
    """The newsletter's templates/ folder (None when it has none), and why it cannot be used.

    Every folder in it must be open to digest, and nothing in it may be a symlink out of the
    newsletter: a template digest cannot see would quietly fall back to the built-in one,
    a wrong email that looks right.  (Each file's own content is checked as it is loaded.)"""
    folder = root / TEMPLATES_DIR
    real_root = root.resolve()
    try:
        st = input_stat(folder, real_root, kind="folder")
    except Refused as e:
        return None, [] if e.missing else [Problem(TEMPLATES_DIR, None, str(e))]
    if not stat.S_ISDIR(st.st_mode):
        return None, [Problem(TEMPLATES_DIR, None, "is not a folder: template overrides go in a folder of that name")]
    problems: list[Problem] = []
    todo = [(folder, TEMPLATES_DIR)]
    while todo and len(problems) < 20:
        here, rel = todo.pop()
        try:
            names = sorted(os.listdir(here))
        except OSError as e:
            problems.append(
                Problem(rel, None, f"cannot open the folder: {reason(e)} (a folder needs read and execute permission)")
            )
            continue
        for name in names:
            try:
                entry = input_stat(here / name, real_root)
            except Refused as e:
                if e.parent_denied:
                    problems.append(
                        Problem(
                            rel,
                            None,
                            "cannot look at the files in the folder: permission denied (a folder needs execute"
                            " permission as well as read)",
                        )
                    )
                    break
                problems.append(Problem(f"{rel}/{name}", None, str(e)))
                continue
            if stat.S_ISDIR(entry.st_mode) and not (here / name).is_symlink():
                todo.append((here / name, f"{rel}/{name}"))
    return (None if problems else folder), problems
