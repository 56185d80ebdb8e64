"""One tiny digits run through ``Trainer.from_config`` for a ``loss.kind`` (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

import torch

from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SHORT = ["train.epochs=1", "train.steps_per_epoch=3", "train.val_metric=none"]


def tiny_trainer(sets: list[str], out: Path | None = None) -> Trainer:
    """The trainer of the tiny config with ``sets`` applied (``--set`` syntax), not yet fitted."""
    cfg = apply_overrides(load_config(TINY), [*SHORT, "optim.schedule=constant", *sets])
    data = load_run_data(cfg.data)
    torch.manual_seed(0)
    mean, std = data.channel_stats()
    net = build_model(cfg.model, data.input_shape, mean, std)
    return Trainer.from_config(net, cfg, data, out_dir=out, progress=False)


def trains(sets: list[str]) -> Trainer:
    """Fit one short epoch; check the loss is finite and every encoder weight and every
    parameter the loss learns moved."""
    trainer = tiny_trainer(sets)
    net_before = {k: v.detach().clone() for k, v in trainer.net.named_parameters()}
    loss_before = {k: v.detach().clone() for k, v in trainer.objective.named_parameters()}
    result = trainer.fit()
    (row,) = result.history
    assert torch.isfinite(torch.tensor(row["loss"]))
    moved = [k for k, v in trainer.net.named_parameters() if not torch.equal(v, net_before[k])]
    assert any("encoder" in k for k in moved)
    for k, v in trainer.objective.named_parameters():
        assert not torch.equal(v, loss_before[k]), f"the loss's {k} was not optimised"
    return trainer
