"""A text run's loop: its batches, drawn once (:class:`EpochBatches`), the configured loss on
each (:func:`batch_loss`) and the checkpoint it saves as it goes."""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from itertools import accumulate, chain
from pathlib import Path
from typing import Any

import torch

from siamkit.applications.text.losses import (
    angle_loss,
    cosent_loss,
    cosine_mse_loss,
    matryoshka_loss,
    mnrl_loss,
    online_contrastive_loss,
    text_contrastive_loss,
    text_triplet_loss,
)
from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.pairs import NoDuplicatesBatchSampler, TextExamples
from siamkit.applications.text.train_config import TextTrainConfig
from siamkit.applications.text.train_report import epoch_line, epoch_row
from siamkit.applications.text.train_resume import START
from siamkit.progress import Progress
from siamkit.training.checkpoint import rng_state, save_checkpoint
from siamkit.training.step import autocast_for, backward_and_step


def batch_loss(model: TextSiameseNetwork, cfg: TextTrainConfig, ex: TextExamples) -> torch.Tensor:
    """The configured loss on one batch of examples (each distinct text embedded once per tower)."""
    cols = ex.texts
    if model.share_weights:
        uniq = sorted({t for c in cols for t in c})
        pos = {t: k for k, t in enumerate(uniq)}
        z = model.embed(uniq)  # (U, D)
        zs = [z[torch.tensor([pos[t] for t in c])] for c in cols]
    else:
        zs = [
            model.embed(list(c), role="query" if k == 0 else "document") for k, c in enumerate(cols)
        ]
    # the loss in float32 outside autocast, as the image path: under bf16 autocast the scaled
    # cosine logits (scale 20) would come out in steps of 0.125
    zs = [z.float() for z in zs]
    with torch.autocast(zs[0].device.type, enabled=False):
        return _loss(cfg, ex, zs)


def _loss(cfg: TextTrainConfig, ex: TextExamples, zs: list[torch.Tensor]) -> torch.Tensor:
    sizes = cfg.loss.matryoshka
    if not sizes:
        return _base_loss(cfg, ex, zs)
    dims, weights = [d for d, _ in sizes], [w for _, w in sizes]
    return matryoshka_loss(zs, lambda cut: _base_loss(cfg, ex, cut), dims, weights)


def _base_loss(cfg: TextTrainConfig, ex: TextExamples, zs: list[torch.Tensor]) -> torch.Tensor:
    name, scale, margin = cfg.loss.kind, cfg.loss.scale, cfg.loss.margin
    if name == "cosent":
        return cosent_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device), scale)
    if name == "angle":
        return angle_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device), scale)
    if name == "cosine_mse":
        return cosine_mse_loss(zs[0], zs[1], torch.tensor(ex.targets, device=zs[0].device))
    if name == "contrastive":
        same = torch.tensor(ex.targets, device=zs[0].device)
        return text_contrastive_loss(zs[0], zs[1], same, margin)
    if name == "online_contrastive":
        same = torch.tensor(ex.targets, device=zs[0].device)
        return online_contrastive_loss(zs[0], zs[1], same, margin)
    if name == "triplet":
        return text_triplet_loss(zs[0], zs[1], zs[2], margin)
    return mnrl_loss(zs[0], zs[1], scale, zs[2] if len(zs) > 2 else None)


def _batches(ex: TextExamples, cfg: TextTrainConfig, epoch: int) -> list[list[int]]:
    seed = cfg.train.seed * 1000 + epoch
    if cfg.loss.kind == "mnrl":
        rows = list(zip(*ex.texts))
        sampler = NoDuplicatesBatchSampler(rows, cfg.train.batch_size, seed=seed)
        return [b for b in sampler if len(b) > 1]
    order = list(range(len(ex)))
    random.Random(seed).shuffle(order)
    b = cfg.train.batch_size
    return [order[s : s + b] for s in range(0, len(order), b)]


class EpochBatches:
    """Every epoch's batches (:func:`_batches`), drawn once before training: the steps the run
    takes, which the learning-rate schedule, ``train.steps``, the progress bar and a resume's
    position count, and the batches the loop trains on (not drawn again).

    Under loss mnrl the epochs differ in length: a batch never holds a text twice, and what each
    epoch's seeded order leaves over makes batches of one, which are dropped, so an epoch can
    make 5 batches and the next 6. Counting the first epoch ``train.epochs`` times ended the
    schedule early (the last steps ran at a learning rate of 0) or late. Each epoch's indices are
    kept in one flat array (8 bytes an example), so that holding them all costs little.
    """

    def __init__(self, ex: TextExamples, cfg: TextTrainConfig) -> None:
        self._flat: list[array[int]] = []  # per epoch: its batches' example indices in turn
        self._ends: list[array[int]] = []  # per epoch: where each batch ends in its flat array
        for epoch in range(cfg.train.epochs):
            batches = _batches(ex, cfg, epoch)
            self._flat.append(array("q", chain.from_iterable(batches)))
            self._ends.append(array("q", accumulate(map(len, batches))))

    @property
    def counts(self) -> list[int]:
        """Each epoch's number of batches, i.e. of steps."""
        return [len(ends) for ends in self._ends]

    def batch(self, epoch: int, step: int) -> list[int]:
        """The example indices of batch ``step`` (from 0) of ``epoch`` (from 0)."""
        ends = self._ends[epoch]
        return self._flat[epoch][ends[step - 1] if step else 0 : ends[step]].tolist()


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """The shared atomic :func:`~siamkit.training.checkpoint.save_checkpoint` (tests interrupt
    the loop here)."""
    save_checkpoint(state, path)


