"""The per-epoch validation EER (train.val_metric: eer) scored a seeded sample of 300,000 pairs
of any set with more (VAL_PAIRS), while the run's threshold fit on the same validation images
takes all of them where that costs no more (calibration_pairs). Now the metric takes the same
rule: all 319,600 pairs of 800 images 16 wide (where all pairs took 0.29 of the sample's CPU-s,
hand-timed), and still the seeded sample where the rule samples. Checked against SciPy's
pairwise distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from siamkit.evaluation.pairs import n_pairs, sampled_pair_distances
from siamkit.evaluation.roc import eer
from siamkit.evaluation.verification import CALIBRATION_PAIRS, calibration_pairs
from siamkit.training.validation import validation_eer


def _set(n: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(n, width, generator=torch.Generator().manual_seed(0))
    return torch.nn.functional.normalize(z, dim=1), torch.arange(n) % 20


def test_the_metric_takes_every_pair_where_the_rule_does() -> None:
    z, y = _set(800, 16)
    assert n_pairs(800) > CALIBRATION_PAIRS and calibration_pairs(800, 16, "euclidean") is None
    d = pdist(z.double().numpy())  # every pair i < j, in SciPy's order
    i, j = np.triu_indices(800, k=1)
    same = y.numpy()[i] == y.numpy()[j]
    want = eer(d[same], d[~same]).value
    assert validation_eer(z, y, "euclidean", seed=3) == pytest.approx(want, abs=1e-6)
    # every epoch the same value, whatever the seed: no sample
    assert validation_eer(z, y, "euclidean", seed=3) == validation_eer(z, y, "euclidean", seed=4)


def test_the_metric_keeps_the_seeded_sample_where_the_rule_samples() -> None:
    z, y = _set(1_200, 16)  # 719,400 pairs: more than twice the sample
    assert calibration_pairs(1_200, 16, "euclidean") == CALIBRATION_PAIRS
    pd = sampled_pair_distances(z, y, "euclidean", max_pairs=CALIBRATION_PAIRS, seed=3)
    assert validation_eer(z, y, "euclidean", seed=3) == eer(pd.genuine, pd.impostor).value
