"""The report's failure panels labelled a pair 'accepted' or 'rejected' by a strict ``distance <=
threshold``, while the model accepts a pair within float32 rounding above it
(siamkit.decision.accepts): the closest impostor pair 0.5e-5 over the model's threshold, which
``siamkit verify`` calls the same (a false accept), was shown as rejected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.encoders import create_encoder
from siamkit.evaluation.failures import failure_pairs
from siamkit.evaluation.plots.analysis import plot_failure_pairs
from siamkit.index.verify import verify_embedded
from siamkit.models import SiameseNetwork


@pytest.mark.parametrize("over", [0.5e-5, 1e-4])
def test_each_panel_says_the_models_verdict(over: float) -> None:
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4]), 4).eval()
    z = torch.randn(9, 4, generator=torch.Generator().manual_seed(1))
    y = np.arange(9) % 3
    pairs = failure_pairs(z, y, n=3).closest_impostors
    t = pairs[0].distance - over  # the closest impostor `over` beyond the threshold
    fig = plot_failure_pairs(pairs, np.zeros((9, 1, 4, 4), np.float32), y, list("abc"), "t", t)
    shown = [ax.get_title().split("\n")[1] for ax in fig.axes if ax.get_title()]
    # the reference: the model's own verdict on each pair, as siamkit verify gives it
    said = [verify_embedded(net, z[[p.i]].numpy(), z[[p.j]].numpy(), t).same for p in pairs]
    assert said[0] == (over < 1e-5)
    assert shown == [{True: "accepted", False: "rejected"}[s] for s in said]
