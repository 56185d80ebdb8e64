"""A trial whose training diverges: the refusal of its NaN loss or NaN or infinite embeddings
stopped the whole study (a traceback, and no trials.csv) where the trial should fail, with why,
and the study go on. bf25debd caught it only at validation with a NaN weight, so it still
stopped the study when the weights went NaN mid-epoch (the loss's check_batch refused the
embeddings: steps_per_epoch 5 or 6 at lr 1e8) or stayed finite while the embeddings overflowed
(steps_per_epoch 1 or 2); and Optuna's warning said only 'The value nan is not acceptable'."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from _tiny_study import TINY

from siamkit.miners._common import NonFiniteEmbeddings
from siamkit.training import apply_overrides, load_config
from siamkit.tuning import run_study
from siamkit.tuning import search as search_mod


class _Said(logging.Handler):
    """Optuna's warnings, as the user reads them (after siamkit's filter)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def said() -> Any:
    logger = logging.getLogger("optuna.study._optimize")
    handler = _Said()
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("steps", [2, 3, 6])
def test_a_diverging_trial_fails_and_the_study_goes_on(tmp_path: Path, said, steps: int) -> None:
    """lr 1e8 SGD diverges at a step that depends on steps_per_epoch: with 2 the embeddings
    overflow with finite weights (validation refuses them), with 3 the weights are NaN at
    validation, with 6 the loss refuses NaN embeddings mid-epoch (reviewer s52_R8)."""
    sets = [
        "data.val_classes=2",
        "train.epochs=1",
        f"train.steps_per_epoch={steps}",
        "optim.optimizer=sgd",
    ]
    base = apply_overrides(load_config(TINY), [*sets, "train.val_metric=eer"])
    space = {"optim.lr": {"choice": [1.0e8, 1.0e-3]}}
    result = run_study(base, space, tmp_path, n_trials=2, progress=False)
    assert result.complete == 2 and result.failed >= 1
    rows = _rows(tmp_path / "trials.csv")
    failed = [r for r in rows if r["state"] == "fail"]
    assert {r["optim.lr"] for r in failed} == {"100000000.0"}
    assert all(r["reason"].startswith("training diverged: ") for r in failed), failed
    assert all("a lower optim.lr trains" in r["reason"] for r in failed), failed
    assert {r["optim.lr"] for r in rows if r["state"] == "complete"} == {"0.001"}
    # Optuna's warning of each diverged trial carries the reason, not "nan is not acceptable"
    warned = [line for line in said if "failed with parameters" in line]
    assert len(warned) == len(failed), said
    assert all(r["reason"] in line for r, line in zip(failed, warned, strict=True)), said
    assert not any("is not acceptable" in line for line in said), said


class _Trainer:
    """Trains nothing: ``fit`` raises ``error`` after ``done`` epochs of history."""

    error: Exception = ValueError()
    done = 0

    def __init__(self, net: Any) -> None:
        self.net, self.history = net, [{}] * self.done

    @classmethod
    def from_config(cls, net: Any, *_: Any, **__: Any) -> _Trainer:
        return cls(net)

    def fit(self) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "what"),
    [
        (NonFiniteEmbeddings("embeddings contain NaN or inf"), "the network's embeddings"),
        (FloatingPointError("the loss became nan"), "the training loss"),
    ],
)
def test_a_divergence_with_finite_weights_fails_the_trial(
    tmp_path: Path, monkeypatch, said, error: Exception, what: str
) -> None:
    """The network's weights all finite: the refused embeddings or loss of a diverging trial
    in its third epoch fail the trial (the epoch named), not the study."""
    monkeypatch.setattr(_Trainer, "error", error)
    monkeypatch.setattr(_Trainer, "done", 2)
    monkeypatch.setattr(search_mod, "Trainer", _Trainer)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=3"])
    result = run_study(base, {"optim.lr": {"float": [1e-3, 1e-2]}}, tmp_path, n_trials=1)
    assert (result.finished, result.failed, result.stopped_by) == (0, 10, "failures")
    reasons = {r["reason"] for r in _rows(tmp_path / "trials.csv")}
    assert reasons == {
        f"training diverged: {what} became NaN or inf in epoch 3, so the trial has no validation "
        f"metric (a lower optim.lr trains): {error}"
    }  # the original error's advice kept (reviewer s52_R16)
    assert f"(each failed trial's warning says why, as does {tmp_path / 'trials.csv'})" in (
        result.stopped or ""
    )


