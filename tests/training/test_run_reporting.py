"""What a run reports: the time a resumed run took over all its processes, and the collapse
message's wording."""

from __future__ import annotations

from pathlib import Path

import torch

from siamkit import SiameseNetwork
from siamkit.encoders import create_encoder
from siamkit.losses import TripletMarginLoss
from siamkit.training import PKBatches, Trainer
from siamkit.training.checkpoint import load_checkpoint, save_checkpoint
from siamkit.training.validation import spread_news


def _trainer(epochs: int, checkpoint: Path) -> Trainer:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat_interleave(8)
    x = torch.randn(4, 6, generator=g)[y] + 0.3 * torch.randn(32, 6, generator=g)
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("mlp", in_features=6, hidden=(8,)), 4)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    batches = PKBatches(x, y, p=2, k=4, steps_per_epoch=2)
    return Trainer(net, TripletMarginLoss(0.2), opt, batches, epochs=epochs, checkpoint=checkpoint)


def test_a_resumed_run_adds_the_time_its_checkpoint_carries(tmp_path: Path) -> None:
    ck = tmp_path / "ck.pt"
    first = _trainer(1, ck).fit()
    state = load_checkpoint(ck)
    assert state["seconds"] > 0.0 and first.seconds >= state["seconds"]
    state["seconds"] = 100.0  # as if the interrupted process had trained for 100 s
    save_checkpoint(state, ck)
    resumed = _trainer(2, ck).fit(resume=True)
    assert 100.0 < resumed.seconds < 200.0
    assert load_checkpoint(ck)["seconds"] > 100.0  # and the next checkpoint carries it on


def test_the_collapse_message_mentions_appearance_features_only_when_there_are_some() -> None:
    alone = spread_news(1, 0.001, 0.02, [])
    joined = spread_news(1, 0.001, 0.02, [], appearance=True)
    assert alone is not None and joined is not None
    assert "appearance" not in alone and "hardly tell images apart" in alone
    assert "next to the appearance features they hardly count" in joined
