"""Training a SiamFC network on frame pairs with siamkit's shared :class:`~siamkit.training.trainer.Trainer`.

The Trainer is handed its parts: the network, the balanced logistic loss as the objective, AdamW,
a per-step geometric learning-rate decay, and :class:`SiamFCPairBatches` as the batch source.
Each batch packs the exemplar (top-left 127×127) and the search crop into one
``(B, 2, 3, 255, 255)`` tensor; :class:`PairResponse` turns it into response logits
``(B, n*n)`` that the objective compares with the label maps ``(B, n*n)``. Progress bars,
atomic per-epoch checkpoints and exact resume come from the Trainer.

Under ``torchrun --nproc_per_node=N`` the run is data-parallel: ``batch_size`` is the global
batch, each process makes its own ``batch_size / N`` pairs from its own seeded stream (so
``--resume`` stays exact for the same N), :class:`PairResponse` is wrapped in
DistributedDataParallel with batch norms over the global batch
(:mod:`siamkit.training.global_bn`), and the logits and labels of every process are gathered
before the loss, so the loss (and, scaled by N against DDP's average, the gradient) is the
global batch's. Only rank 0 logs and writes the checkpoint; the time limit is rank 0's decision.
With ``amp`` on CUDA the forward pass runs under autocast (a ``GradScaler`` where float16).

>>> net = SiamFCNet("tiny")
>>> result = train_siamfc(net, SequencePairs([seq]), TrainSettings(steps=20))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from siamkit.applications.tracking.loss import balanced_logistic_loss
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.pairs import PairSource, make_batch
from siamkit.clauses import counted
from siamkit.distributed import all_gather_with_grad
from siamkit.training import ddp
from siamkit.training.callbacks import Callback
from siamkit.training.config_guard import ConfigGuard
from siamkit.training.global_bn import UseGlobalBatchNorm
from siamkit.training.step import mixed_precision
from siamkit.training.trainer import Trainer, TrainResult


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (``train:`` in ``configs/siamfc.yaml``)."""

    steps: int = 3000
    batch_size: int = 8
    lr: float = 1e-3
    final_lr: float = 1e-5
    weight_decay: float = 5e-4
    max_shift: float = 48.0
    scale_jitter: float = 0.1
    seed: int = 0
    # steps between checkpoints: the Trainer runs train.steps as blocks of this many (its
    # "epochs", not passes over the data) and checkpoints after each
    checkpoint_every: int = 100
    threads: int = 0  # 0: torch's default
    # > 0: stop after the block of steps that passes this (checkpointed; --resume continues)
    max_minutes: float = 0.0
    device: str = "auto"  # auto: CUDA when available; under torchrun, each process's GPU
    amp: bool = True  # mixed precision on CUDA (nothing on the CPU)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError(
                "train.steps, train.batch_size and train.checkpoint_every must be positive"
            )
        if not (self.lr > 0 and self.final_lr > 0):  # the schedule decays geometrically
            raise ValueError(
                f"train.lr and train.final_lr must be positive, got {self.lr} and {self.final_lr}"
            )


