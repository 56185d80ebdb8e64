"""run_study's sampler, pruner and direction against Optuna used directly: a bare
``optuna.create_study(sampler=TPESampler(seed), pruner=MedianPruner(5, 2))`` over the same
distributions, reporting the same per-epoch metric at the same steps, draws the same values and
prunes the same trials, through the random start-up trials and TPE's own. One rule of its own: a
trial is never pruned at its last epoch (it has trained; pruning would only leave it out of
best.yaml)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest

from siamkit.training import apply_overrides, load_config
from siamkit.tuning import run_study
from siamkit.tuning import search as search_mod
from siamkit.tuning import study as study_mod

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
EPOCHS = 3
TRIALS = 14  # 10 random start-up trials, then TPE's
SEED = 7
SPACE = {
    "loss.margin": {"float": [0.05, 0.5]},  # a loss's own key: drawn after the others
    "optim.lr": {"float": [1e-4, 1e-2], "log": True},
    "train.steps_per_epoch": {"int": [1, 4]},
    "train.samples_per_class": {"int": [2, 16], "log": True},
    "model.embedding_dim": {"choice": [8, 16, 32]},
}


def _metric(lr: float, margin: float, steps: int, per_class: int, dim: int, epoch: int) -> float:
    """A made-up validation metric of a trial's values after ``epoch`` (not monotone in any)."""
    return (
        -((math.log10(lr) + 3) ** 2)
        + margin * 0.3
        + steps * 0.01
        + per_class * 1e-3
        + (dim * 1e-4 + 0.05 * epoch * math.cos(3 * math.log10(lr)))
    )


class _Outcome:
    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history, self.best_metric = history, None


class _NoTraining:
    """Each epoch only validates (the metric of the trial's config, reported to the pruner)."""

    def __init__(self, cfg: Any, validate: Any) -> None:
        self.cfg, self.validate = cfg, validate

    @classmethod
    def from_config(cls, net: Any, cfg: Any, data: Any, validate: Any, **_: Any) -> _NoTraining:
        return cls(cfg, validate)

    def fit(self) -> _Outcome:
        rows = [
            {"epoch": e + 1, "val_metric": self.validate(None)}
            for e in range(self.cfg.train.epochs)
        ]
        return _Outcome(rows)


def _validator(cfg: Any, data: Any, on_epoch: Any) -> Any:
    epoch = 0

    def validate(_net: Any) -> float:
        nonlocal epoch
        epoch += 1
        t = cfg.train
        m = _metric(cfg.optim.lr, cfg.loss.margin, t.steps_per_epoch, t.samples_per_class,
                    cfg.model.embedding_dim, epoch)  # fmt: skip
        on_epoch(epoch, m)  # may prune the trial
        return m

    return validate


def _bare_objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("optim.lr", 1e-4, 1e-2, log=True)
    steps = trial.suggest_int("train.steps_per_epoch", 1, 4)
    per_class = trial.suggest_int("train.samples_per_class", 2, 16, log=True)
    dim = trial.suggest_categorical("model.embedding_dim", [8, 16, 32])
    margin = trial.suggest_float("loss.margin", 0.05, 0.5)
    for epoch in range(1, EPOCHS + 1):
        m = _metric(lr, margin, steps, per_class, dim, epoch)
        trial.report(m, epoch)
        if epoch < EPOCHS and trial.should_prune():  # siamkit tune's one rule: not at the last
            raise optuna.TrialPruned()
    return m


@pytest.mark.parametrize(
    ("metric", "direction"), [("precision_at_1", "maximize"), ("eer", "minimize")]
)
def test_a_study_draws_and_prunes_as_bare_optuna(
    tmp_path: Path, monkeypatch, metric: str, direction: str
) -> None:
    monkeypatch.setattr(search_mod, "_validator", _validator)
    monkeypatch.setattr(search_mod, "Trainer", _NoTraining)
    base = apply_overrides(
        load_config(TINY),
        ["data.val_classes=[4, 5]", f"train.epochs={EPOCHS}", f"train.seed={SEED}",
         f"train.val_metric={metric}"],
    )  # fmt: skip
    result = run_study(base, SPACE, tmp_path, n_trials=TRIALS, progress=False)
    ours = optuna.load_study(
        study_name=study_mod.STUDY_NAME, storage=study_mod.storage_url(tmp_path / "study.db")
    ).get_trials()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bare = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=SEED),
        # epochs are steps 1, 2, ...: never pruned at the first (study.PRUNE_FROM_EPOCH)
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
    )
    bare.optimize(_bare_objective, n_trials=TRIALS)
    theirs = bare.get_trials()

    def drawn(t: Any) -> dict[str, Any]:  # a choice is stored as its JSON label
        return {k: int(v) if k == "model.embedding_dim" else v for k, v in t.params.items()}

    assert [drawn(t) for t in ours] == [t.params for t in theirs]
    assert [t.state for t in ours] == [t.state for t in theirs]
    assert [t.intermediate_values for t in ours] == [t.intermediate_values for t in theirs]
    assert any(t.state.name == "PRUNED" for t in theirs)  # the pruner was put to the test
    assert result.best_value == bare.best_value
    assert drawn(ours[bare.best_trial.number]) == bare.best_params


def test_a_trial_is_not_pruned_at_its_last_epoch(tmp_path: Path, monkeypatch) -> None:
    """A trial that had run all its epochs was pruned when its last epoch's metric was below the
    median of the other trials' at that epoch, and left out of best.yaml: here the 2-epoch trials
    end at 0.6, below the 4-epoch trials' 0.9 at epoch 2 (the first the pruner is asked at), but
    those end at 0.3 (no restore_best: scored by their last epoch), so a 2-epoch trial is the
    best; best.yaml took one of the first five (before the pruner starts), not the best."""

    def validator(cfg: Any, data: Any, on_epoch: Any) -> Any:
        epoch = 0

        def validate(_net: Any) -> float:
            nonlocal epoch
            epoch += 1
            m = (0.9, 0.9, 0.5, 0.3)[epoch - 1] if cfg.train.epochs == 4 else 0.6
            m += cfg.optim.lr  # tells the trials apart
            on_epoch(epoch, m)
            return m

        return validate

    monkeypatch.setattr(search_mod, "_validator", validator)
    monkeypatch.setattr(search_mod, "Trainer", _NoTraining)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]"])
    space = {"train.epochs": {"choice": [2, 4]}, "optim.lr": {"float": [1e-4, 1e-3]}}
    result = run_study(base, space, tmp_path, n_trials=16, progress=False)
    trials = optuna.load_study(
        study_name=study_mod.STUDY_NAME, storage=study_mod.storage_url(tmp_path / "study.db")
    ).get_trials()
    ran_all = [t for t in trials if len(t.intermediate_values) == int(t.params["train.epochs"])]
    assert all(t.state.name == "COMPLETE" for t in ran_all)
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned and all(len(t.intermediate_values) < 4 for t in pruned)  # the pruner ran
    # the best of the trials that ran all their epochs, each scored by its last
    assert result.best_value == max(
        t.intermediate_values[max(t.intermediate_values)] for t in ran_all
    )
