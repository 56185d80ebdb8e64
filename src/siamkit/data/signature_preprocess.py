"""SigNet preprocessing of a scanned signature (Dey et al. 2017; Hafemann et al. 2017).

Steps: Otsu's threshold separates ink from paper; the image is cropped to the ink's bounding box;
the crop is centred on a canvas of the output's aspect ratio (keeping its own aspect); the image
is inverted so that paper is 0 and ink is bright (paper above the threshold is set to exactly 0);
and it is resized to ``155 × 220`` (any ``size``). The result is ``float32`` in ``[0, 1]``.

Example:
    >>> scan = np.full((60, 90), 240, np.uint8); scan[20:40, 10:80] = 30
    >>> out = signet_preprocess(scan, size=(31, 44))
    >>> out.shape, float(out.max()) > 0.8, float(out[0, 0])
    ((31, 44), True, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

try:
    import cv2
except ImportError as err:  # pragma: no cover - the extra is missing
    raise ImportError(
        "signature images need OpenCV: pip install 'siamkit[signatures]' (opencv-python-headless)"
    ) from err
import torch

__all__ = ["BlankSignatureError", "otsu_threshold", "preprocess_batch", "signet_preprocess"]

SIGNET_SIZE = (155, 220)

#: A scan whose ink covers less than this fraction of the image, or whose contrast is below
#: ``MIN_CONTRAST`` grey levels, is treated as blank.
MIN_INK_FRACTION = 1e-4
MIN_CONTRAST = 20


class BlankSignatureError(ValueError):
    """The image holds no ink to verify."""


def otsu_threshold(gray: np.ndarray) -> int:
    """Otsu's threshold of a ``uint8`` image: maximises the between-class variance.

    Pixels ``<= t`` are one class (ink), ``> t`` the other (paper).

    Example:
        >>> otsu_threshold(np.array([[10, 10, 200, 200]], np.uint8)) in range(10, 200)
        True
    """
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    omega = np.cumsum(p)  # weight of class "<= t"
    mu = np.cumsum(p * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1.0 - omega))
    between[~np.isfinite(between)] = -1.0
    return int(np.argmax(between))


def _as_gray_uint8(image: np.ndarray | torch.Tensor) -> np.ndarray:
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3):  # (C, H, W)
        arr = arr.mean(axis=0)
    elif arr.ndim == 3 and arr.shape[2] in (1, 3):  # (H, W, C)
        arr = arr.mean(axis=2)
    if arr.ndim != 2:
        raise ValueError(f"a signature image must be (H, W) or (C, H, W), got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("the signature image contains NaN or infinite values.")
        arr = arr * 255.0 if arr.max(initial=0.0) <= 1.0 else arr
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def signet_preprocess(
    image: np.ndarray | torch.Tensor,
    size: Sequence[int] = SIGNET_SIZE,
    binary: bool = False,
) -> np.ndarray:
    """Binarise, crop to the ink, centre keeping aspect, invert and resize one scan.

    Args:
        image: ``(H, W)`` or ``(C, H, W)`` / ``(H, W, C)``; ``uint8`` or floats in ``[0, 1]``;
            dark ink on light paper.
        size: output ``(height, width)``.
        binary: output pure ink/paper (1/0) instead of the ink's inverted grey levels.

    Returns:
        ``(height, width)`` float32 in ``[0, 1]``, paper 0, ink bright.

    Raises:
        BlankSignatureError: no ink (an empty or uniform page).
    """
    h_out, w_out = int(size[0]), int(size[1])
    if h_out < 1 or w_out < 1:
        raise ValueError(f"size must be two positive integers, got {tuple(size)}.")
    gray = _as_gray_uint8(image)
    if int(gray.max()) - int(gray.min()) < MIN_CONTRAST:
        raise BlankSignatureError("the signature image is blank (no ink on the page).")
    t = otsu_threshold(gray)
    ink = gray <= t
    if ink.mean() < MIN_INK_FRACTION:
        raise BlankSignatureError("the signature image is blank (no ink on the page).")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.where(ink, 255 - gray.astype(np.int32), 0)[r0:r1, c0:c1]
    if binary:
        crop = (crop > 0).astype(np.int32) * 255
    # centre on a canvas with the output's aspect ratio, keeping the crop's aspect
    ch, cw = crop.shape
    scale = max(ch / h_out, cw / w_out)
    canvas = np.zeros((max(ch, round(h_out * scale)), max(cw, round(w_out * scale))), np.float32)
    top, left = (canvas.shape[0] - ch) // 2, (canvas.shape[1] - cw) // 2
    canvas[top : top + ch, left : left + cw] = crop
    out = cv2.resize(canvas, (w_out, h_out), interpolation=cv2.INTER_AREA)
    return np.clip(out / 255.0, 0.0, 1.0).astype(np.float32)


def preprocess_batch(
    images: Sequence[np.ndarray | torch.Tensor] | np.ndarray,
    size: Sequence[int] = SIGNET_SIZE,
    binary: bool = False,
) -> torch.Tensor:
    """:func:`signet_preprocess` each image; ``(N, 1, height, width)`` float32 tensor.

    Example:
        >>> scans = np.full((2, 40, 60), 250, np.uint8); scans[:, 10:20, 5:50] = 0
        >>> preprocess_batch(scans, size=(20, 30)).shape
        torch.Size([2, 1, 20, 30])
    """
    out = [signet_preprocess(img, size, binary) for img in images]
    if not out:
        return torch.zeros((0, 1, int(size[0]), int(size[1])))
    return torch.from_numpy(np.stack(out))[:, None]
