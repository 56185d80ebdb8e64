"""Training a SiamFC network on frame pairs: a compact loop with progress, checkpoints and resume.

siamkit's Trainer is built around embedding batches and labels; this loop reuses its atomic
checkpoints (:mod:`siamkit.training.checkpoint`) and adds the pair sampling SiamFC needs.

>>> net = SiamFCNet("tiny")
>>> losses = train_siamfc(net, SequencePairs([seq]), steps=20)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from siamkit.applications.tracking.loss import balanced_logistic_loss
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.pairs import PairSource, make_batch
from siamkit.training.checkpoint import load_checkpoint, save_checkpoint


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
    checkpoint_every: int = 100
    threads: int = 0  # 0: torch's default
    max_minutes: float = 0.0  # > 0: stop (checkpoint saved) once this session has run this long

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("train.steps and train.batch_size must be positive")


def _lr_at(step: int, s: TrainSettings) -> float:
    """Geometric decay from ``lr`` to ``final_lr`` over the run (as the paper's schedule)."""
    return s.lr * math.exp(math.log(s.final_lr / s.lr) * step / max(s.steps - 1, 1))


def _state(
    net: SiamFCNet,
    opt: torch.optim.Optimizer,
    step: int,
    rng: np.random.Generator,
    losses: list[float],
) -> dict[str, Any]:
    return {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "epoch": step,  # load_checkpoint's marker of a training checkpoint
        "rng": rng.bit_generator.state["state"],
        "losses": torch.tensor(losses),
    }


def train_siamfc(
    net: SiamFCNet,
    source: PairSource,
    settings: TrainSettings | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[float]:
    """Train ``net`` in place on pairs from ``source``; returns the loss of every step.

    With ``checkpoint``, the run state is saved there every ``checkpoint_every`` steps and at the
    end; ``resume`` continues from it exactly (weights, optimiser, step, pair sampler).
    """
    s = settings or TrainSettings()
    if s.threads:
        torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    losses: list[float] = []
    start = 0
    if resume:
        if checkpoint is None:
            raise ValueError("resume needs a checkpoint path")
        state = load_checkpoint(checkpoint)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, losses = int(state["step"]), [float(v) for v in state["losses"]]
        st = dict(rng.bit_generator.state)
        st["state"] = {k: int(v) for k, v in state["rng"].items()}
        rng.bit_generator.state = st
        if log:
            log(f"resumed from {checkpoint} at step {start}")
    net.train()
    t_start = time.monotonic()
    bar = tqdm(
        range(start, s.steps), initial=start, total=s.steps, disable=not progress, desc="siamfc"
    )
    for step in bar:
        z, x, labels = make_batch(
            source, rng, s.batch_size, net.params, s.max_shift, s.scale_jitter
        )
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, s)
        loss = balanced_logistic_loss(
            net(torch.from_numpy(z), torch.from_numpy(x)), torch.from_numpy(labels)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        done = step + 1
        if checkpoint is not None and (done % s.checkpoint_every == 0 or done == s.steps):
            save_checkpoint(_state(net, opt, done, rng, losses), checkpoint)
        if log and done % max(s.steps // 10, 1) == 0:
            log(f"step {done}/{s.steps} loss {np.mean(losses[-50:]):.4f}")
        if s.max_minutes and time.monotonic() - t_start > 60 * s.max_minutes and done < s.steps:
            if checkpoint is not None:
                save_checkpoint(_state(net, opt, done, rng, losses), checkpoint)
            if log:
                log(
                    f"stopped at step {done} after train.max_minutes={s.max_minutes}; --resume continues"
                )
            break
    net.eval()
    return losses
