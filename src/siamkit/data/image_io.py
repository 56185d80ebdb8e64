"""Reading images from files or bytes and validating user image tensors.

Every image that enters siamkit goes through this module, so every caller (datasets, the gallery,
the service, the CLI) gets the same conventions: a ``(C, H, W)`` / ``(N, C, H, W)`` float32 tensor
with values in ``[0, 1]``, and a clear :class:`ImageReadError` / :class:`ValueError` for bad input.

Example:
    >>> from siamkit.data.image_io import load_images
    >>> batch = load_images(["a.png", "b.png"], input_shape=(1, 28, 28))  # doctest: +SKIP
    >>> batch.shape  # doctest: +SKIP
    torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageReadError",
    "ImageSource",
    "load_images",
    "read_image",
    "resize_images",
    "to_image_batch",
]

ImageSource = str | os.PathLike | bytes | bytearray | memoryview
"""A path to an image file, or the raw bytes of an encoded image (PNG, JPEG, ...)."""

DEFAULT_MAX_PIXELS = 40_000_000
"""Largest image (width × height) that :func:`read_image` decodes; guards against decompression bombs."""

_MODES = {1: "L", 3: "RGB"}


class ImageReadError(ValueError):
    """An image could not be read: missing, empty, not an image, corrupt, or too large."""


def _describe(source: ImageSource) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return f"'{os.fspath(source)}'"


def _check_channels(channels: int) -> str:
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}.")
    return _MODES[channels]


def _open_bytes(source: ImageSource) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageReadError(f"Image file {_describe(source)} does not exist or is not a file.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageReadError(f"Cannot read image file {_describe(source)}: {exc}.") from exc
    else:
        raise TypeError(
            f"An image must be given as a file path or bytes, got {type(source).__name__}."
        )
    if not data:
        raise ImageReadError(f"Image {_describe(source)} is empty (0 bytes).")
    return data


def read_image(
    source: ImageSource, channels: int = 3, max_pixels: int = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """Decode one image file or byte string into a float tensor.

    Args:
        source: a path or the raw bytes of an encoded image (any format Pillow reads).
        channels: 1 converts to grayscale (``L``), 3 to ``RGB``. Transparency is dropped.
        max_pixels: refuse images with more than this many pixels (width × height).

    Returns:
        ``(C, H, W)`` float32 tensor with values in ``[0, 1]``.

    Raises:
        ImageReadError: the file is missing, empty, not an image, truncated or too large.

    Example:
        >>> img = read_image("cat.png", channels=3)  # doctest: +SKIP
        >>> img.shape, img.dtype  # doctest: +SKIP
        (torch.Size([3, 64, 48]), torch.float32)
    """
    mode = _check_channels(channels)
    data = _open_bytes(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise ImageReadError(
                        f"Image {_describe(source)} is {width}x{height} = {width * height} pixels, "
                        f"more than the limit of {max_pixels}; resize it first."
                    )
                img.load()
                array = np.asarray(img.convert(mode), dtype=np.uint8)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            f"Image {_describe(source)} has too many pixels (far more than the limit of "
            f"{max_pixels}); resize it first."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(
            f"{_describe(source)} is not a readable image (PNG, JPEG, BMP, ... expected)."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"Image {_describe(source)} is corrupt or truncated: {exc}.") from exc
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).to(torch.float32).div_(255.0)


def resize_images(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a float batch ``(N, C, H, W)`` to ``size = (H', W')`` (bilinear with antialiasing).

    Returns the input unchanged when it already has that size; the result is clamped to ``[0, 1]``.

    Example:
        >>> resize_images(torch.rand(2, 1, 56, 56), (28, 28)).shape
        torch.Size([2, 1, 28, 28])
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    antialias = x.shape[-2] > size[0] or x.shape[-1] > size[1]
    out = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return out.clamp_(0.0, 1.0)


def _check_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}.")
    _check_channels(shape[0])
    return shape  # type: ignore[return-value]


def load_images(
    items: Sequence[ImageSource],
    input_shape: Sequence[int],
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> torch.Tensor:
    """Read images and resize them to one batch.

    Args:
        items: paths or byte strings.
        input_shape: ``(C, H, W)`` of the model input; C is 1 or 3.
        max_pixels: per-image size guard, see :func:`read_image`.

    Returns:
        ``(N, C, H, W)`` float32 tensor in ``[0, 1]``.

    Raises:
        ImageReadError: naming the first file that could not be read.

    Example:
        >>> load_images(["a.png", "b.jpg"], (3, 64, 64)).shape  # doctest: +SKIP
        torch.Size([2, 3, 64, 64])
    """
    c, h, w = _check_shape(input_shape)
    if isinstance(items, (str, bytes, os.PathLike)):
        items = [items]
    out = torch.empty(len(items), c, h, w)
    for i, item in enumerate(items):
        try:
            img = read_image(item, channels=c, max_pixels=max_pixels)
        except ImageReadError as exc:
            raise ImageReadError(f"Item {i} of {len(items)}: {exc}") from exc
        out[i] = resize_images(img.unsqueeze(0), (h, w))[0]
    return out


def _as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype == object or not (
            np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)
        ):
            raise TypeError(f"Images must be a numeric array, got dtype {x.dtype}.")
        return torch.from_numpy(np.ascontiguousarray(x))
    raise TypeError(f"Images must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}.")


def _to_float01(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    if not x.is_floating_point():
        raise TypeError(
            f"Images must be uint8 (0-255) or float in [0, 1], got dtype {x.dtype}; "
            "convert with .astype(np.uint8) / .to(torch.uint8) or to float."
        )
    x = x.to(torch.float32)
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"Images contain {bad} NaN or infinite value(s); clean the input first.")
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(
            f"Float images must have values in [0, 1], got range [{float(x.min()):.4g}, "
            f"{float(x.max()):.4g}]; pass uint8 0-255 data or divide by 255."
        )
    return x


def _to_nchw(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        if x.shape[0] == channels:
            return x.unsqueeze(0)  # one (C, H, W) image
        if channels == 1:
            return x.unsqueeze(1)  # (N, H, W) grayscale batch
        raise ValueError(
            f"Expected {channels} channels (a (C, H, W) image or (N, C, H, W) batch), "
            f"got a 3-D tensor of shape {tuple(x.shape)}."
        )
    if x.ndim == 2 and channels == 1:
        return x[None, None]
    raise ValueError(
        f"Images must be (N, C, H, W) or (C, H, W)"
        f"{' or (N, H, W)' if channels == 1 else ''}, got shape {tuple(x.shape)}."
    )


def to_image_batch(x: Any, input_shape: Sequence[int], resize: bool = False) -> torch.Tensor:
    """Validate user images and return an ``(N, C, H, W)`` float32 batch in ``[0, 1]``.

    Accepts a tensor or ndarray of shape ``(N, C, H, W)``, ``(C, H, W)``, or for one channel also
    ``(N, H, W)`` / ``(H, W)``; dtype ``uint8`` (divided by 255) or float already in ``[0, 1]``.
    The device is preserved.

    Args:
        x: the images.
        input_shape: expected ``(C, H, W)``.
        resize: resize other spatial sizes to ``(H, W)`` instead of raising.

    Raises:
        ValueError: wrong channel count, wrong size, NaN/inf, or values outside ``[0, 1]``.
        TypeError: not a tensor/ndarray, or an unsupported dtype.

    Example:
        >>> to_image_batch(np.zeros((5, 28, 28), dtype=np.uint8), (1, 28, 28)).shape
        torch.Size([5, 1, 28, 28])
    """
    c, h, w = _check_shape(input_shape)
    x = _to_nchw(_as_tensor(x), c)
    if x.shape[1] != c:
        raise ValueError(
            f"Expected images with {c} channel(s), got {x.shape[1]} (shape {tuple(x.shape)}); "
            f"convert to {'grayscale' if c == 1 else 'RGB'} first."
        )
    if x.shape[0] == 0:
        raise ValueError("Got an empty batch of images (N = 0).")
    x = _to_float01(x)
    if tuple(x.shape[2:]) != (h, w):
        if not resize:
            raise ValueError(
                f"Expected images of size {h}x{w} (H x W), got {x.shape[2]}x{x.shape[3]}; "
                "resize them or pass resize=True."
            )
        x = resize_images(x, (h, w))
    return x.contiguous()
