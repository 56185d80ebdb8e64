"""The steps notes count their batches, steps, classes, images and triplets with the thousands
separator every message writes ("rounded down to 2468 batches (1234 steps ...", "makes (1234
batches of 1000 classes ...": s60 final note, Counts: plurals built with 's' * (n != 1)).
The batches are stand-ins with the sampler's numbers: no 1,000 classes drawn."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from siamkit.training.from_config import (
    _fewer_classes_note,
    _left_out_note,
    _steps_capped_note,
    _steps_shared_note,
)


class _Sampler:
    p, fill, class_power = 1000, True, None

    def __len__(self) -> int:
        return 1


def _batches(steps: int) -> Any:
    return SimpleNamespace(sampler=_Sampler(), steps=steps, k=2)


def test_the_steps_shared_note_writes_the_separator() -> None:
    assert _steps_shared_note(2469, _batches(1234), 2) == (
        "note: train.steps_per_epoch = 2469 is rounded down to 2,468 batches (1,234 steps of "
        "the 2 processes' batches, a step training one batch of each); set a multiple of 2 to "
        "train it exactly"
    )


def test_the_steps_capped_note_writes_the_separator() -> None:
    assert _steps_capped_note(5000, _batches(1234), 2000, 1) == (
        "note: train.steps_per_epoch = 5000 is more than one pass over the 2,000 training "
        "images makes (1,234 batches of 1,000 classes x up to 2 images), so an epoch trains "
        "1,234 steps; raise train.epochs to train longer"
    )


class _OnePerClass:
    """Six classes, class 0 with five images and the others with one, and a plan that draws
    three of them; with ``train.samples_per_class: 1`` (k = 1) a batch holds 1 image a class."""

    p, fill, class_power = 6, False, None
    labels = np.array([0, 0, 1, 2, 3, 4, 5, 0, 0, 0])

    def __len__(self) -> int:
        return 1

    def plan(self, epoch: int) -> list[list[int]]:
        return [[0, 2, 3]]


def _one_per_class() -> Any:
    return SimpleNamespace(sampler=_OnePerClass(), steps=1, k=1, offline=None)


def test_the_fewer_classes_note_counts_one_image_in_the_singular() -> None:
    # it said "6 classes x up to 1 images", the line above the capped note's "1 image" (s61_FB 2)
    assert _fewer_classes_note(8, _one_per_class(), SimpleNamespace(val_classes=())) == (
        "note: train.classes_per_batch = 8 is more than the 6 training classes, so a batch "
        "holds 6 classes x up to 1 image"
    )


def test_the_left_out_note_counts_one_image_in_the_singular() -> None:
    assert _left_out_note(_one_per_class()) == (
        "note: an epoch of P×K batches (6 classes x up to 1 image) uses 3 of the 10 training "
        "images (70% left out): an epoch ends once fewer than 6 classes have images left, and "
        "the larger classes (5 images, against 1 in the smallest) outlast the others; "
        "train.class_power draws each batch's classes by a power of their size instead, "
        "through every class's images in turn (--set train.class_power=0.5)"
    )
