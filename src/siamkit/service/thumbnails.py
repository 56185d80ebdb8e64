"""Small PNG thumbnails of enrolled images, so the web page can show what a match looks like.

At enrollment the service, ``siamkit enroll`` and ``siamkit face enroll`` (the whole photo) keep
a 64-pixel PNG of each image in the gallery's side file (:mod:`siamkit.index.thumbnail_store`).
A missing thumbnail (an item enrolled through the Python API, or by an older siamkit whose enroll
commands did not keep them) is simply not shown.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from siamkit.image_decode import convert_image
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

__all__ = [
    "THUMBNAIL_SIZE",
    "ThumbnailStore",
    "data_url",
    "make_thumbnail",
    "read_for_thumbnail",
    "thumbnail_png",
    "thumbnails_path_for",
]
THUMBNAIL_SIZE = 64


def make_thumbnail(data: bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of an encoded image shrunk to fit ``size × size`` (never enlarged):
    :func:`thumbnail_png` of :func:`read_for_thumbnail`.

    Example:
        >>> buf = io.BytesIO(); Image.new("L", (200, 100)).save(buf, "PNG")
        >>> Image.open(io.BytesIO(make_thumbnail(buf.getvalue()))).size
        (64, 32)
    """
    return thumbnail_png(read_for_thumbnail(data, size), size)


def read_for_thumbnail(data: bytes, size: int = THUMBNAIL_SIZE) -> Image.Image:
    """The pixels of an encoded image as Pillow reads them for a thumbnail (a JPEG at a reduced
    scale): Pillow's open, draft and load, the only step that reads the file's bytes, so that a
    caller can tell a file that cannot be read from a failure of :func:`thumbnail_png`."""
    img = Image.open(io.BytesIO(data))
    img.draft(img.mode, (size, size))  # JPEG: decode at reduced scale
    img.load()
    return img


def thumbnail_png(img: Image.Image, size: int = THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of a read image shrunk to fit ``size × size``, upright and 8-bit grey or RGB
    (:func:`~siamkit.image_decode.convert_image`)."""
    mode = "L" if img.mode in ("1", "L", "I", "I;16", "F", "LA") else "RGB"
    small = convert_image(img, mode)
    small.thumbnail((size, size))
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()


def data_url(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
