"""A run's threshold fit (experiment.protocol.calibrate) samples CALIBRATION_PAIRS (300,000)
pairs only where a set has more distinct pairs than that (and, narrow, more than two samples'
worth: protocol.calibration_pairs); its rates (rates_at) count every pair. A small
validation set is fitted on every pair it has, so its threshold is the one an exhaustive pass
gives (checked against a naive loop over the pairs), never a sample of more pairs than exist."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import siamkit.evaluation.verification as verification
import siamkit.experiment.protocol as protocol
from siamkit.evaluation.threshold import ThresholdCalibrator

N = 25  # 300 distinct pairs


def _naive(z: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    """Euclidean distances of every pair i < j, one pair at a time in float64."""
    zz = z.double().numpy()
    genuine, impostor = [], []
    for i, j in itertools.combinations(range(len(y)), 2):
        d = float(np.sqrt(((zz[i] - zz[j]) ** 2).sum()))
        (genuine if y[i] == y[j] else impostor).append(d)
    return genuine, impostor


@pytest.mark.parametrize("target", ["eer", "accuracy"])
def test_a_set_of_no_more_pairs_than_the_cap_is_fitted_on_all_of_them(
    target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    net = SimpleNamespace(scoring_distance="euclidean", score_norm=None)
    z = torch.randn(N, 6, generator=torch.Generator().manual_seed(1))
    y = torch.arange(N) % 4
    genuine, impostor = _naive(z, y)
    exhaustive = ThresholdCalibrator(target).fit(np.array(genuine), np.array(impostor)).threshold_
    asked: list[int | None] = []
    real = protocol.pair_distances

    def pair_distances(*args, max_pairs=None, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(max_pairs)
        return real(*args, max_pairs=max_pairs, **kwargs)

    monkeypatch.setattr(protocol, "pair_distances", pair_distances)
    fits = {}
    for cap in (10_000, 300, 99):  # more pairs than exist, exactly as many, 2 x 99 < 300
        monkeypatch.setattr(verification, "CALIBRATION_PAIRS", cap)
        fits[cap] = protocol.calibrate(z, y, net, target, seed=0)  # type: ignore[arg-type]
    assert fits[10_000] == fits[300] == pytest.approx(exhaustive, rel=1e-6, abs=1e-7)
    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", 300)
    rates = protocol.rates_at(z, y, net, fits[300])  # type: ignore[arg-type]
    tar = np.mean(np.asarray(genuine) <= fits[300] + 1e-6)
    far = np.mean(np.asarray(impostor) <= fits[300] + 1e-6)
    assert (rates.tar, rates.far) == pytest.approx((tar, far))
    # every pair while they are no more than the cap; these 6-wide pairs, more than 2 samples'
    # worth, are a sample (protocol.calibration_pairs); rates_at counts every pair
    assert asked == [None, None, 99, None]
