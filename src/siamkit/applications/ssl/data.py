"""The images a self-supervised run learns from, with no labels, and an optional labeled monitor.

* A labeled dataset (Fashion-MNIST, digits) with ``data.labels: none``: the training images of
  ``train_classes`` without their labels; a seeded per-class share of them is held out as a small
  labeled validation set for the kNN monitor (never trained on).
* ``dataset: image-folder``: every image anywhere under ``root`` (sub-folder names ignored,
  hidden files and folders skipped); no labels, so no kNN monitor unless ``val_root`` names a
  folder of labelled images (one sub-folder per class) for it.

>>> d = load_ssl_data(SSLDataConfig(dataset="digits"))
>>> d.train_x.shape[1:], d.val_y is not None
(torch.Size([1, 8, 8]), True)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from siamkit.applications.ssl.config import SSLDataConfig
from siamkit.clauses import counted
from siamkit.data.folders import ImageFolderDataset, check_images_root, images_under
from siamkit.data.image_io import load_images
from siamkit.data.memory import STATS_IMAGES, channel_stats, check_images_fit
from siamkit.training.config import DataConfig
from siamkit.training.data import SPLIT_SEED, load_run_data, seeded_sample


class SSLData(NamedTuple):
    """Training images ``(N, C, H, W)`` (uint8 or float in [0, 1]); labeled validation images
    for the monitor (``None`` without labels; ``val_y`` alone ``None`` where they are of one
    class, which no kNN accuracy tells apart: the collapse check still measures them)."""

    train_x: Tensor
    val_x: Tensor | None
    val_y: Tensor | None
    source: str
    train_classes: tuple[int, ...] | None = None
    test_classes: tuple[int, ...] | None = None
    val_source: str | None = None  # the validation images, when not a share of the training data
    images_id: str | None = None  # an image folder's: :func:`folder_id` of its training files

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the training images."""
        c, h, w = self.train_x.shape[1:]
        return (int(c), int(h), int(w))

    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std of (up to 20,000) training images, rounded to 4 places.

        Summed in float64 chunks (:func:`siamkit.data.memory.channel_stats`), not over one
        float32 copy of them all. Past 20,000, a seeded draw from them all: the first 20,000 of
        a folder are those of its first sub-folders."""
        return channel_stats(self.train_x, most=STATS_IMAGES)


def folder_id(root: str | os.PathLike[str], paths: list[Path]) -> str:
    """A SHA-256 of the names (relative to ``root``) and sizes of an image folder's files: what a
    resumed run compares, so that it does not go on silently with other images."""
    digest = hashlib.sha256()
    for p in paths:
        name = os.fsencode(p.relative_to(root))
        digest.update(name + b"\0" + str(p.stat().st_size).encode() + b"\n")
    return digest.hexdigest()


def folder_images(root: str, image_size: int, grayscale: bool) -> Tensor:
    """Every image under ``root`` (:func:`~siamkit.data.folders.images_under`), resized to
    ``image_size`` squares: ``(N, C, S, S)`` uint8 (a quarter of float32's memory for a folder
    of thousands of photos; each batch, the monitors and the channel statistics scale them to
    ``[0, 1]``). The training images of :func:`load_ssl_data`'s ``image-folder``, read (and
    refused when they do not fit in memory) by that one path.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: it holds no images, or they do not fit in the memory free.
    """
    cfg = SSLDataConfig(
        dataset="image-folder", root=root, image_size=image_size, grayscale=grayscale
    )
    return load_ssl_data(cfg).train_x


def training_files(root: str, limit: int | None = None) -> tuple[list[Path], str]:
    """The image files of ``root`` a run reads (with ``limit``, ``data.limit``, a seeded
    ``limit`` of them: the images the whole folder's read would keep, in its order) and the whole
    folder's :func:`folder_id`."""
    paths = images_under(root, "data.root", "; a self-supervised run needs a folder of images")
    images_id = folder_id(root, paths)
    if limit is not None and limit < len(paths):  # not 50,000 photos read for 1,000 kept
        paths = [paths[i] for i in seeded_sample(len(paths), limit, SPLIT_SEED).tolist()]
    return paths, images_id


#: What ``data.val_root`` must be, in its refusals.
_VAL_LAYOUT = "a folder with one sub-folder of labelled images per class (e.g. labeled/cat/1.png)"


def _check_val_root(root: str) -> None:
    if not Path(root).is_dir():
        raise FileNotFoundError(f"data.val_root {root!r} is not a folder: give {_VAL_LAYOUT}")


def check_folders(cfg: SSLDataConfig) -> None:
    """:func:`load_ssl_data`'s checks of the folders ``cfg`` names that list no file: an
    image-folder run's ``data.root`` given and a folder, and ``data.val_root`` a folder.
    ``siamkit train --nproc-per-node`` makes them once before it starts the processes."""
    if cfg.dataset != "image-folder":
        return
    if cfg.root is None:
        raise ValueError("data.dataset = image-folder needs data.root: a folder of images")
    check_images_root(cfg.root, "data.root")
    if cfg.val_root is not None:
        _check_val_root(cfg.val_root)


def monitor_folder(root: str, shape: tuple[int, int, int]) -> ImageFolderDataset:
    """The files of the kNN monitor's ``data.val_root`` (one sub-folder per class), listed and
    checked; no image is read.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: it is not one sub-folder of images per class, of two classes or more.
    """
    from siamkit.data.folders import loose_images

    _check_val_root(root)
    if loose_images(root):
        raise ValueError(
            f"data.val_root {root!r} holds images and no class sub-folders: give {_VAL_LAYOUT}"
        )
    try:
        ds = ImageFolderDataset(root, shape)
    except ValueError as err:
        raise ValueError(f"data.val_root: {err}") from None
    if len(ds.classes) < 2:
        raise ValueError(
            f"data.val_root {root!r} holds one class ({ds.classes[0]}); the kNN monitor tells "
            f"classes apart, so give {_VAL_LAYOUT}, of two classes or more"
        )
    return ds


def _monitor_images(ds: ImageFolderDataset, root: str) -> tuple[Tensor, Tensor, str]:
    x, y = ds.load_all(folder="data.val_root", dtype=torch.uint8)
    n, k = len(y), len(ds.classes)
    return x, y, f"{counted(n, 'labelled image')} of {counted(k, 'class', 'classes')} under {root}"


def load_ssl_data(cfg: SSLDataConfig) -> SSLData:
    """Load the images of ``cfg`` (see the module docstring)."""
    check_folders(cfg)
    if cfg.dataset == "image-folder":
        assert cfg.root is not None  # (check_folders)
        size = 64 if cfg.image_size is None else cfg.image_size  # unset: image-folder's own
        shape = (1 if cfg.grayscale else 3, size, size)
        paths, images_id = training_files(cfg.root, cfg.limit)
        monitor = None if cfg.val_root is None else monitor_folder(cfg.val_root, shape)
        # the monitor's images are held beside the training images: both counted before reading
        check_images_fit(
            len(paths), shape, cfg.root, 0 if monitor is None else len(monitor), cfg.val_root
        )
        x = load_images(paths, shape, folder="data.root", dtype=torch.uint8)
        source = f"{counted(x.shape[0], 'image')} under {cfg.root}"
        if monitor is None or cfg.val_root is None:
            return SSLData(x, None, None, source, images_id=images_id)
        vx, vy, val_source = _monitor_images(monitor, cfg.val_root)
        return SSLData(x, vx, vy, source, val_source=val_source, images_id=images_id)
    run = load_run_data(
        DataConfig(
            dataset=cfg.dataset, root=cfg.root, train_classes=cfg.train_classes,
            val_fraction=cfg.val_fraction, limit=cfg.limit,
            image_size=cfg.image_size, grayscale=cfg.grayscale,  # refused as a supervised run's
        )
    )  # fmt: skip
    has_val = run.val_y.numel() > 1
    # a leave-one-out vote among one class is right whatever the embedding (kNN 1.0 every
    # epoch): its held-out images serve the collapse check alone, as an image folder's would
    one_class = has_val and run.val_y.unique().numel() < 2
    # named as the supervised run's first line names them
    from siamkit.evaluation.report_sections import class_list

    n, k = len(run.train_y), len(run.train_classes)
    source = (
        f"{counted(n, f'{cfg.dataset} image')} of {counted(k, 'class', 'classes')} "
        f"({class_list(run.class_names, run.train_classes)})"
    )
    return SSLData(
        run.train_x, run.val_x if has_val else None,
        run.val_y if has_val and not one_class else None, source,
        run.train_classes, run.test_classes,
    )  # fmt: skip
