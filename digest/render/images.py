"""A local image as published: resized, every piece of metadata gone, the same bytes every time.

Rules (the name and size were decided by digest.core.images when the issue was validated):
- Only the pixels are published.  EXIF (GPS positions, camera serial numbers, dates), XMP,
  IPTC, comments, PNG text chunks and ICC profiles never reach the site: the picture is
  copied into a new image that has no metadata at all, then encoded without any.  The EXIF
  orientation is applied first, so the picture stands as the camera meant; an ICC profile
  is applied too (the pixels converted to sRGB, what a profile-less image means), so
  dropping it does not change the colours.
- At most digest.core.images.MAX_WIDTH pixels wide, the aspect ratio kept (Lanczos).
- Deterministic: the same image gives the same bytes in every build and process (fixed
  encoder settings, no time, no randomness).
- JPEG (quality 82, progressive, optimised Huffman tables) for photos, PNG (optimised)
  for the rest, with transparency kept; an animated GIF is published as its first frame.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from digest.core import images

if TYPE_CHECKING:
    from PIL import Image as PILImage

JPEG_QUALITY = 82


def publish(data: bytes, size: tuple[int, int], ext: str) -> bytes:
    """The published file of image ``data``: ``size`` (width, height) as validation decided, ``ext`` jpg or png."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data), formats=images.FORMATS) as im:
        im.seek(0)
        turned = images.orientation(im) in (5, 6, 7, 8)
        im.draft(im.mode, (size[1], size[0]) if turned else size)  # JPEG: decode at the scale needed
        im.load()
        icc = im.info.get("icc_profile")
        picture = ImageOps.exif_transpose(im)
    picture = _srgb(picture, icc)
    alpha = ext == "png" and (picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info)
    mode = "RGBA" if alpha else "RGB"
    if picture.mode != mode:
        picture = picture.convert(mode)
    if picture.size != size:
        picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    clean = Image.new(mode, size)  # a new image: no info, no EXIF, no profile, nothing but these pixels
    clean.paste(picture, (0, 0))
    out = io.BytesIO()
    if ext == "jpg":
        clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True, subsampling="4:2:0")
    else:
        clean.save(out, "PNG", optimize=True)
    return out.getvalue()


def _srgb(picture: PILImage.Image, icc: object) -> PILImage.Image:
    """``picture``'s pixels in sRGB, when it carries an ICC profile that says otherwise."""
    if not isinstance(icc, bytes) or not icc or picture.mode not in ("RGB", "RGBA", "CMYK"):
        return picture
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if picture.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(picture, profile, ImageCms.createProfile("sRGB"), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):  # a broken profile: the pixels as they are
        return picture
    return converted if converted is not None else picture
