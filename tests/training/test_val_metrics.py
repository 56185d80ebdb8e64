"""Validation metrics that keep discriminating (issue 20): few-shot with more ways and queries,
and the verification EER on validation pairs, whose direction (lower is better) every consumer
honours: early stopping, restore_best, the trainer's best epoch and siamkit tune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_curve
from torch import nn

from siamkit.distances import get_distance
from siamkit.training import Trainer, apply_overrides, load_config, load_run_data
from siamkit.training.callbacks import Validation
from siamkit.training.from_config import make_validator
from siamkit.training.validation import one_shot_accuracy, validation_eer

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _clusters(
    n_classes: int, per: int, noise: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n_classes).repeat_interleave(per)
    return torch.randn(n_classes, 8, generator=g)[y] + noise * torch.randn(
        len(y), 8, generator=g
    ), y


def test_validation_eer_matches_scikit_learn() -> None:
    z, y = _clusters(6, 40, noise=0.8)
    got = validation_eer(z, y, get_distance("euclidean"))
    i, j = torch.triu_indices(len(y), len(y), offset=1)
    d = (z[i] - z[j]).norm(dim=1).numpy()
    same = (y[i] == y[j]).numpy()
    fpr, tpr, _ = roc_curve(same, -d)
    fnr = 1 - tpr
    k = int(np.argmin(np.abs(fnr - fpr)))
    assert 0.02 < got < 0.5
    assert got == pytest.approx((fpr[k] + fnr[k]) / 2, abs=0.01)


def test_validation_eer_orders_models_that_p_at_1_cannot() -> None:
    """Two validation classes far apart: P@1 is 1.0 for both, the EER still tells them apart."""
    from siamkit.evaluation import precision_at_1

    dist = get_distance("euclidean")
    y = torch.arange(2).repeat_interleave(100)
    line = torch.linspace(0.0, 1.0, 100)
    # each item's nearest other item is of its class in both; the long classes overlap in range
    tight = torch.cat([2 * line, 12 + 2 * line])[:, None]
    long = torch.cat([10 * line, 12 + 10 * line])[:, None]
    assert precision_at_1(tight, y, dist) == precision_at_1(long, y, dist) == 1.0
    assert validation_eer(tight, y, dist) == 0.0 < validation_eer(long, y, dist)


def test_validation_eer_needs_genuine_pairs() -> None:
    with pytest.raises(ValueError, match="genuine"):
        validation_eer(torch.randn(4, 3), torch.arange(4), get_distance("euclidean"))


def test_few_shot_validation_uses_more_ways_and_queries() -> None:
    z, y = _clusters(30, 20, noise=1.6)
    dist = get_distance("euclidean")
    five = one_shot_accuracy(z, y, dist, n_way=5, episodes=200)
    twenty = one_shot_accuracy(z, y, dist, n_way=20, episodes=200, n_query=15)
    assert 0.05 < twenty < five < 1.0  # harder with more ways, not saturated
    # queries lowered to what the classes allow (19 after the 1 support), not refused
    assert 0.0 < one_shot_accuracy(z, y, dist, n_way=20, episodes=20, n_query=50) < 1.0


class _Holder:
    """What Validation needs of a trainer: ``net`` and ``stop``."""

    def __init__(self) -> None:
        self.net = nn.Linear(2, 2)
        self.stop = False


def _run_validation(
    metrics: list[float], lower: bool, patience: int | None
) -> tuple[dict[str, Any], _Holder, list[float]]:
    seq = iter(metrics)
    cb = Validation(
        lambda net: next(seq), patience=patience, restore_best=True, lower_is_better=lower
    )
    t = _Holder()
    weights = []
    for epoch, _ in enumerate(metrics, start=1):
        with torch.no_grad():
            t.net.weight.fill_(float(epoch))
        weights.append(float(epoch))
        cb.on_epoch_end(t, {"epoch": epoch})  # type: ignore[arg-type]
        if t.stop:
            break
    cb.on_fit_end(t)  # type: ignore[arg-type]
    return cb.best, t, weights


def test_lower_is_better_picks_the_smallest_and_restores_it() -> None:
    best, t, _ = _run_validation([0.3, 0.1, 0.2, 0.25], lower=True, patience=None)
    assert best["epoch"] == 2 and best["metric"] == 0.1
    assert float(t.net.weight[0, 0].detach()) == 2.0  # restore_best: epoch 2's weights
    best, t, _ = _run_validation([0.3, 0.1, 0.2, 0.25], lower=False, patience=None)
    assert best["epoch"] == 1 and float(t.net.weight[0, 0].detach()) == 1.0


def test_early_stopping_counts_epochs_without_a_lower_value() -> None:
    _, t, seen = _run_validation([0.3, 0.2, 0.1, 0.15, 0.12, 0.05], lower=True, patience=2)
    assert t.stop and len(seen) == 5  # 0.15 and 0.12 are not below 0.1: stop after epoch 5
    _, t, seen = _run_validation([0.3, 0.2, 0.1, 0.15, 0.12, 0.05], lower=False, patience=2)
    assert t.stop and len(seen) == 3  # higher is better: 0.2 and 0.1 are worse than 0.3


def test_a_run_validated_by_eer_reports_its_lowest_epoch() -> None:
    cfg = apply_overrides(
        load_config(TINY),
        ["train.val_metric=eer", "train.epochs=3", "train.restore_best=true",
         "data.val_classes=[4, 5]", "train.device=cpu"],
    )  # fmt: skip
    data = load_run_data(cfg.data)
    from siamkit.training import build_model

    mean, std = data.channel_stats()
    net = build_model(cfg.model, data.input_shape, mean, std)
    result = Trainer.from_config(net, cfg, data, progress=False).fit()
    values = [h["val_metric"] for h in result.history]
    assert all(0.0 <= v <= 0.5 for v in values)
    assert result.best_metric == min(values)
    assert result.best_epoch == values.index(min(values)) + 1
    # restore_best ended with the lowest-EER weights: validating again gives that EER
    again = make_validator(cfg, data, torch.device("cpu"))(net)
    assert again == pytest.approx(min(values), abs=1e-4)  # channels-last vs contiguous rounding


def test_tune_minimises_the_eer(tmp_path: Path) -> None:
    from siamkit.tuning import SearchSpace, run_study

    base = apply_overrides(
        load_config(TINY),
        ["data.val_classes=[4, 5]", "train.epochs=1", "train.steps_per_epoch=2",
         "train.val_metric=eer"],
    )  # fmt: skip
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1e-2], "log": True}})
    res = run_study(base, space, tmp_path, n_trials=3, progress=False)
    import csv

    with (tmp_path / "trials.csv").open() as f:
        values = [float(r["value"]) for r in csv.DictReader(f)]
    assert len(values) == 3 and len(set(values)) > 1
    assert res.best_value == min(values)


@pytest.mark.parametrize("metric", ["precision_at_1", "few_shot", "eer"])
def test_a_learned_metric_gone_nan_in_validation_says_what_to_do_in_training(metric) -> None:
    """A learned metric whose weights became NaN at an epoch's last step is refused by the
    validation metric, which said only to check the distance: in training the refusal now says
    to lower optim.lr, and that a --resume keeps the run's optim.lr."""
    from siamkit.training import build_model

    cfg = apply_overrides(
        load_config(TINY), [f"train.val_metric={metric}", "model.distance=mahalanobis"]
    )
    data = load_run_data(cfg.data)
    mean, std = data.channel_stats()
    net = build_model(cfg.model, data.input_shape, mean, std).eval()
    validate = make_validator(cfg, data, torch.device("cpu"))
    assert 0.0 <= validate(net) <= 1.0  # finite weights: no refusal
    with torch.no_grad():
        next(net.distance.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match="NaN") as refused:
        validate(net)
    said = str(refused.value)
    assert "In training, the learned metric's weights became NaN: lower optim.lr" in said
    assert "a --resume continues from the last epoch's checkpoint" in said
