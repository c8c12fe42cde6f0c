"""Images the browser editor receives: checked, then written into the newsletter's images/ folder.

Rules:
- An upload is checked as `digest build` checks an item's local image (digest.core.images:
  at most its MAX_BYTES, one of its FORMATS by the bytes, decoded whole, in its words), so
  what the editor takes the build publishes; the extension is the format's, whatever the
  upload was called.
- The name is made safe (lowercase letters of any script without accents, digits, - and _;
  no folders, no dot files), a subset of what an item's ``image.src`` may be written with; a file of that
  name with other bytes is never replaced: the new one gets the next free name
  (photo-2.jpg), and the same bytes again are the same file.
- images/ and the file are never reached through a symbolic link (one there is refused),
  and the file appears whole or not at all (a temporary file beside it, then a hard link
  that fails rather than replace anything).
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path

from digest.compose.edit import FILE_MODE, write_temporary
from digest.core import images
from digest.core.errors import DigestError, Problem
from digest.core.images import IMAGES_DIR


def upload_name(name: str) -> str:
    """An upload's name as messages show it: its last part (a browser may send a whole path)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1] or "the upload"


def image_format(data: bytes, name: str) -> str:
    """The file extension (".jpg") for the uploaded ``data``, or DigestError in build's words."""
    try:
        return "." + images.SUFFIXES[images.examine(upload_name(name), data).kind]
    except images.Unusable as e:
        raise DigestError([Problem(IMAGES_DIR, None, str(e))]) from None


def safe_stem(name: str) -> str:
    """A file name's stem reduced to letters (of any script: a Persian name stays Persian), digits,
    - and _, without accents and in lowercase (never empty, never a path)."""
    stem = Path(name.replace("\\", "/").rsplit("/", 1)[-1]).stem
    bare = "".join(_unmarked(c) for c in unicodedata.normalize("NFC", stem))
    cleaned = re.sub(r"[^\w-]+", "-", bare).strip("-_").lower()[:60].rstrip("-_")
    return cleaned or "image"


def _unmarked(c: str) -> str:
    """``c`` without its accent where it is a Latin letter's (ü → u), without a loose mark (an Arabic
    vowel sign); a letter of another script as it is (Persian آ keeps its madda: it is another letter)."""
    parts = unicodedata.normalize("NFKD", c)
    if parts[:1].isascii():
        return "".join(p for p in parts if unicodedata.category(p) != "Mn")
    return "" if unicodedata.category(c) == "Mn" else c


def save_image(root: Path, name: str, data: bytes) -> str:
    """Write an uploaded image into images/; returns its path in the newsletter ("images/photo.jpg")."""
    suffix = image_format(data, name)
    folder = root / IMAGES_DIR
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        folder.mkdir(mode=0o755)
        info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):  # a symbolic link (even to a folder) or a file
        raise DigestError([Problem(IMAGES_DIR, None, "is not a folder (a symbolic link?): nothing was written")])
    stem = safe_stem(name)
    tmp = write_temporary(folder / (stem + suffix), data, FILE_MODE)
    try:
        for n in range(1, 1000):
            file = f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
            assert images.written_plainly(f"{IMAGES_DIR}/{file}"), file  # what an item's image.src accepts
            target = folder / file
            try:
                os.link(tmp, target, follow_symlinks=False)
                return f"{IMAGES_DIR}/{file}"
            except FileExistsError:
                existing = os.lstat(target)
                if stat.S_ISREG(existing.st_mode) and target.read_bytes() == data:
                    return f"{IMAGES_DIR}/{file}"
        raise DigestError([Problem(IMAGES_DIR, None, f"has too many files named {stem}: rename the upload")])
    except OSError as e:
        raise DigestError(
            [Problem(IMAGES_DIR, None, f"cannot be written ({e.strerror or e}); nothing was written")]
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
