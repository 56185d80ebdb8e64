"""Offline signature verification data in the ``writer/genuine/*`` + ``writer/forged/*`` layout.

This is how CEDAR, GPDS and BHSig are usually arranged after unpacking. Pairs are formed within
each writer: every unordered genuine-genuine pair (``same = 1``) and every genuine-forged pair
(``same = 0``, skilled forgeries), optionally subsampled per writer.

Example:
    >>> ds = SignatureDataset("signatures/")  # doctest: +SKIP
    >>> reference, questioned, same = ds[0]  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
import random
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from siamkit.data.folders import (
    IMAGE_EXTENSIONS,
    EmptyFoldersWarning,
    empty_folders_note,
    list_images,
    missing_folder,
)
from siamkit.data.image_io import resize_images
from siamkit.data.pairs_csv import FilePairDataset
from siamkit.data.synthetic_signatures import is_synthetic_folder

__all__ = ["SignatureDataset", "SignaturePair", "WriterSignatures", "scan_signatures"]

GENUINE_DIRS = ("genuine", "real", "original")
FORGED_DIRS = ("forged", "forgeries", "forgery", "forge")

Transform = Callable[[torch.Tensor], torch.Tensor]


class WriterSignatures(NamedTuple):
    """The signature files of one writer."""

    writer: str
    genuine: list[Path]
    forged: list[Path]


class SignaturePair(NamedTuple):
    """A reference (always genuine) and a questioned signature of the same writer."""

    reference: Path
    questioned: Path
    same: int  # 1 = questioned is genuine, 0 = forged
    writer: str


def _find_dir(writer_dir: Path, names: Sequence[str]) -> Path | None:
    for child in sorted(writer_dir.iterdir()):
        if child.is_dir() and child.name.lower() in names:
            return child
    return None


def scan_signatures(root: str | os.PathLike) -> list[WriterSignatures]:
    """List the writers under ``root`` that have a ``genuine/`` folder, sorted by name.

    Raises:
        FileNotFoundError: ``root`` is missing.
        ValueError: no writer folder with a ``genuine/`` sub-folder holding images.

    Warns:
        EmptyFoldersWarning: some writer folders have no ``genuine/`` sub-folder holding
            images; they are left out and named.

    Example:
        >>> [w.writer for w in scan_signatures("signatures/")]  # doctest: +SKIP
        ['writer01', 'writer02']
    """
    root = Path(root)
    if not root.is_dir():
        raise missing_folder(root, "Signature")
    writers = []
    for writer_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        genuine_dir = _find_dir(writer_dir, GENUINE_DIRS)
        if genuine_dir is None:
            continue
        forged_dir = _find_dir(writer_dir, FORGED_DIRS)
        forged = list_images(forged_dir) if forged_dir is not None else []
        writers.append(WriterSignatures(writer_dir.name, list_images(genuine_dir), forged))
    writers = [w for w in writers if w.genuine]
    if not writers:
        raise ValueError(
            f"No signatures under '{root}'; expected <writer>/genuine/*.png and "
            "<writer>/forged/*.png."
        )
    found = {w.writer for w in writers}
    warn_left_out_writers(root, [p.name for p in _visible_dirs(root) if p.name not in found])
    return writers


def _visible_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def warn_left_out_writers(root: Path, names: Sequence[str]) -> None:
    """An :class:`EmptyFoldersWarning` naming the writer folders ``names`` of ``root`` that
    were left out for holding no genuine signatures (nothing when there are none)."""
    if names:
        note = empty_folders_note(
            root, names, "writer", IMAGE_EXTENSIONS, holding="genuine signature images"
        )
        warnings.warn(note, EmptyFoldersWarning, stacklevel=3)


def _writer_pairs(
    w: WriterSignatures, max_pairs: int | None, rng: random.Random, balanced: bool = False
) -> list[SignaturePair]:
    pos = [SignaturePair(a, b, 1, w.writer) for a, b in itertools.combinations(w.genuine, 2)]
    neg = [SignaturePair(a, b, 0, w.writer) for a, b in itertools.product(w.genuine, w.forged)]
    if balanced:
        n = min(len(pos), len(neg))
        max_pairs = n if max_pairs is None else min(n, max_pairs)
    if max_pairs is not None:
        pos = sorted(rng.sample(pos, min(max_pairs, len(pos))))
        neg = sorted(rng.sample(neg, min(max_pairs, len(neg))))
    return pos + neg


class SignatureDataset(FilePairDataset):
    """Genuine-genuine and genuine-forged signature pairs; items ``(reference, questioned, same)``.

    Args:
        root: folder with one sub-folder per writer, each with ``genuine/`` and ``forged/``, or
            a CEDAR / GPDS / BHSig folder (see :mod:`siamkit.data.signature_layouts`).
        input_shape: ``(C, H, W)`` the scans are converted and resized to.
        max_pairs_per_writer: keep at most this many positive and this many negative pairs per
            writer (random but reproducible with ``seed``); ``None`` keeps all.
        seed: seed for that subsampling.
        transform: optional callable on each float ``(C, H, W)`` image.
            Images are read as enrolment and training read signatures
            (:func:`~siamkit.data.signature_set.read_signature`): a transparent background is
            laid on white paper.
        layout: ``"auto"`` (detect), ``"folders"``, ``"cedar"``, ``"gpds"`` or ``"bhsig"``.
        balanced: per writer, as many genuine-forged pairs as genuine-genuine pairs.

    Attributes:
        writers: the :class:`WriterSignatures` found.
        pairs: the :class:`SignaturePair` list, positives then negatives per writer.
        same: ``(N,)`` int64 tensor.
        synthetic: whether ``root`` is a folder ``siamkit signature synth`` wrote (it, or a
            folder above it, holds the ``SYNTHETIC`` marker): figures on it are on generated
            signatures, not real scans.

    Example:
        >>> ds = SignatureDataset("cedar/", input_shape=(1, 155, 220))  # doctest: +SKIP
        >>> len(ds.writers)  # doctest: +SKIP
        55
    """

    def __init__(
        self,
        root: str | os.PathLike,
        input_shape: Sequence[int] = (1, 155, 220),
        max_pairs_per_writer: int | None = None,
        seed: int = 0,
        transform: Transform | None = None,
        layout: str = "auto",
        balanced: bool = False,
    ) -> None:
        from siamkit.data.signature_layouts import scan_signature_layout  # imports this module

        if max_pairs_per_writer is not None and max_pairs_per_writer < 1:
            raise ValueError(f"max_pairs_per_writer must be >= 1, got {max_pairs_per_writer}.")
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) < 1:
            raise ValueError(
                f"input_shape must be (C, H, W) with C = 1 (grey) or 3 (RGB) and positive sizes, "
                f"got {tuple(input_shape)!r}."
            )
        self.writers = scan_signature_layout(root, layout)
        rng = random.Random(seed)
        pairs = [
            p for w in self.writers for p in _writer_pairs(w, max_pairs_per_writer, rng, balanced)
        ]
        if not pairs:
            raise ValueError(
                f"No pairs can be formed under '{root}': every writer needs at least two genuine "
                "signatures or one forgery."
            )
        self._set_pairs(pairs, input_shape, transform)
        self.synthetic = is_synthetic_folder(root)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        from siamkit.data.signature_set import read_signature  # imports this module

        pair = self.pairs[index]
        c, h, w = self.input_shape
        a, b = (
            resize_images(read_signature(path, channels=c)[None], (h, w))[0]
            for path in self._paths(pair)
        )
        if self.transform is not None:
            a, b = self.transform(a), self.transform(b)
        return a, b, pair.same

    @staticmethod
    def _paths(pair: SignaturePair) -> tuple[Path, Path]:
        return pair.reference, pair.questioned
