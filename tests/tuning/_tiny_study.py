"""The tuning tests' tiny study: ``configs/digits-tiny.yaml`` with two validation classes held
out of its training classes, one step of one epoch a trial, and the refusal before a study
writes anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siamkit.training import apply_overrides, load_config
from siamkit.tuning import run_study

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def tiny_base(*sets: str) -> Any:
    """The tiny config (validation classes 4 and 5, 1 x 1 step, 4 classes a batch), then
    ``sets`` (``key=value`` overrides, applied after)."""
    return apply_overrides(
        load_config(TINY),
        [
            "data.val_classes=[4, 5]",
            "train.epochs=1",
            "train.steps_per_epoch=1",
            "train.classes_per_batch=4",
            *sets,
        ],
    )


def refused(base: Any, space: dict[str, Any], out: Path) -> str:
    """The sentence ``run_study`` refuses ``space`` with, after checking it wrote nothing."""
    with pytest.raises(ValueError) as err:
        run_study(base, space, out, n_trials=1, progress=False)
    assert not out.exists()  # refused before anything is written
    return str(err.value)