def _loop(
    model: TextSiameseNetwork,
    cfg: TextTrainConfig,
    ex: TextExamples,
    plan: EpochBatches,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    start: tuple[int, int],
    ckpt_path: Path,
    amp: bool,
    progress: bool,
    record: dict[str, Any] | None = None,
    rebuild: dict[str, Any] | None = None,
    *,
    scaler: torch.amp.GradScaler | None = None,
    history: list[dict[str, Any]] | None = None,
    epoch_losses: list[float] | None = None,
    val: Callable[[], dict[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
    recorded: dict[str, Any] | None = None,
) -> list[float]:
    """Train on ``plan``'s batches of ``ex`` from ``start`` (epoch, step) to the end,
    checkpointing as configured; ``amp`` and ``scaler`` as
    :func:`~siamkit.training.step.mixed_precision` gives them (a ``scaler`` for float16
    autocast, where the GPU has no native bfloat16). Returns this session's step losses.

    ``history`` (the checkpoint's, extended in place) gets one row per epoch ended
    (:func:`~siamkit.applications.text.train_report.epoch_row`): the mean of its step losses
    (``epoch_losses``: those of the epoch ``start`` is in, taken before it) and ``val()``'s
    figures (validation after the epoch; None: none), and ``log`` gets its line; the checkpoint
    keeps both, so that a resumed run's history is an uninterrupted one's. ``recorded``: more that
    the checkpoint keeps for a resume to check (the data files'
    :func:`~siamkit.applications.text.train_resume.data_hashes`, how validation was drawn)."""
    losses: list[float] = []
    history = [] if history is None else history
    this_epoch = list(epoch_losses or [])
    device = next(model.parameters()).device
    clip = cfg.train.max_grad_norm if cfg.train.max_grad_norm > 0 else None  # 0: off
    every = cfg.train.checkpoint_every
    counts = plan.counts  # each epoch's steps, which under loss mnrl may differ
    initial = sum(counts[: start[0]]) + start[1]
    # as the image trainer's: a bar on a terminal, a few lines in a log (the steps left), closed
    # however the loop ends, so that a Ctrl-C's message is not followed by the bar drawn again
    total = sum(counts) - initial
    bar = Progress(total, "fine-tuning", "steps") if progress else None
    try:
        for epoch in range(start[0], cfg.train.epochs):
            if epoch != start[0]:
                this_epoch = []
            for step in range(start[1] if epoch == start[0] else 0, counts[epoch]):
                model.train()
                with autocast_for(device, amp):
                    loss = batch_loss(model, cfg, ex.subset(plan.batch(epoch, step)))
                opt.zero_grad(set_to_none=True)
                backward_and_step(loss, opt, model.parameters(), scaler, clip)
                sched.step()
                losses.append(float(loss.detach()))
                this_epoch.append(losses[-1])
                if bar is not None:  # (a line written now shows this loss)
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
                    bar.update(1)
                done = step + 1 == counts[epoch]
                if done:  # validated before the checkpoint, which keeps the row
                    row = epoch_row(epoch + 1, this_epoch, None if val is None else val())
                    history.append(row)
                    this_epoch = []
                    if log is not None:
                        line = epoch_line(row, cfg.train.epochs)
                        if bar is not None:  # the bar cleared and drawn again after it
                            bar.write(line, log)
                        else:
                            log(line)
                if done or (every and (step + 1) % every == 0):
                    nxt = (epoch + 1, 0) if done else (epoch, step + 1)
                    _save_checkpoint(
                        ckpt_path,
                        {
                            "model": model.state_dict(),
                            "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(),
                            "epoch": nxt[0],
                            "step": nxt[1],
                            "rng": rng_state(),
                            "scaler": None if scaler is None else scaler.state_dict(),
                            "last_loss": losses[-1],
                            "config": record,  # model.init_from: what a resume checks
                            START: rebuild,  # what rebuilds the model without the start folder
                            **(recorded or {}),  # the data files' hashes, the split's kind
                            "history": list(history),
                            "epoch_losses": list(this_epoch),  # the epoch's steps so far
                        },
                    )
    finally:
        if bar is not None:
            bar.close()
    return losses