def test_another_refusal_with_finite_weights_is_not_called_divergence(
    tmp_path: Path, monkeypatch
) -> None:
    """A plain ValueError of training with every weight finite is a bug's, not the trial's
    values': it still stops the study, as before."""
    monkeypatch.setattr(_Trainer, "error", ValueError("something else"))
    monkeypatch.setattr(search_mod, "Trainer", _Trainer)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=1"])
    with pytest.raises(ValueError, match="something else"):
        run_study(base, {"optim.lr": {"float": [1e-3, 1e-2]}}, tmp_path, n_trials=1)


class _Poisoning(_Trainer):
    """Trains nothing: ``fit`` sets one of the network's weights (or, ``in_statistic``, a batch
    norm's running variance) to ``weight`` (NaN or inf, or leaves them finite at ``None``), then
    validates through the study's own validator when ``validates``, else raises ``error``."""

    weight: float | None = float("nan")
    in_statistic = False
    validates = False

    def __init__(self, net: Any, validate: Any = None) -> None:
        super().__init__(net)
        self.validate = validate

    @classmethod
    def from_config(cls, net: Any, *_: Any, validate: Any = None, **__: Any) -> _Poisoning:
        return cls(net, validate)

    def fit(self) -> Any:
        if self.weight is not None:
            stats = [b for n, b in self.net.named_buffers() if n.endswith("running_var")]
            with torch.no_grad():
                (stats if self.in_statistic else list(self.net.parameters()))[0].view(-1)[0] = (
                    self.weight
                )
        if self.validates:
            self.validate(self.net)
        raise self.error


def _refusing_validator(*_: Any, **__: Any) -> Any:
    def metric(_net: Any) -> float:
        raise ValueError("the metric refused it")

    return metric


@pytest.mark.parametrize("validates", [False, True])
@pytest.mark.parametrize(
    ("weight", "in_statistic"), [(math.nan, False), (math.inf, False), (math.nan, True)]
)
def test_any_refusal_with_a_weight_gone_nan_or_inf_fails_the_trial(
    tmp_path: Path, monkeypatch, validates: bool, weight: float, in_statistic: bool
) -> None:
    """A plain ValueError (neither a NaN loss nor refused embeddings) raised in training or
    validation once a weight is NaN or inf is the trial's divergence: it fails, saying so, and
    the study goes on (reviewer s53_c7 finding 1: no test failed with this branch removed)."""
    monkeypatch.setattr(_Poisoning, "error", ValueError("a plain refusal"))
    monkeypatch.setattr(_Poisoning, "weight", weight)
    monkeypatch.setattr(_Poisoning, "in_statistic", in_statistic)
    monkeypatch.setattr(_Poisoning, "validates", validates)
    monkeypatch.setattr(search_mod, "Trainer", _Poisoning)
    monkeypatch.setattr(search_mod, "make_validator", _refusing_validator)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=3"])
    result = run_study(base, {"optim.lr": {"float": [1e-3, 1e-2]}}, tmp_path, n_trials=1)
    assert (result.finished, result.failed, result.stopped_by) == (0, 10, "failures")
    said = "the metric refused it" if validates else "a plain refusal"
    assert {r["reason"] for r in _rows(tmp_path / "trials.csv")} == {
        "training diverged: the network's weights or statistics became NaN or inf in epoch 1, "
        f"so the trial has no validation metric (a lower optim.lr trains): {said}"
    }


@pytest.mark.parametrize("validates", [False, True])
def test_a_refusal_with_every_weight_finite_stops_the_study_with_its_message(
    tmp_path: Path, monkeypatch, validates: bool
) -> None:
    """The same refusals with every weight finite are a bug's, not divergence: raised as they
    are, in training and in validation, and nothing is said of divergence."""
    monkeypatch.setattr(_Poisoning, "error", ValueError("a plain refusal"))
    monkeypatch.setattr(_Poisoning, "weight", None)
    monkeypatch.setattr(_Poisoning, "validates", validates)
    monkeypatch.setattr(search_mod, "Trainer", _Poisoning)
    monkeypatch.setattr(search_mod, "make_validator", _refusing_validator)
    base = apply_overrides(load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=3"])
    said = "the metric refused it" if validates else "a plain refusal"
    with pytest.raises(ValueError) as err:
        run_study(base, {"optim.lr": {"float": [1e-3, 1e-2]}}, tmp_path, n_trials=1)
    assert str(err.value) == said
