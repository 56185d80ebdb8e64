"""An embedding run (``Trainer.from_config``) on two gloo processes against one process whose
batches are the two processes' batches joined: the same weights and losses, also for the
parameters a loss or a learned distance holds (class proxies, an MLP pair head), and with the
encoder frozen for the first epoch (model.freeze_encoder_epochs) or a cross-batch memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from _gloo import run_ranks
from siamkit.encoders import register_encoder
from siamkit.encoders.registry import ENCODERS
from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data
from siamkit.training import from_config as from_config_mod


class _Flat(nn.Module):
    """Flattened pixels -> linear -> ReLU: a network without batch norm."""

    def __init__(self, in_channels: int = 1, pixels: int = 64, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * pixels, width), nn.ReLU())
        self.num_features = width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
# plain SGD (Adam's normalisation would hide a gradient off by a constant factor)
COMMON = [
    "model.encoder=ddp_test_flat", "model.encoder_kwargs={}",
    "optim.optimizer=sgd", "optim.lr=0.2", "optim.schedule=constant", "optim.warmup_fraction=0",
    "train.epochs=2", "train.steps_per_epoch=4", "train.val_metric=none", "train.on_collapse=warn",
    "train.device=cpu",
]  # fmt: skip
RUNS: dict[str, list[str]] = {
    "triplet": [],
    "proxy_anchor": ["loss.kind=proxy_anchor", "loss.mining=null", "optim.loss_lr_factor=1"],
    "mlp_head": ["loss.kind=bce", "model.distance=mlp", "loss.mining=null"],
    # a cross-batch memory: each process's memory takes the gathered batches, in rank order
    "xbm": ["loss.xbm_memory_size=200"],
    # the encoder frozen for the first epoch: DDP stopped at the second step
    "frozen_encoder": ["model.freeze_encoder_epochs=1"],
    # digits-tiny's own convnet, with batch norms: each process normalised its own batch
    "batch_norm": ["model.encoder=convnet", "model.encoder_kwargs={widths: [8, 16]}"],
}
#: largest |difference| measured (float32 sums in another order, 8 SGD steps): 1.9e-6 on the
#: proxies, 1e-6 on the loss, 6e-8 elsewhere. Scaling the loss by the process count instead moved
#: the proxies by 1.2 and the MLP head by 0.05
TOL = 2e-5


def _train(overrides: list[str], fit: bool = True) -> tuple[dict[str, Tensor], list[float]]:
    register_encoder("ddp_test_flat", _Flat, overwrite=True)  # (other tests list the encoders)
    try:
        cfg = apply_overrides(load_config(TINY), COMMON + overrides)
        data = load_run_data(cfg.data)
        torch.manual_seed(0)
        mean, std = data.channel_stats()
        net = build_model(cfg.model, data.input_shape, mean, std)
    finally:
        ENCODERS.unregister("ddp_test_flat")
    trainer = Trainer.from_config(net, cfg, data, progress=False)
    history = trainer.fit().history if fit else []
    state = {f"net.{k}": v.detach().clone() for k, v in net.state_dict().items()}
    if isinstance(trainer.objective, torch.nn.Module):
        state.update(
            {f"loss.{k}": v.detach().clone() for k, v in trainer.objective.state_dict().items()}
        )
    return state, [h["loss"] for h in history]


def _work(rank: int, world: int, out: str) -> None:
    os.environ["WORLD_SIZE"] = str(world)  # setup_distributed joins the group run_ranks made
    torch.save({name: _train(o) for name, o in RUNS.items()}, Path(out) / f"rank{rank}.pt")


class _Joined:
    """One process's P×K batches: the two processes' batches of each step, joined in rank order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("rank"), kwargs.pop("world")
        self.parts = [_ORIGINAL(*args, **kwargs, rank=r, world=2) for r in range(2)]
        self.steps, self.sampler, self.k = (
            self.parts[0].steps,
            self.parts[0].sampler,
            self.parts[0].k,
        )
        self.offline = None  # online mining (build_trainer asks)

    def epoch(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        for batches in zip(*(p.epoch(epoch) for p in self.parts), strict=True):
            yield torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])


_ORIGINAL = from_config_mod.PKBatches


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*collapsed towards one point")  # lr 0.2: not the point here
def test_two_processes_train_as_one_on_the_joined_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ranks(_work, tmp_path)
    got = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    monkeypatch.setattr(from_config_mod, "PKBatches", _Joined)
    differ: dict[str, float] = {}  # every run that differs, and by how much
    for name, overrides in RUNS.items():
        one, one_losses = _train(overrides)
        for r in range(2):
            two, two_losses = got[r][name]
            gaps = [abs(a - b) for a, b in zip(two_losses, one_losses, strict=True)]
            gaps += [float((two[k] - v).abs().max()) for k, v in one.items()]
            if max(gaps) > TOL:
                differ[name] = max(differ.get(name, 0.0), max(gaps))
        start, _ = _train(overrides, fit=False)
        moved = max(float((one[k] - v).abs().max()) for k, v in start.items())
        assert moved > 100 * TOL, name  # the weights did move
    assert differ == {}
