"""Calibration images for static int8 quantisation: a seeded sample of training images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from siamkit.data.folders import find_images
from siamkit.data.image_io import load_images, resize_images

__all__ = ["BUILTIN_SOURCES", "IMAGE_SUFFIXES", "calibration_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


BUILTIN_SOURCES = ("fashion-mnist", "digits")


def _builtin(
    name: str,
    input_shape: tuple[int, int, int],
    count: int,
    seed: int,
    classes: Sequence[int] | None,
) -> torch.Tensor:
    if name == "digits":
        from siamkit.data.builtin import load_digits_dataset

        x, y = load_digits_dataset()  # (N, 1, 8, 8) in [0, 1]
    else:
        from siamkit.data.fashion_mnist import load_fashion_mnist

        images, y = load_fashion_mnist("train")
        x = images.unsqueeze(1)  # uint8 (N, 1, 28, 28), scaled after sampling
    if classes is not None:
        keep = torch.isin(y, torch.as_tensor(list(classes), dtype=y.dtype))
        if not bool(keep.any()):
            raise ValueError(f"{name} has no images of classes {list(classes)}")
        x = x[keep]
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:count]
    x = x[pick].float()
    x = x / 255.0 if name == "fashion-mnist" else x
    c, h, w = input_shape
    if tuple(x.shape[2:]) != (h, w):
        x = resize_images(x, (h, w))
    return x.expand(-1, c, -1, -1) if c != 1 else x


def _folder(
    folder: Path,
    input_shape: tuple[int, int, int],
    count: int,
    seed: int,
    classes: Sequence[str] | None,
) -> torch.Tensor:
    missing = [c for c in classes or () if not (folder / c).is_dir()]
    if missing:
        raise ValueError(f"{folder} has no class sub-folder {missing[0]!r} to calibrate with")
    tops = [folder / c for c in classes] if classes is not None else [folder]
    # the images training reads: hidden files and folders skipped (a Mac's ._photo.jpg is no
    # image, and calibration died on it; .ipynb_checkpoints/ holds copies)
    files = sorted(p for top in tops for p in find_images(top, IMAGE_SUFFIXES))
    if not files:
        raise ValueError(
            f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}) to calibrate int8 quantisation with"
        )
    order = np.random.default_rng(seed).permutation(len(files))[:count]
    return load_images([files[i] for i in order], input_shape)


def calibration_images(
    source: str | os.PathLike[str],
    input_shape: Sequence[int],
    count: int = 300,
    seed: int = 0,
    classes: Sequence[int] | Sequence[str] | None = None,
) -> np.ndarray:
    """A seeded sample of ``count`` training images, shaped for the model: ``(N, C, H, W)`` in ``[0, 1]``.

    Args:
        source: ``"fashion-mnist"`` (train split) or ``"digits"`` (scikit-learn's 8×8 digits),
            resized / channel-repeated to fit, or a folder of images (searched recursively,
            resized to fit).
        input_shape: the model's ``(C, H, W)``.
        count: how many images (a few hundred is plenty for min/max calibration).
        seed: which images.
        classes: for a built-in source, only these labels (e.g. the training classes 0-5 of
            the class-disjoint protocol, so no test class leaks into calibration); for a
            folder, only these of its class sub-folders (names).

    >>> calibration_images("fashion-mnist", (1, 28, 28), count=8).shape  # doctest: +SKIP
    (8, 1, 28, 28)
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"calibration images are for image models with input shape (C, H, W), got {shape}; "
            "pass your own calibration array for vector models"
        )
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    name = str(source).lower().replace("_", "-")
    name = "fashion-mnist" if name == "fmnist" else name
    if name in BUILTIN_SOURCES:
        x = _builtin(name, shape, count, seed, classes)  # type: ignore[arg-type]
    elif Path(source).is_dir():
        names = None if classes is None else [str(c) for c in classes]
        x = _folder(Path(source), shape, count, seed, names)  # type: ignore[arg-type]
    else:
        raise ValueError(
            f"calibration data is 'fashion-mnist', 'digits' or a folder of images; {str(source)!r} is none of these"
        )
    return np.ascontiguousarray(x.numpy(), dtype=np.float32)
