"""Labelled data sets a run can train on (``data.dataset``), as a :class:`~siamkit.registry.Registry`.

A source factory takes ``root``, ``image_size`` and ``grayscale`` (each uses what applies to it,
and refuses what it cannot honour; its defaults are what the config's unset keys give)
and returns a :class:`Source`: training items and labels, test items and labels when the data
set has its own test split (else ``None``: the run splits by class), and the class names.
Adding a data set is one function here (or in its own module) and one registration.

>>> DATA_SOURCES.build("digits").x.shape
torch.Size([1797, 1, 8, 8])
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from siamkit.registry import Registry


class Source(NamedTuple):
    """A loaded data set: ``x (N, ...)``, ``y (N,)``, an optional test split, the class names."""

    x: Tensor
    y: Tensor
    test_x: Tensor | None
    test_y: Tensor | None
    class_names: tuple[str, ...]


DATA_SOURCES: Registry[Source] = Registry("data source")

#: The data sets whose images have one size (not resized): they refuse another
#: ``data.image_size``, which therefore cannot make their images fit an encoder.
FIXED_SIZES: dict[str, int] = {"fashion-mnist": 28, "digits": 8}


def fashion_mnist(root: str | None = None, image_size: int = 28, grayscale: bool = True) -> Source:
    """Fashion-MNIST's train and test splits, ``(N, 1, 28, 28)`` uint8 (found on this system or
    ``root``); other ``image_size`` / ``grayscale`` refused."""
    from siamkit.data.fashion_mnist import (
        FASHION_MNIST_CLASSES,
        holds_fashion_mnist_files,
        load_fashion_mnist,
    )

    _refuse_size("fashion-mnist", image_size, FIXED_SIZES["fashion-mnist"])
    _refuse_colour("fashion-mnist", grayscale, "one-channel 28×28 images")
    if root is not None and not holds_fashion_mnist_files(root) and _holds_an_image(root):
        # the files would be taken from another place searched, and the images never read
        raise ValueError(
            f"data.root {root!r} is a folder of images, not of the Fashion-MNIST files that "
            "data.dataset = fashion-mnist reads: to train on these images set data.dataset: "
            "image-folder (--set data.dataset=image-folder)"
        )
    xtr, ytr = load_fashion_mnist("train", root=root)
    xte, yte = load_fashion_mnist("test", root=root)
    return Source(xtr.unsqueeze(1), ytr, xte.unsqueeze(1), yte, FASHION_MNIST_CLASSES)


def _holds_an_image(root: str) -> bool:
    """Whether an image file is anywhere under ``root``, as
    :func:`~siamkit.data.folders.find_images` finds them (hidden ones skipped); stops at the
    first."""
    from siamkit.data.folders import iter_images

    return Path(root).is_dir() and next(iter_images(root), None) is not None


def _refuse_root(name: str, root: str | None, what: str) -> None:
    """A ``data.root`` given to a data set that reads no files was ignored without a word (the
    run trained on the built-in images, not on the folder meant)."""
    if root is not None:
        raise ValueError(
            f"data.root {root!r} is not read by data.dataset = {name} ({what}): leave data.root "
            f"out, or set data.dataset: image-folder to train on the images in {root!r}"
        )


def _refuse_size(name: str, image_size: int, own: int) -> None:
    """A ``data.image_size`` other than the data set's own ``own`` was ignored without a word
    (the run trained on images of its own size, not resized: rescaled scans hold nothing more)."""
    if image_size != own:
        raise ValueError(
            f"data.image_size = {image_size} is not honoured by data.dataset = {name} "
            f"({own}×{own} images, not resized): leave data.image_size out, or set "
            "data.dataset: image-folder to read images at that size"
        )


def _refuse_colour(name: str, grayscale: bool, what: str) -> None:
    """``data.grayscale: false`` given to a data set of one-channel images was ignored without
    a word (the run trained on one channel, not the three asked for)."""
    if not grayscale:
        raise ValueError(
            f"data.grayscale = false is not honoured by data.dataset = {name} ({what}): leave "
            "data.grayscale out, or set data.dataset: image-folder to read images in colour"
        )


def digits(root: str | None = None, image_size: int = 8, grayscale: bool = True) -> Source:
    """scikit-learn's 8×8 digits (no test split; quick tests): one channel at 8 px, other
    ``image_size`` / ``grayscale`` refused."""
    from siamkit.data.builtin import load_digits_dataset

    _refuse_root("digits", root, "scikit-learn's digits, built in")
    _refuse_size("digits", image_size, FIXED_SIZES["digits"])
    _refuse_colour("digits", grayscale, "one-channel 8×8 images")
    x, y = load_digits_dataset()
    return Source(x, y, None, None, tuple(str(i) for i in range(10)))


#: the most copies of an image folder's images a supervised run holds at once: the images read,
#: and the splits :func:`~siamkit.training.data.load_run_data` indexes out of them (copies: torch
#: copies on indexing with indices or a mask) before it lets the read ones go
RUN_COPIES = 2


def image_folder(root: str | None = None, image_size: int = 64, grayscale: bool = False) -> Source:
    """``root/<class>/<image>``, resized to ``image_size`` squares, ``(N, C, S, S)`` uint8 (a
    quarter of float32's memory for a folder of thousands of photos; no test split).

    A folder whose images do not fit in the memory free is refused before any is read
    (:func:`~siamkit.data.memory.check_images_fit`), counted :data:`RUN_COPIES` times: the run
    (:func:`~siamkit.training.data.load_run_data`) copies its splits out of them while they are
    held."""
    from siamkit.data.folders import ImageFolderDataset
    from siamkit.data.memory import check_images_fit

    root = _image_folder_root(root)
    _refuse_loose_images(root)
    shape = (1 if grayscale else 3, image_size, image_size)
    ds = ImageFolderDataset(root, shape)
    check_images_fit(len(ds), shape, root, copies=RUN_COPIES)  # not read for an hour, then killed
    x, y = ds.load_all(folder="data.root", dtype=torch.uint8)
    return Source(x, y, None, None, tuple(ds.classes))


def _image_folder_root(root: str | None) -> str:
    """image-folder's ``data.root``: given, and a folder."""
    from siamkit.data.folders import missing_folder

    if root is None:
        raise ValueError(
            "data.dataset = image-folder needs data.root: a folder with one sub-folder per class"
        )
    if not Path(root).is_dir():
        raise missing_folder(root, "Image")
    return root


def check_source_root(dataset: str, root: str | None) -> None:
    """What the built-in source ``dataset`` refuses of ``data.root`` before it lists a file
    (image-folder's: given, and a folder); a source a plug-in registered under the name
    checks its own. ``siamkit train --nproc-per-node`` makes it once before it starts the
    processes."""
    if dataset == "image-folder" and DATA_SOURCES.get(dataset) is image_folder:
        _image_folder_root(root)


def _refuse_loose_images(root: str) -> None:
    """Images directly in ``root`` and no class sub-folder: the folder of unlabeled photos that
    a similarity can still be learned from, by task: ssl, not by a run that needs classes."""
    from siamkit.data.folders import loose_images

    n = len(loose_images(root))
    if n:
        raise ValueError(
            f"data.root {root!r} holds {n} images and no class sub-folders: a run with labels "
            "needs one sub-folder of images per class (root/cat/1.png, root/dog/2.png); to "
            "learn from unlabeled images train configs/simclr.yaml (task: ssl) on the folder"
        )


def synthetic_glyphs(
    root: str | None = None, image_size: int = 28, grayscale: bool = True
) -> Source:
    """Synthetic handwritten glyphs, Omniglot's shape: 700 classes × 20 drawings, ``(N, 1, S, S)``
    uint8 drawn at ``image_size`` S (28 by default, at least 8), seed 0
    (:mod:`siamkit.data.synthetic_glyphs`; no test split: the run splits by class); one
    channel (``grayscale: false`` refused)."""
    from siamkit.data.synthetic_glyphs import GLYPH_CLASSES, generate_glyphs, glyph_class_name

    _refuse_root("synthetic-glyphs", root, "generated, not read from files")
    _refuse_colour("synthetic-glyphs", grayscale, "drawings in one channel")
    if image_size < 8:
        raise ValueError(
            f"data.image_size = {image_size} is too small for data.dataset = synthetic-glyphs, "
            "drawn at 8 pixels or more: set data.image_size to 8 or more, or leave it out (28)"
        )
    g = generate_glyphs(GLYPH_CLASSES, 20, image_size, seed=0)
    names = tuple(glyph_class_name(c) for c in range(GLYPH_CLASSES))
    return Source(
        torch.from_numpy(g.images).unsqueeze(1), torch.from_numpy(g.labels), None, None, names
    )


DATA_SOURCES.register("fashion-mnist", fashion_mnist)
DATA_SOURCES.register("digits", digits)
DATA_SOURCES.register("image-folder", image_folder)
DATA_SOURCES.register("synthetic-glyphs", synthetic_glyphs)
