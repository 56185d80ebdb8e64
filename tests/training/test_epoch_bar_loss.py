"""The training bar's loss is the epoch's mean so far: its last line shows the loss the epoch's
line (and history.json) report. It showed the last step's loss, so a log read 'epoch 1/2: 100%
(13/13 steps), 7 s, loss 0.3645' and then 'epoch 1/2: loss 0.3821' for the same epoch."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from siamkit import SiameseNetwork
from siamkit.encoders import create_encoder
from siamkit.losses import TripletMarginLoss
from siamkit.training import PKBatches, Trainer


class _Bar:
    """Records what the trainer shows on its bar."""

    shown: ClassVar[list[list[str]]] = []

    def __init__(self, items: Any, *args: Any, **kwargs: Any) -> None:
        self.items = items
        _Bar.shown.append([])

    def __iter__(self) -> Any:
        return iter(self.items)

    def set_postfix(self, **values: Any) -> None:
        _Bar.shown[-1].append(values["loss"])


def test_the_bar_shows_the_mean_loss_the_epoch_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("siamkit.training.trainer.progress_bar", _Bar)
    _Bar.shown = []
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat_interleave(8)
    x = torch.randn(4, 6, generator=g)[y] + 0.3 * torch.randn(32, 6, generator=g)
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("mlp", in_features=6, hidden=(8,)), 4)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    batches = PKBatches(x, y, p=2, k=4, steps_per_epoch=6)
    result = Trainer(net, TripletMarginLoss(0.5), opt, batches, epochs=2).fit()
    assert len(_Bar.shown) == 2 and all(len(s) > 2 for s in _Bar.shown)
    for shown, row in zip(_Bar.shown, result.history, strict=True):
        assert shown[-1] == f"{row['loss']:.4f}"
        assert len(set(shown)) > 1  # it moves during the epoch
    # the steps' losses differ, so the last step's alone would not have matched
    assert not np.isclose(float(_Bar.shown[0][0]), result.history[0]["loss"])
