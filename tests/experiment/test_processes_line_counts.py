"""A data-parallel run's line counts its classes, images and steps with the thousands separator
every message writes ("an epoch is 1234 steps", "trains on 4000 images": s60 final note,
Counts). The batches are a stand-in with the sampler's numbers: no 1,000 classes drawn."""

from __future__ import annotations

from types import SimpleNamespace

from siamkit.experiment import run as run_mod


def test_a_thousand_classes_and_steps_are_written_with_the_separator() -> None:
    batches = SimpleNamespace(sampler=SimpleNamespace(p=1000), k=2, steps=1234)
    assert run_mod._processes_line(2, batches, offline=False) == (
        "2 processes: each draws its own batch of 1,000 classes x 2 images, so a step trains on "
        "4,000 images (the loss sees all of them, gathered) and an epoch is 1,234 steps (one "
        "process: 2,000 images a step; the batch is per process)"
    )
