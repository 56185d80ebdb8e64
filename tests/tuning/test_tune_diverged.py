"""A trial whose training diverges (its weights NaN): the validation metric refused its NaN
embeddings with a ValueError that stopped the whole study (a traceback, and no trials.csv) where
the trial should fail, with why, and the study go on."""

from __future__ import annotations

import csv
from pathlib import Path

from _tiny_study import TINY

from siamkit.training import apply_overrides, load_config
from siamkit.tuning import run_study


def test_a_diverging_trial_fails_and_the_study_goes_on(tmp_path: Path) -> None:
    sets = [
        "data.val_classes=2",
        "train.epochs=1",
        "train.steps_per_epoch=3",
        "optim.optimizer=sgd",
    ]
    base = apply_overrides(load_config(TINY), [*sets, "train.val_metric=eer"])
    space = {"optim.lr": {"choice": [1.0e8, 1.0e-3]}}
    result = run_study(base, space, tmp_path, n_trials=3, progress=False)
    assert result.complete == 3 and result.failed >= 1
    with (tmp_path / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    failed = [r for r in rows if r["state"] == "fail"]
    assert {r["optim.lr"] for r in failed} == {"100000000.0"}
    assert all(r["reason"].startswith("training diverged: the network's weights") for r in failed)
    assert {r["optim.lr"] for r in rows if r["state"] == "complete"} == {"0.001"}
