"""The steps notes count their batches, steps, classes, images and triplets with the thousands
separator every message writes ("rounded down to 2468 batches (1234 steps ...", "makes (1234
batches of 1000 classes ...": s60 final note, Counts: plurals built with 's' * (n != 1)).
The batches are stand-ins with the sampler's numbers: no 1,000 classes drawn."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from siamkit.training.from_config import _steps_capped_note, _steps_shared_note


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
