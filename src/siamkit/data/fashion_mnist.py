"""Fashion-MNIST (Xiao et al., 2017): 70,000 28×28 grayscale clothing images in 10 classes.

Where the files are looked for, in order (each folder may hold the four standard ``.gz`` files,
or their decompressed versions, directly or in a ``fashion-mnist/`` sub-folder):

1. the ``root`` argument (``--data-dir`` on the command line);
2. the ``SIAMKIT_DATA`` environment variable;
3. ``~/.cache/siamkit/fashion-mnist`` (where ``download=True`` saves them);
4. ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package ``dataset-fashion-mnist``).

Files are verified by the MD5 of their *decompressed* IDX content, which identifies the official
release whatever the compression: Debian's packaging rewrites the gzip header (drops the stored
file name, resets the timestamp), so the MD5s that Zalando Research publishes for the ``.gz``
files (also kept here, and checked on download) do not match the Debian files byte for byte,
while the content MD5s (as printed by ``gunzip *; md5sum *`` on the official files) do.

Example:
    >>> images, labels = load_fashion_mnist("test")  # doctest: +SKIP
    >>> images.shape, images.dtype, labels.shape  # doctest: +SKIP
    (torch.Size([10000, 28, 28]), torch.uint8, torch.Size([10000]))
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from siamkit.data.download import ChecksumError, download_file
from siamkit.data.idx import parse_idx, read_idx_bytes

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_URLS",
    "FashionMnistFile",
    "fashion_mnist_dir",
    "load_fashion_mnist",
    "verify_fashion_mnist_file",
]

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Class names, indexed by label."""

FASHION_MNIST_URLS: tuple[str, ...] = (
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    # The official S3 website endpoint serves plain HTTP only; the MD5 check guards integrity.
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)


@dataclass(frozen=True)
class FashionMnistFile:
    """One of the four official files and its published checksums."""

    name: str  # file name without ".gz"
    gz_md5: str  # MD5 of the official .gz file (checked on download)
    md5: str  # MD5 of the decompressed IDX content (checked on every load)
    count: int  # number of items


FASHION_MNIST_FILES: dict[str, tuple[FashionMnistFile, FashionMnistFile]] = {
    "train": (
        FashionMnistFile(
            "train-images-idx3-ubyte",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            60000,
        ),
        FashionMnistFile(
            "train-labels-idx1-ubyte",
            "25c81989df183df01b3e8a0aad5dffbe",
            "9018921c3c673c538a1fc5bad174d6f9",
            60000,
        ),
    ),
    "test": (
        FashionMnistFile(
            "t10k-images-idx3-ubyte",
            "bef4ecab320f06d8554ea6380940ec79",
            "8181f5470baa50b63fa0f6fddb340f0a",
            10000,
        ),
        FashionMnistFile(
            "t10k-labels-idx1-ubyte",
            "bb300cfdad3c16e7a12a480ee83fd310",
            "15d484375f8d13e6eb1aabb0c3f46965",
            10000,
        ),
    ),
}
"""split -> (images file, labels file) with the official checksums."""

_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_CACHE: dict[tuple[str, str, bool], tuple[torch.Tensor, torch.Tensor]] = {}


def _cache_dir() -> Path:
    return Path.home() / ".cache" / "siamkit" / "fashion-mnist"


def _under(base: Path) -> list[Path]:
    """The folders of ``base`` that may hold the files: itself and two usual sub-folders."""
    return [base, base / "fashion-mnist", base / "FashionMNIST" / "raw"]


def _candidates(root: str | os.PathLike | None) -> list[Path]:
    bases = [Path(root)] if root is not None else []
    env = os.environ.get("SIAMKIT_DATA")
    if env:
        bases.append(Path(env))
    out = []
    for base in bases:
        out += _under(base)
    return [*out, _cache_dir(), _DEBIAN_DIR]


def holds_fashion_mnist_files(root: str | os.PathLike) -> bool:
    """Whether ``root`` itself (or its ``fashion-mnist/`` or ``FashionMNIST/raw/`` sub-folder)
    holds any of the four files, whatever the other places searched hold."""
    names = [info.name for pair in FASHION_MNIST_FILES.values() for info in pair]
    return any(_find_file(folder, n) is not None for folder in _under(Path(root)) for n in names)


def _find_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def fashion_mnist_dir(root: str | os.PathLike | None = None) -> Path | None:
    """The first folder (in the search order above) holding all four files, or ``None``.

    Example:
        >>> fashion_mnist_dir()  # doctest: +SKIP
        PosixPath('/usr/share/datasets/fashion-mnist')
    """
    names = [info.name for pair in FASHION_MNIST_FILES.values() for info in pair]
    for folder in _candidates(root):
        if all(_find_file(folder, n) is not None for n in names):
            return folder
    return None