class SiamFCPairBatches:
    """A Trainer batch source: ``checkpoint_every`` packed pair batches per Trainer epoch (a
    block of steps between checkpoints, not a pass over the data; the last block only what is
    left of ``settings.steps``), seeded by ``(seed, epoch)``.

    With ``world`` processes, ``settings.batch_size`` is the global batch: process ``rank``
    makes ``batch_size / world`` pairs a step from the stream ``(seed, epoch, rank, world)``.
    """

    def __init__(
        self,
        source: PairSource,
        net: SiamFCNet,
        settings: TrainSettings,
        rank: int = 0,
        world: int = 1,
        device: torch.device | None = None,
    ) -> None:
        local = ddp.share_of_batch(settings.batch_size, world)
        self.source, self.params, self.s = source, net.params, settings
        self.steps = settings.checkpoint_every  # of a full block; :meth:`steps_in` of each one
        self.rank, self.world, self.local = rank, world, local
        self.device = device if device is not None else torch.device("cpu")

    def steps_in(self, epoch: int) -> int:
        """Steps of block ``epoch`` (0-based): ``checkpoint_every``, the last what remains of
        ``steps``."""
        return max(0, min(self.s.checkpoint_every, self.s.steps - epoch * self.s.checkpoint_every))

    def epoch_name(self, epoch: int) -> str:
        """What the progress of ``epoch`` (0-based) shows: the steps it runs, "steps 1-200 of
        2000" (also for one: "steps 2000-2000 of 2000", never the log's "step 200: loss ..."
        form), as a tracker run counts steps (``train.steps``), not epochs."""
        first = epoch * self.s.checkpoint_every + 1
        return f"steps {first}-{first + self.steps_in(epoch) - 1} of {self.s.steps}"

    def epoch(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The :meth:`steps_in` batches of ``epoch``."""
        steps = self.steps_in(epoch)
        seed = (
            [self.s.seed, epoch] if self.world == 1 else [self.s.seed, epoch, self.rank, self.world]
        )
        rng = np.random.default_rng(seed)
        p = self.params
        for _ in range(steps):
            z, x, labels = make_batch(source=self.source, rng=rng, batch_size=self.local, params=p,
                                      max_shift=self.s.max_shift, scale_jitter=self.s.scale_jitter)  # fmt: skip
            packed = np.zeros((len(x), 2, *x.shape[1:]), dtype=np.float32)  # (B, 2, 3, 255, 255)
            packed[:, 0, :, : p.exemplar_size, : p.exemplar_size] = z
            packed[:, 1] = x
            yield (
                torch.from_numpy(packed).to(self.device),
                torch.from_numpy(labels.reshape(len(labels), -1)).to(self.device),
            )


def gather_pairs(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Every process's logits and label maps ``(B_r, n*n)``, joined in rank order; gradients
    flow to this process's logits."""
    return all_gather_with_grad(logits), all_gather_with_grad(labels)


class PairResponse(nn.Module):
    """The module each training step runs: packed pairs ``(B, 2, 3, S, S)`` -> logits ``(B, n*n)``."""

    def __init__(self, net: SiamFCNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, packed: Tensor) -> Tensor:
        e = self.net.params.exemplar_size
        return self.net(packed[:, 0, :, :e, :e], packed[:, 1]).flatten(1)  # type: ignore[no-any-return]


class TimeLimit(Callback):
    """Stop after the block of ``checkpoint_every`` steps (a Trainer epoch) in which this
    session has run ``settings.max_minutes`` (rank 0's clock decides for every process); the log
    names the step it stopped after, as ``train.steps`` counts them."""

    def __init__(self, settings: TrainSettings, log: Callable[[str], None] | None = None) -> None:
        self.minutes, self.s = settings.max_minutes, settings
        self.log, self.t0 = log, time.monotonic()

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        trainer.stop = False  # a time-limited stop is not the end of the run: resume continues it

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if (
            self.minutes
            and time.monotonic() - self.t0 > 60 * self.minutes
            and row["epoch"] < trainer.epochs
        ):
            trainer.stop = True
        trainer.stop = bool(ddp.broadcast_float(float(trainer.stop), trainer.ctx))
        if trainer.stop and self.log and trainer.ctx.is_main:
            self.log(
                f"stopped after step {steps_done(self.s, row['epoch'])} of {self.s.steps} "
                f"(train.max_minutes={self.minutes}); --resume continues"
            )


class SameProcessCount(Callback):
    """Refuse to resume a checkpoint made by another process count, in the tracker's own words:
    each process draws its share of the global batch from a pair stream seeded by its rank and
    the count (:class:`SiamFCPairBatches`), so another count would not train the pairs the run
    would have. The batch and the schedule (``train.steps``) do not depend on it, so the Trainer's
    refusal of an embedding run (its per-process P×K batches) is not the tracker's reason. A
    checkpoint that did not record the count passes."""

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        saved, world = trainer.resumed_world, trainer.ctx.world
        if not resumed or saved is None or saved == world:
            return
        raise ValueError(
            f"the checkpoint was made by {counted(saved, 'process', 'processes')}, not {world}: "
            "resume with "
            f"{ddp.launch_form(saved)} "
            "(each process draws its share of a tracker run's frame pairs from a stream seeded "
            "by the process count, so another count would not continue the run's pairs)"
        )


class EpochLog(Callback):
    def __init__(self, log: Callable[[str], None], settings: TrainSettings) -> None:
        self.log, self.s = log, settings

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self.log(f"step {steps_done(self.s, row['epoch'])}: loss {row['loss']:.4f}")


def steps_done(settings: TrainSettings, epochs: int) -> int:
    """Optimiser steps after ``epochs`` Trainer epochs (blocks of ``checkpoint_every`` steps),
    never past ``steps``."""
    return min(epochs * settings.checkpoint_every, settings.steps)


def train_siamfc(
    net: SiamFCNet,
    source: PairSource,
    settings: TrainSettings | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    config_guard: ConfigGuard | None = None,
) -> TrainResult:
    """Train ``net`` in place on pairs from ``source`` for exactly ``steps`` optimiser steps, in
    blocks of ``checkpoint_every`` steps, each one of the Trainer's epochs (a checkpoint after
    each; the last one may be shorter; the pairs are drawn afresh, so no block is a pass over
    the data).
    ``config_guard``: the run's config guard
    (:func:`~siamkit.applications.tracking.task.tracker_config_guard`): the checkpoint records
    the config, and a resume with another is refused.

    It trains on ``settings.device`` (this process's GPU under torchrun) and is handed back on
    the device it came on."""
    s = settings or TrainSettings()
    if s.threads:
        torch.set_num_threads(s.threads)
    ctx = ddp.setup_distributed(s.device)
    home = next(net.parameters()).device
    net.to(ctx.device)
    torch.manual_seed(s.seed)
    epochs = math.ceil(s.steps / s.checkpoint_every)
    total = s.steps
    opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    decay = math.log(s.final_lr / s.lr) / max(total - 1, 1)  # geometric, as the paper's schedule
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: math.exp(decay * min(step, total - 1))
    )
    batches = SiamFCPairBatches(source, net, s, ctx.rank, ctx.world, ctx.device)
    callbacks: list[Callback] = [SameProcessCount(), UseGlobalBatchNorm(net)]
    if log and ctx.is_main:  # before TimeLimit: an epoch's loss line, then the stop line
        callbacks.append(EpochLog(log, s))
    callbacks.append(TimeLimit(s, log))
    if config_guard is not None:
        callbacks.append(config_guard)
    amp, scaler = mixed_precision(s.amp, ctx.device)  # as the supervised path (from_config)
    trainer = Trainer(
        net, balanced_logistic_loss, opt, batches, scheduler=scheduler, epochs=epochs,
        callbacks=callbacks, checkpoint=checkpoint, ctx=ctx,
        forward=ddp.data_parallel(PairResponse(net), ctx), amp=amp, scaler=scaler,
        gather=gather_pairs if ctx.enabled else None, loss_scale=float(ctx.world),
        seed=s.seed, progress=progress,
        batch_per_process=False,  # the batch is global; SameProcessCount refuses another count
    )  # fmt: skip
    result = trainer.fit(resume=resume)
    net.eval().to(home)
    return result
