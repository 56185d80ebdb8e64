"""Decoding an image file (or its bytes) into a uint8 numpy array, with no torch import.

:mod:`siamkit.data.image_io` builds its float tensors on this; commands that never touch torch
(``siamkit face verify``: dlib does all the work) read photos with it directly, so a new process
does not pay the second or so that importing torch costs.

Example:
    >>> decode_image("cat.png", channels=3).shape  # doctest: +SKIP
    (64, 48, 3)
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

ImageSource = str | os.PathLike | bytes | bytearray | memoryview
"""A path to an image file, or the raw bytes of an encoded image (PNG, JPEG, ...)."""

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest image (width × height) that :func:`decode_image` decodes; guards against decompression bombs."""

_MODES = {1: "L", 3: "RGB"}


class ImageReadError(ValueError):
    """An image could not be read: missing, empty, not an image, corrupt, or too large."""


def describe_source(source: ImageSource) -> str:
    """How a message names an image: ``'a.png'`` or ``<1234 bytes>``."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return f"'{os.fspath(source)}'"


def image_mode(channels: int) -> str:
    """Pillow's mode for 1 (``L``) or 3 (``RGB``) channels; ``ValueError`` for anything else."""
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}.")
    return _MODES[channels]


def read_source_bytes(source: ImageSource) -> bytes:
    """The encoded bytes of a path or byte string; :class:`ImageReadError` if missing or empty."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageReadError(
                f"Image file {describe_source(source)} does not exist or is not a file."
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageReadError(
                f"Cannot read image file {describe_source(source)}: {exc}."
            ) from exc
    else:
        raise TypeError(
            f"An image must be given as a file path or bytes, got {type(source).__name__}."
        )
    if not data:
        raise ImageReadError(f"Image {describe_source(source)} is empty (0 bytes).")
    return data


def decode_image(
    source: ImageSource, channels: int = 3, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode one image file or byte string into an ``(H, W, C)`` uint8 array.

    Args:
        source: a path or the raw bytes of an encoded image (any format Pillow reads).
        channels: 1 converts to grayscale (``L``), 3 to ``RGB``. Transparency is dropped.
        max_pixels: refuse images with more than this many pixels (width × height).

    Raises:
        ImageReadError: the file is missing, empty, not an image, truncated or too large.
    """
    mode = image_mode(channels)
    data = read_source_bytes(source)
    name = describe_source(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise ImageReadError(
                        f"Image {name} is {width}x{height} = {width * height} pixels, "
                        f"more than the limit of {max_pixels}; resize it first."
                    )
                img.load()
                array = np.array(img.convert(mode), dtype=np.uint8)  # a writable copy
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            f"Image {name} has too many pixels (far more than the limit of "
            f"{max_pixels}); resize it first."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(
            f"{name} is not a readable image (PNG, JPEG, BMP, ... expected)."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"Image {name} is corrupt or truncated: {exc}.") from exc
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array)
