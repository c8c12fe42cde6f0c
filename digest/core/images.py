"""Local images: an item's ``image.src`` that is a file in the newsletter's images/ folder.

Rules:
- ``src`` is an http(s) URL, or a path relative to the newsletter folder inside images/
  (``images/tirana.jpg``, ``images/2024/march.png``): written with ``/``, never absolute, with
  no ``..``, ``.`` or empty part and no backslash.  Anything else is an error at its line.
- The file, and every folder on its way, may be a symlink only to a place inside the
  newsletter folder (digest.core.paths): nothing outside it is ever opened, not even to
  say what it is.  It must be a regular file of at most MAX_BYTES.
- It is an image by its bytes, not its name: Pillow must read it as JPEG, PNG, GIF or WebP
  (no other decoder runs on it), at most MAX_PIXELS, and decode it whole (a cut-off file
  is an error here, not a broken build later).
- It is published as ``images/<hash>.<ext>`` (:func:`published_name`): the hash is of its
  bytes, so a changed image gets a new name and nobody's cache shows the old one.  JPEG
  for photos (a JPEG or WebP without transparency), PNG for the rest; at most MAX_WIDTH
  pixels wide, its aspect ratio kept, its EXIF orientation applied (digest.render.images
  makes the file; the size is decided here, so the HTML can name it before the file exists).
- The path is written plainly (HIDDEN): the cache key finds it in the issue's bytes without
  parsing them (:func:`referenced`), so a replaced image rebuilds every issue that names it.
- A file in images/ that no issue names is never read.
- Markdown images (``![alt](…)``) stay http(s) only: a local picture goes in ``image:``.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.core import paths
from digest.core.loading import cut

if TYPE_CHECKING:
    from PIL import Image as PILImage

IMAGES_DIR = "images"
MAX_BYTES = 10 * 1000 * 1000  # "10 MB", as a file manager shows it
MAX_WIDTH = 1200  # twice the email's 600 px column: sharp on a high-density screen
MAX_PIXELS = 50_000_000  # what digest decodes (a 50-megapixel camera; 200 MB as RGBA)
# The only decoders Pillow may run on a newsletter's file (or an upload), and each one's file extension.
SUFFIXES = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
FORMATS = tuple(SUFFIXES)
VERSION = b"digest image 1\0"  # of the published file's making: a new one is a new name for every image
HASH_CHARS = 16
# Local image paths in an issue's bytes, found without parsing it (for its cache key); a src that is
# not found this way in its own lines (YAML escapes, a comma or a quote in the name) is an error (HIDDEN).
_CANDIDATE = re.compile(r"(?<![\w./-])images/\w(?:[\w./@+~%() -]*\w)?")
HIDDEN = (
    "write a local image's path plainly: letters, digits, spaces and . _ - ( ) @ + ~ % only, no YAML escapes"
    " (digest finds it in the file's text to know when the image changes)"
)


class Unusable(Exception):
    """A local image that cannot be published; the message says why, in the editor's words."""


@dataclass(frozen=True)
class Local:
    """A local image as validation saw it: everything the HTML needs, before the file is made."""

    path: str  # as written: images/tirana.jpg
    file: str  # in the site: images/<hash>.<ext>
    width: int  # as published
    height: int
    kind: str  # what its bytes are: a key of SUFFIXES


def is_local(src: str) -> bool:
    """Whether ``src`` is meant as a file (no scheme), not a URL."""
    from digest.core import urls

    return urls.scheme(src) is None


def path_problem(value: str) -> str | None:
    """Why ``value`` is not a path in images/, or None."""
    example = f"like {IMAGES_DIR}/photo.jpg"
    if value.startswith(("/", "\\")) or value.startswith("~"):
        return (
            f"{cut(value, 60)!r} is an absolute path: a local image is a file in the newsletter's {IMAGES_DIR}/"
            f" folder, written {example} (or an http(s) URL)"
        )
    if "\\" in value:
        return f"{cut(value, 60)!r} has a backslash: separate folders with '/', {example}"
    parts = value.split("/")
    if any(part in ("..", ".", "") for part in parts):
        return (
            f"{cut(value, 60)!r} may not use '..', '.' or '//': a local image is a file in the newsletter's"
            f" {IMAGES_DIR}/ folder, written {example}"
        )
    if parts[0] != IMAGES_DIR or len(parts) < 2:
        return (
            f"must be an http(s) URL or a file in the newsletter's {IMAGES_DIR}/ folder ({example}), got"
            f" {cut(value, 60)!r}"
        )
    return None


