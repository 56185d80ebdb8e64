"""A failed trial's reason appeared only in Optuna's log line, not in trials.csv: the table now has
a ``reason`` column, which says why each failed trial failed (empty for the others)."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from siamkit.training import apply_overrides, load_config
from siamkit.tuning import SearchSpace, run_study
from siamkit.tuning import search as search_mod

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


class _Trainer:
    """No training: trial 0 is refused inside training (as a miner the memory cannot use is),
    trial 1 reports NaN, the others their learning rate."""

    fits = 0

    def __init__(self, cfg: Any, validate: Any, net: Any) -> None:
        self.cfg, self.validate, self.net = cfg, validate, net

    @classmethod
    def from_config(cls, net: Any, cfg: Any, data: Any, validate: Any, **_: Any) -> _Trainer:
        return cls(cfg, validate, net)

    def fit(self) -> Any:
        n, lr = _Trainer.fits, self.cfg.optim.lr
        _Trainer.fits += 1
        if n == 0:
            raise search_mod.RefusedCombination(f"optim.lr {lr:.3g} is refused here")
        self.validate(self.net)
        metric = float("nan") if n == 1 else lr
        return SimpleNamespace(history=[{"epoch": 1, "val_metric": metric}], best_metric=None)


def test_trials_csv_says_why_each_failed_trial_failed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(search_mod, "_validator", lambda cfg, data, on_epoch: lambda net: 0.0)
    monkeypatch.setattr(search_mod, "Trainer", _Trainer)
    monkeypatch.setattr(_Trainer, "fits", 0)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=1"])
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    run_study(base, space, tmp_path, n_trials=2, progress=False)
    with (tmp_path / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    said = [(r["state"], r["reason"]) for r in rows]
    assert said == [
        ("fail", f"optim.lr {float(rows[0]['optim.lr']):.3g} is refused here"),
        ("fail", "the validation metric was nan, not a number"),
        ("complete", ""),
        ("complete", ""),
    ]
