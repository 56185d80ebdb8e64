"""The epoch's loss of a two-process run that mines offline (no gather: each process's loss is
its own batch's) is the mean of the processes' losses, which DistributedDataParallel trains, not
the first process's alone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from _gloo import run_ranks
from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
OVERRIDES = [
    "loss.offline_mining=true", "train.epochs=2", "train.steps_per_epoch=4",
    "train.val_metric=none", "train.on_collapse=warn", "train.device=cpu",
]  # fmt: skip


def _work(rank: int, world: int, out: str) -> None:
    os.environ["WORLD_SIZE"] = str(world)  # setup_distributed joins the group run_ranks made
    cfg = apply_overrides(load_config(TINY), OVERRIDES)
    data = load_run_data(cfg.data)
    torch.manual_seed(0)
    mean, std = data.channel_stats()
    net = build_model(cfg.model, data.input_shape, mean, std)
    trainer = Trainer.from_config(net, cfg, data, progress=False)
    objective, seen = trainer.objective, []

    def recorded(*args: Any) -> torch.Tensor:
        loss = objective(*args)
        seen.append(float(loss.detach()))
        return loss

    trainer.objective = recorded
    history = trainer.fit().history
    torch.save({"history": [h["loss"] for h in history], "seen": seen}, Path(out) / f"{rank}.pt")


@pytest.mark.slow
def test_the_epoch_loss_of_an_offline_run_is_every_process_s(tmp_path: Path) -> None:
    run_ranks(_work, tmp_path)
    got = [torch.load(tmp_path / f"{r}.pt") for r in range(2)]
    steps = len(got[0]["seen"]) // 2  # per epoch
    assert steps >= 1 and len(got[1]["seen"]) == 2 * steps
    assert got[0]["seen"] != got[1]["seen"]  # the processes' own batches: their own losses
    for rank in range(2):
        for epoch, loss in enumerate(got[rank]["history"]):
            each = [got[r]["seen"][epoch * steps : (epoch + 1) * steps] for r in range(2)]
            want = sum(sum(s) for s in each) / (2 * steps)
            assert loss == pytest.approx(want, rel=1e-6, abs=1e-9), (rank, epoch)
