"""The study's ``MedianPruner(n_warmup_steps=1)`` was meant to leave the first epoch's score
unpruned, but siamkit reports epochs as steps counted from 1 and Optuna prunes from step
``n_warmup_steps`` on, so a trial was pruned at its first epoch all the same (reviewer s53_c7
finding 2). A trial now first meets the pruner at its second epoch
(:data:`~siamkit.tuning.study.PRUNE_FROM_EPOCH`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from _tiny_study import TINY

from siamkit.training import apply_overrides, load_config
from siamkit.tuning import run_study
from siamkit.tuning import search as search_mod
from siamkit.tuning import study as study_mod

EPOCHS = 3


class _Outcome:
    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history, self.best_metric = history, None


class _NoTraining:
    """Each epoch only validates; counts the trials it was built for."""

    built = 0

    def __init__(self, cfg: Any, validate: Any) -> None:
        self.cfg, self.validate = cfg, validate
        self.trial = type(self).built
        type(self).built += 1

    @classmethod
    def from_config(cls, net: Any, cfg: Any, data: Any, validate: Any, **_: Any) -> _NoTraining:
        return cls(cfg, validate)

    def fit(self) -> _Outcome:
        rows = []
        for e in range(self.cfg.train.epochs):
            rows.append({"epoch": e + 1, "val_metric": self.validate(self.trial)})
        return _Outcome(rows)


def _validator(cfg: Any, data: Any, on_epoch: Any) -> Any:
    epoch = 0

    def validate(trial: int) -> float:
        """The first 5 trials (the pruner's start-up) score 0.9 + a little at every epoch, the
        later ones 0.1 at every epoch: far below the median from their first epoch on."""
        nonlocal epoch
        epoch += 1
        m = 0.9 + 0.01 * trial if trial < 5 else 0.1
        on_epoch(epoch, m)
        return m

    return validate


def test_a_trial_is_pruned_from_its_second_epoch_not_its_first(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(search_mod, "_validator", _validator)
    monkeypatch.setattr(search_mod, "Trainer", _NoTraining)
    monkeypatch.setattr(_NoTraining, "built", 0)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", f"train.epochs={EPOCHS}"])
    result = run_study(base, {"optim.lr": {"float": [1e-3, 1e-2]}}, tmp_path, n_trials=7)
    trials = optuna.load_study(
        study_name=study_mod.STUDY_NAME, storage=study_mod.storage_url(tmp_path / "study.db")
    ).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5 + ["PRUNED"] * 2
    # below the median at epoch 1 already, but first asked at epoch 2, and pruned there
    assert [sorted(t.intermediate_values) for t in trials[5:]] == [[1, 2], [1, 2]]
    assert (result.complete, result.pruned) == (5, 2)


def test_the_pruner_leaves_step_1_alone_in_bare_optuna() -> None:
    """The study's own pruner, asked by bare Optuna: a trial far below the median at step 1
    (siamkit's first epoch) is not pruned there, and is at step 2."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=5, n_warmup_steps=study_mod.PRUNE_FROM_EPOCH
    )
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for _ in range(5):
        t = study.ask()
        t.report(1.0, 1)
        t.report(1.0, 2)
        study.tell(t, 1.0)
    t = study.ask()
    t.report(0.0, 1)
    assert not t.should_prune()
    t.report(0.0, 2)
    assert t.should_prune()