def _file_info(path: Path) -> FashionMnistFile:
    infos = {info.name: info for pair in FASHION_MNIST_FILES.values() for info in pair}
    info = infos.get(path.name.removesuffix(".gz"))
    if info is None:
        raise ValueError(f"'{path.name}' is not a Fashion-MNIST file name ({', '.join(infos)}).")
    return info


def _read_verified(path: Path, verify: bool) -> bytes:
    raw = read_idx_bytes(path)
    if verify:
        info = _file_info(path)
        got = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        if got != info.md5:
            raise ChecksumError(
                f"'{path}' does not hold the official Fashion-MNIST {info.name} (content MD5 "
                f"{got}, expected {info.md5}); the file is corrupt or from another data set. "
                "Delete it and get it again."
            )
    return raw


def verify_fashion_mnist_file(path: str | os.PathLike) -> None:
    """Check a Fashion-MNIST file (``.gz`` or decompressed) against the official release.

    Raises:
        ChecksumError: the decompressed content differs from the official release.
        ValueError: the file name is not one of the four Fashion-MNIST files.

    Example:
        >>> verify_fashion_mnist_file("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
    """
    path = Path(path)
    _file_info(path)
    _read_verified(path, verify=True)


def _not_found(split: str, root: str | os.PathLike | None) -> FileNotFoundError:
    where = "\n  ".join(str(p) for p in _candidates(root))
    return FileNotFoundError(
        f"Fashion-MNIST ({split} split) was not found. Looked in:\n  {where}\n"
        "Get it in one of these ways:\n"
        "  * sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu; files land in "
        f"{_DEBIAN_DIR})\n"
        "  * put the four .gz files from https://github.com/zalandoresearch/fashion-mnist into a "
        "folder and pass it as root=... / --data-dir DIR (or set SIAMKIT_DATA=DIR)\n"
        "  * load_fashion_mnist(..., download=True) / --download to fetch them into "
        f"{_cache_dir()}"
    )


def _download(split: str, root: str | os.PathLike | None) -> Path:
    folder = Path(root) if root is not None else _cache_dir()
    for info in FASHION_MNIST_FILES[split]:
        if _find_file(folder, info.name) is None:
            urls = [base + info.name + ".gz" for base in FASHION_MNIST_URLS]
            download_file(urls, folder / f"{info.name}.gz", md5=info.gz_md5)
    return folder


def _locate(split: str, root: str | os.PathLike | None, download: bool) -> tuple[Path, Path]:
    img_info, lbl_info = FASHION_MNIST_FILES[split]
    for folder in _candidates(root):
        img, lbl = _find_file(folder, img_info.name), _find_file(folder, lbl_info.name)
        if img is not None and lbl is not None:
            return img, lbl
    if not download:
        raise _not_found(split, root)
    folder = _download(split, root)
    # a file that was there already, decompressed, is not downloaded again: found as it is
    img, lbl = _find_file(folder, img_info.name), _find_file(folder, lbl_info.name)
    if img is None or lbl is None:  # (download_file raises first when a download fails)
        raise _not_found(split, root)
    return img, lbl


def _read_split(
    split: str, img_path: Path, lbl_path: Path, verify: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    count = FASHION_MNIST_FILES[split][0].count
    images = parse_idx(_read_verified(img_path, verify), f"'{img_path}'", expected_ndim=3)
    labels = parse_idx(_read_verified(lbl_path, verify), f"'{lbl_path}'", expected_ndim=1)
    if images.dtype != np.uint8 or images.shape != (count, 28, 28):
        raise ValueError(
            f"'{img_path}' holds {images.dtype} images of shape {images.shape}; "
            f"Fashion-MNIST {split} has uint8 ({count}, 28, 28)."
        )
    if labels.shape != (count,) or labels.max(initial=0) > 9:
        raise ValueError(f"'{lbl_path}' does not hold {count} labels in 0..9.")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def load_fashion_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one split of Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: a folder to look in first (see the module docstring for the search order); with
            ``download=True`` the files are saved there (default ``~/.cache/siamkit/fashion-mnist``).
        download: fetch the files from the official mirrors if they are not found.
        verify: check the decompressed content against the official MD5 sums (about 0.1 s;
            done once per process, as the result is cached).

    Returns:
        ``(images, labels)``: uint8 ``(N, 28, 28)`` and int64 ``(N,)``. Each call returns fresh
        copies; the decoded arrays are cached in the process so repeated loads are fast.

    Raises:
        FileNotFoundError: the files are not found and ``download`` is False (the message says how
            to get them).
        ChecksumError: a file differs from the official release.

    Example:
        >>> x, y = load_fashion_mnist("train")  # doctest: +SKIP
        >>> FASHION_MNIST_CLASSES[int(y[0])]  # doctest: +SKIP
        'Ankle boot'
    """
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    img_path, lbl_path = _locate(split, root, download)
    key = (split, str(img_path.resolve()), verify)
    if key not in _CACHE:
        _CACHE[key] = _read_split(split, img_path, lbl_path, verify)
    images, labels = _CACHE[key]
    return images.clone(), labels.clone()
