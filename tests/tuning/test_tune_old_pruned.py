"""A study begun before fc369217 and continued after it: the trials the older siamkit pruned
at their last epoch stay pruned, out of best.yaml, even when one of them scored best, and
continuing the study said nothing of them (reviewer s52_R8 finding 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from _tiny_study import TINY
from test_tune_against_optuna import _NoTraining

from siamkit.training import apply_overrides, load_config
from siamkit.tuning import SearchSpace, run_study
from siamkit.tuning import search as search_mod
from siamkit.tuning.study import _open_study


def _validator(cfg: Any, data: Any, on_epoch: Any) -> Any:
    epoch = 0

    def validate(_net: Any) -> float:
        nonlocal epoch
        epoch += 1
        on_epoch(epoch, cfg.optim.lr)
        return float(cfg.optim.lr)

    return validate


def test_trials_pruned_at_their_last_epoch_by_an_older_siamkit_are_named(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(search_mod, "_validator", _validator)
    monkeypatch.setattr(search_mod, "Trainer", _NoTraining)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=2"])
    space = SearchSpace.from_dict({
        "train.epochs": {"choice": [2, 3]},
        "optim.lr": {"float": [1e-4, 1e-3]},
    })  # fmt: skip
    study = _open_study(base, space, tmp_path)
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-3)
    epochs = optuna.distributions.CategoricalDistribution(["2", "3"])
    # as the older siamkit left them: two pruned at their last epoch (2 of 2, 3 of 3), one
    # pruned before it (2 of 3), which the pruner still does
    for drawn, reported in (("2", 2), ("3", 3), ("3", 2)):
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.PRUNED,
                params={"train.epochs": drawn, "optim.lr": 5e-4},
                distributions={"train.epochs": epochs, "optim.lr": lr},
                intermediate_values={e: 5e-4 for e in range(1, reported + 1)},
            )
        )
    said: list[str] = []
    run_study(base, space, tmp_path, n_trials=4, progress=False, log=said.append)
    assert (
        "note: 2 trials were pruned at the last epoch by an older siamkit, which asked the "
        "pruner there (this one scores a trial that ran all its epochs), so best.yaml leaves "
        "them out; trials.csv has their scores, and a study in a new --out ranks every "
        "trial that ran all its epochs"
    ) in said, said
    # a study whose pruned trials all stopped before their last epoch says nothing of them
    said.clear()
    run_study(base, space, tmp_path / "new", n_trials=1, progress=False, log=said.append)
    run_study(base, space, tmp_path / "new", n_trials=2, progress=False, log=said.append)
    assert not [line for line in said if "older siamkit" in line], said


def test_the_note_groups_thousands_as_the_continue_line(tmp_path: Path, monkeypatch) -> None:
    # s62_LR 4: "continuing the study ...: 1 of 1,000 trials finished" stood over "note: 1200
    # trials were pruned ..."; 1,200 trials from an older siamkit are stubbed here, not run
    monkeypatch.setattr(search_mod, "_validator", _validator)
    monkeypatch.setattr(search_mod, "Trainer", _NoTraining)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=1"])
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1e-3]}})
    run_study(base, space, tmp_path, n_trials=1, progress=False)
    monkeypatch.setattr(search_mod, "_pruned_at_their_end", lambda *a: 1200)
    said: list[str] = []
    run_study(base, space, tmp_path, n_trials=2, progress=False, log=said.append)
    notes = [line for line in said if line.startswith("note: ")]
    assert notes and notes[0].startswith(
        "note: 1,200 trials were pruned at the last epoch by an older siamkit"
    ), said
