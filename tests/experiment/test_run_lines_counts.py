"""The run's training and evaluation lines count in the number a count takes, with the
thousands separator every message writes: one test image was "evaluating on 1 images of 1
unseen class", and 1,000 classes "of 1000 classes" (s60 final note, Counts: the plurals built
by hand with 's' * (n != 1)). RunData is built directly: no 1,000 classes read."""

from __future__ import annotations

import torch

from siamkit.experiment.run import evaluating_line, training_line
from siamkit.training.data import RunData


def test_one_test_image_is_one_image() -> None:
    y = torch.tensor([0, 0, 1])
    d = RunData(y[:2], y[:2], y[:0], y[:0], y[2:], y[2:], ("ann", "bob"), (0,), (1,))
    assert evaluating_line(d, held_out_images=False) == (
        "evaluating on 1 image of 1 unseen class (bob) ..."
    )
    assert evaluating_line(d, held_out_images=True).startswith(
        "evaluating on 1 held-out image of the training classes (bob) "
    )


def test_a_thousand_classes_are_written_with_the_separator() -> None:
    y = torch.arange(1000).repeat(2)
    names = tuple(f"c{i}" for i in range(2000))
    v = torch.arange(1000, 2000)
    d = RunData(y, y, v, v, y[:0], y[:0], names, tuple(range(1000)), (), tuple(range(1000, 2000)))
    line = training_line(d, "cpu")
    assert line.startswith("training on 2,000 images of 1,000 classes (c0, ")
    assert "; 1,000 images of 1,000 other classes held out for validation (c1000, " in line
