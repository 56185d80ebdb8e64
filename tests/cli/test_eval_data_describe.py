"""The line evaluate and calibrate open with: "1,234 images of 1,234 classes (...)"; the
classes were written "1234 classes" beside "1,234 images"."""

from __future__ import annotations

import torch

from siamkit.cli._eval_data import EvalData


def test_the_data_line_groups_both_counts() -> None:
    n = 1234
    names = tuple(f"c{i}" for i in range(n))
    ev = EvalData(torch.zeros(n, 1, 2, 2), torch.arange(n), names, tuple(range(n)), "the folder f")
    assert ev.describe().startswith("1,234 images of 1,234 classes (c0, c1, ")
    assert ev.describe().endswith(") from the folder f")
