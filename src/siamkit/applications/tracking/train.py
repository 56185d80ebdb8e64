"""Training a SiamFC network on frame pairs with siamkit's shared :class:`~siamkit.training.trainer.Trainer`.

The Trainer is handed its parts: the network, the balanced logistic loss as the objective, AdamW,
a per-step geometric learning-rate decay, and :class:`SiamFCPairBatches` as the batch source.
Each batch packs the exemplar (top-left 127×127) and the search crop into one
``(B, 2, 3, 255, 255)`` tensor; :class:`PairResponse` turns it into response logits
``(B, n*n)`` that the objective compares with the label maps ``(B, n*n)``. Progress bars,
atomic per-epoch checkpoints and exact resume come from the Trainer.

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
from siamkit.training.callbacks import Callback
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
    checkpoint_every: int = 100  # steps per epoch: the Trainer checkpoints after each epoch
    threads: int = 0  # 0: torch's default
    max_minutes: float = (
        0.0  # > 0: stop after the epoch that passes this (checkpointed; --resume continues)
    )

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError(
                "train.steps, train.batch_size and train.checkpoint_every must be positive"
            )


class SiamFCPairBatches:
    """A Trainer batch source: ``steps`` packed pair batches per epoch, seeded by ``(seed, epoch)``."""

    def __init__(self, source: PairSource, net: SiamFCNet, settings: TrainSettings) -> None:
        self.source, self.params, self.s = source, net.params, settings
        self.steps = settings.checkpoint_every

    def epoch(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        rng = np.random.default_rng([self.s.seed, epoch])
        p = self.params
        for _ in range(self.steps):
            z, x, labels = make_batch(source=self.source, rng=rng, batch_size=self.s.batch_size, params=p,
                                      max_shift=self.s.max_shift, scale_jitter=self.s.scale_jitter)  # fmt: skip
            packed = np.zeros((len(x), 2, *x.shape[1:]), dtype=np.float32)  # (B, 2, 3, 255, 255)
            packed[:, 0, :, : p.exemplar_size, : p.exemplar_size] = z
            packed[:, 1] = x
            yield torch.from_numpy(packed), torch.from_numpy(labels.reshape(len(labels), -1))


class PairResponse(nn.Module):
    """The module each training step runs: packed pairs ``(B, 2, 3, S, S)`` -> logits ``(B, n*n)``."""

    def __init__(self, net: SiamFCNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, packed: Tensor) -> Tensor:
        e = self.net.params.exemplar_size
        return self.net(packed[:, 0, :, :e, :e], packed[:, 1]).flatten(1)  # type: ignore[no-any-return]


class TimeLimit(Callback):
    """Stop after the epoch in which this session has run ``minutes``."""

    def __init__(self, minutes: float, log: Callable[[str], None] | None = None) -> None:
        self.minutes, self.log, self.t0 = minutes, log, time.monotonic()

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        trainer.stop = False  # a time-limited stop is not the end of the run: resume continues it

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if (
            self.minutes
            and time.monotonic() - self.t0 > 60 * self.minutes
            and row["epoch"] < trainer.epochs
        ):
            trainer.stop = True
            if self.log:
                self.log(
                    f"stopped after epoch {row['epoch']} (train.max_minutes={self.minutes}); --resume continues"
                )


class EpochLog(Callback):
    def __init__(self, log: Callable[[str], None], steps: int) -> None:
        self.log, self.steps = log, steps

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self.log(f"step {row['epoch'] * self.steps}: loss {row['loss']:.4f}")


def train_siamfc(
    net: SiamFCNet,
    source: PairSource,
    settings: TrainSettings | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``net`` in place on pairs from ``source`` for ``ceil(steps / checkpoint_every)`` epochs."""
    s = settings or TrainSettings()
    if s.threads:
        torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    epochs = math.ceil(s.steps / s.checkpoint_every)
    total = epochs * s.checkpoint_every
    opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    decay = math.log(s.final_lr / s.lr) / max(total - 1, 1)  # geometric, as the paper's schedule
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: math.exp(decay * min(step, total - 1))
    )
    callbacks: list[Callback] = [TimeLimit(s.max_minutes, log)]
    if log:
        callbacks.append(EpochLog(log, s.checkpoint_every))
    trainer = Trainer(
        net, balanced_logistic_loss, opt, SiamFCPairBatches(source, net, s), scheduler=scheduler,
        epochs=epochs, callbacks=callbacks, checkpoint=checkpoint, forward=PairResponse(net),
        seed=s.seed, progress=progress,
    )  # fmt: skip
    result = trainer.fit(resume=resume)
    net.eval()
    return result
