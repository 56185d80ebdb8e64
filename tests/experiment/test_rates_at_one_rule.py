"""metrics.json's calibration rates (experiment.protocol.rates_at, as a run and ``siamkit
evaluate`` report them) counted a pair accepted only when its distance was at most the threshold,
while the model accepts one within float32 rounding above it (siamkit.decision.accepts): a genuine
pair 0.5e-5 over the threshold, which ``siamkit verify`` calls the same, was counted rejected."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from siamkit.encoders import create_encoder
from siamkit.experiment import rates_at
from siamkit.index.verify import verify_embedded
from siamkit.models import SiameseNetwork


@pytest.mark.parametrize("over", [0.5e-5, 0.0, -0.5e-5, 1e-4])
def test_rates_count_the_pairs_the_model_accepts(over: float) -> None:
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4]), 4).eval()
    z = torch.randn(12, 4, generator=torch.Generator().manual_seed(3))
    y = torch.arange(12) % 3
    pairs = list(itertools.combinations(range(12), 2))
    d = {p: float(net.scoring_distance.pairwise(z[[p[0]]], z[[p[1]]])[0]) for p in pairs}
    genuine = [p for p in pairs if y[p[0]] == y[p[1]]]
    t = sorted(d[p] for p in genuine)[len(genuine) // 2] - over  # a genuine pair `over` beyond
    # the reference: the model's own verdict on each pair, as siamkit verify gives it
    said = {p: verify_embedded(net, z[[p[0]]].numpy(), z[[p[1]]].numpy(), t).same for p in pairs}
    tar = np.mean([said[p] for p in genuine])
    far = np.mean([said[p] for p in pairs if p not in genuine])
    r = rates_at(z, y, net, t)
    assert (r.tar, r.far) == (pytest.approx(tar), pytest.approx(far))
    assert r.balanced_accuracy == pytest.approx((tar + 1 - far) / 2)