def written_plainly(rel: str) -> bool:
    """Whether ``rel`` uses only the characters HIDDEN allows (a letter or digit at each end)."""
    return _CANDIDATE.fullmatch(rel) is not None


def examine(rel: str, data: bytes) -> Local:
    """:func:`inspect` after the size check :func:`read` makes: ``data`` as if it were file ``rel``."""
    if len(data) > MAX_BYTES:
        raise Unusable(too_large(rel, len(data)))
    return inspect(rel, data)


def read(root: Path, rel: str) -> bytes:
    """The bytes of the local image ``rel`` (a path path_problem accepts), or Unusable."""
    return _read(rel, _checked(root, rel)[0])


def _checked(root: Path, rel: str) -> tuple[Path, os.stat_result]:
    """The real path and stat of local image ``rel``, or Unusable.

    Every part of the path is checked before anything is opened: a symlink out of the
    newsletter, a loop or a dangling link stops here, and so does anything but a regular file."""
    real_root = root.resolve()
    parts = rel.split("/")
    for n in range(1, len(parts) + 1):
        here = "/".join(parts[:n])
        last = n == len(parts)
        try:
            st = paths.input_stat(root / here, real_root, kind="file" if last else "folder")
        except paths.Refused as e:
            if e.missing:
                raise Unusable(
                    f"{cut(rel, 80)} not found: put the file in the newsletter's {IMAGES_DIR}/ folder, or correct"
                    " the path"
                ) from None
            raise Unusable(f"{cut(here, 80)} {e}") from None
        if not last and not stat.S_ISDIR(st.st_mode):
            raise Unusable(f"{cut(rel, 80)} not found: {cut(here, 80)} is not a folder")
    if stat.S_ISDIR(st.st_mode):
        raise Unusable(f"{cut(rel, 80)} is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise Unusable(f"{cut(rel, 80)} is not a regular file")  # a pipe or a device is never opened
    if st.st_size > MAX_BYTES:
        raise Unusable(too_large(rel, st.st_size))
    real = (root / rel).resolve(strict=True)
    if not real.is_relative_to(real_root):  # what input_stat ensured, part by part; here for the whole
        raise Unusable(f"{cut(rel, 80)} is outside the newsletter folder; refusing to read it")
    return real, st


def _read(rel: str, real: Path) -> bytes:
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise Unusable(f"{cut(rel, 80)} cannot be read: {paths.reason(e)}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since it was looked at
            raise Unusable(f"{cut(rel, 80)} is not a regular file")
        try:
            data = f.read(MAX_BYTES + 1)
        except OSError as e:
            raise Unusable(f"{cut(rel, 80)} cannot be read: {paths.reason(e)}") from None
    if len(data) > MAX_BYTES:
        raise Unusable(too_large(rel, len(data)))
    return data


def too_large(rel: str, size: int) -> str:
    """Why a file of ``size`` bytes is refused (``size`` is over MAX_BYTES)."""
    return (
        f"{cut(rel, 80)} is {size:,} bytes; an image may be at most {MAX_BYTES // 1_000_000} MB ({MAX_BYTES:,}"
        f" bytes): make it smaller (it is published at most {MAX_WIDTH:,} pixels wide anyway)"
    )


# inspect()'s results in this process by (path, hash of the bytes): an image that many issues show is
# decoded once, not once per issue.  Results only (a name and a size, or a message), never the bytes.
_INSPECTED: dict[tuple[str, str], Local | str] = {}
_INSPECTED_MAX = 4096


def inspect(rel: str, data: bytes) -> Local:
    """What publishing ``data`` gives (its name and size), after checking it decodes; or Unusable."""
    key = (rel, hashlib.sha256(data).hexdigest())
    if (seen := _INSPECTED.get(key)) is None:
        try:
            seen = _inspect(rel, data)
        except Unusable as e:
            seen = str(e)
        if len(_INSPECTED) >= _INSPECTED_MAX:
            _INSPECTED.clear()
        _INSPECTED[key] = seen
    if isinstance(seen, str):
        raise Unusable(seen)
    return seen


def _inspect(rel: str, data: bytes) -> Local:
    from PIL import Image, UnidentifiedImageError

    not_image = f"{cut(rel, 80)} is not an image digest can publish (JPEG, PNG, GIF or WebP), judged by its bytes"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise Unusable(not_image) from None
    except Image.DecompressionBombError:
        raise Unusable(_too_many(rel, None)) from None
    except (OSError, ValueError, SyntaxError):
        raise Unusable(not_image) from None
    with im:
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise Unusable(_too_many(rel, (width, height)))
        turned = orientation(im) in (5, 6, 7, 8)
        ext, kind = extension(im), str(im.format)
        size = published_size(*((height, width) if turned else (width, height)))
        try:
            im.draft(im.mode, (size[1], size[0]) if turned else size)  # JPEG: decode at the scale needed
            im.load()
        except (OSError, ValueError, SyntaxError, EOFError) as e:
            raise Unusable(f"{cut(rel, 80)} is a damaged {im.format} file ({cut(str(e), 80)}): save it again") from None
    return Local(rel, published_name(data, ext), *size, kind)


def _too_many(rel: str, size: tuple[int, int] | None) -> str:
    dims = f" is {size[0]:,} × {size[1]:,} pixels," if size else " has"
    return f"{cut(rel, 80)}{dims} more than digest reads ({MAX_PIXELS // 1_000_000} megapixels): make it smaller"


def orientation(im: PILImage.Image) -> int:
    """The EXIF orientation (1-8) of an open Pillow image; 1 when it has none."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no orientation, never a failed build
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def extension(im: PILImage.Image) -> str:
    """ "jpg" for a photo (a JPEG, or a WebP without transparency), "png" for the rest (kept lossless)."""
    mode, info, fmt = im.mode, im.info, im.format
    transparent = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in info
    return "jpg" if fmt == "JPEG" or (fmt == "WEBP" and not transparent) else "png"


def published_size(width: int, height: int) -> tuple[int, int]:
    """The published size of an image of ``width`` × ``height`` (as shown, orientation applied)."""
    if width <= MAX_WIDTH:
        return width, height
    return MAX_WIDTH, max(1, round(height * MAX_WIDTH / width))


def published_name(data: bytes, ext: str) -> str:
    """The published file's path in the site: it changes whenever the image's bytes do."""
    return f"{IMAGES_DIR}/{hashlib.sha256(VERSION + data).hexdigest()[:HASH_CHARS]}.{ext}"


def referenced(data: bytes) -> list[str]:
    """The local image paths an issue's bytes may name (a superset of the usual spellings), sorted."""
    if b"images/" not in data:
        return []
    return sorted(set(_CANDIDATE.findall(data.decode("utf-8", "replace"))))


def state(root: Path, data: bytes, known: dict[str, list[Any]]) -> bytes:
    """What an issue's cache key holds of the local images its bytes ``data`` name (b"" for none)."""
    return "".join(f"\0{rel}\0{fingerprint(root, rel, known)}" for rel in referenced(data)).encode()


def fingerprint(root: Path, rel: str, known: dict[str, list[Any]] | None = None) -> str:
    """What a cache key holds of local image ``rel``: its bytes' hash, or why it cannot be read.

    ``known`` (path → [size, mtime_ns, inode, ctime_ns, hash]) spares reading a file whose
    stat is as recorded, as git's index does; ctime cannot be set back by any tool."""
    if path_problem(rel) is not None:
        return "not a local image path"
    try:
        real, st = _checked(root, rel)
        stamp: list[Any] = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        if known is not None and (seen := known.get(rel)) is not None and seen[:4] == stamp:
            return str(seen[4])
        digest = hashlib.sha256(_read(rel, real)).hexdigest()
        if known is not None:
            known[rel] = [*stamp, digest]
        return digest
    except Unusable as e:
        return f"unusable: {e}"
    except OSError as e:  # raced with a change: a key that matches nothing cached
        return f"error: {errno.errorcode.get(e.errno or 0, '?')}"
