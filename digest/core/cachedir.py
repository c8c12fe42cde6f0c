"""Where digest keeps what it may forget: this user's cache folder for one newsletter.

Rules:
- The folder lives outside the newsletter, under ``$XDG_CACHE_HOME/digest/`` (default
  ``~/.cache/digest/``), one folder per newsletter named by a hash of its real path.  A
  cache that arrives with the newsletter (a commit, an archive, another user's copy) is
  therefore never read: nothing in it needs a signature.
- Where the home folder cannot hold it (no home, a read-only one), the system's temporary
  folder does: ``/tmp/digest-<uid>/``.
- digest uses a folder there only if it is a real folder (not a link), owned by this user
  and writable by nobody else; it creates its folders private (0700).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from digest.core.errors import DigestError, Problem


def _candidates() -> list[Path]:
    places = []
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    home = os.path.expanduser("~")
    if os.path.isabs(xdg):  # the XDG spec: a relative path is to be ignored
        places.append(Path(xdg) / "digest")
    elif os.path.isabs(home):
        places.append(Path(home) / ".cache" / "digest")
    places.append(Path(tempfile.gettempdir()) / f"digest-{os.getuid()}")
    return places


def _private(folder: Path) -> bool:
    """Make ``folder`` (and its parents) if needed; whether it is a real, private folder of this user's."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022 and os.access(folder, os.W_OK)
    )


def newsletter_cache(root: Path) -> Path:
    """This user's cache folder for the newsletter in ``root`` (made if missing)."""
    real = os.fsencode(root.resolve())
    name = hashlib.sha256(real).hexdigest()[:24]
    for base in _candidates():
        if _private(base) and _private(base / name):
            return base / name
    tried = ", ".join(str(p) for p in _candidates())
    raise DigestError(
        [
            Problem(
                str(root),
                None,
                f"no private cache folder can be made ({tried}): set XDG_CACHE_HOME to a folder of yours",
            )
        ]
    )
