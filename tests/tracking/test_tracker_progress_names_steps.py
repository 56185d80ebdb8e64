"""Tracker training's progress named its blocks of ``train.checkpoint_every`` steps "epoch 1/N",
though a tracker run counts steps (``train.steps``) and its log says "step 200: loss ..."; each
block's progress now names the steps it runs, e.g. "steps 1-200 of 2000" (a block of one step
too: "steps 5-5 of 5", so a log's lines that start "step " stay the loss lines)."""

from __future__ import annotations

from typing import Any

import torch

import siamkit.training.trainer as trainer_module
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.pairs import SequencePairs
from siamkit.applications.tracking.train import TrainSettings, train_siamfc
from siamkit.data.synthetic_tracking import linear_square_sequence


def test_each_blocks_progress_names_its_steps(monkeypatch: Any) -> None:
    shown: list[str] = []
    real = trainer_module.progress_bar

    def progress_bar(items: Any, desc: str, *args: Any, **kw: Any) -> Any:
        shown.append(desc)
        return real(items, desc, *args, **kw)

    monkeypatch.setattr(trainer_module, "progress_bar", progress_bar)
    torch.manual_seed(0)
    source = SequencePairs([linear_square_sequence(n_frames=10)], max_gap=5)
    settings = TrainSettings(steps=5, batch_size=2, threads=1, checkpoint_every=2)
    train_siamfc(SiamFCNet("tiny"), source, settings, progress=True)
    assert shown == ["steps 1-2 of 5", "steps 3-4 of 5", "steps 5-5 of 5"]
