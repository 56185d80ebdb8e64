"""A thin trainer (minGPT-sized): epochs of P×K batches, validation, early stopping, checkpoints.

It only wires the parts together: batches from :mod:`~siamkit.training.batches`, one
:func:`~siamkit.training.step.train_step` per batch, an atomic checkpoint after every epoch
(``--resume`` continues from it and, on CPU, ends with the same weights as a run that was never
stopped), an optional moving average of the weights (``train.ema_decay``), AMP on CUDA and DDP
under torchrun.

>>> trainer = Trainer(net, cfg, data, out_dir="runs/x")  # doctest: +SKIP
>>> result = trainer.fit()  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import itertools
import random
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from siamkit.data.samplers import PKSampler
from siamkit.models import SiameseNetwork
from siamkit.training import ddp
from siamkit.training.augment import make_augmentation
from siamkit.training.batches import compact_triplets, epoch_generator, triplet_batches
from siamkit.training.builders import build_optimizer, build_scheduler
from siamkit.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from siamkit.training.config import RunConfig, resolved_mining
from siamkit.training.config_io import config_from_dict, config_to_dict
from siamkit.training.data import RunData, to_float
from siamkit.training.ema import WeightAverage
from siamkit.training.init_from import freeze_encoder
from siamkit.training.objectives import build_objective
from siamkit.training.step import train_step
from siamkit.training.validation import (
    embed_all,
    embed_parts_all,
    embedding_spread,
    one_shot_accuracy,
    precision_at_1,
    spread_news,
)
from siamkit.types import Triplets

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainResult:
    """What :meth:`Trainer.fit` did: per-epoch ``history`` and the best validation epoch."""

    history: list[dict[str, Any]]
    best_epoch: int | None
    best_metric: float | None
    stopped_early: bool


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Train ``net`` on ``data.train_*`` as ``cfg`` says; validate on ``data.val_*`` each epoch.

    Args:
        net: the network (moved to the run's device).
        cfg: the run config.
        data: from :func:`~siamkit.training.data.load_run_data`.
        out_dir: where ``checkpoint.pt`` goes (``None``: no checkpoints).
        progress: show tqdm bars.
        validate: ``net -> metric`` (higher is better) replacing ``cfg.train.val_metric``.
        log: receives one line per epoch (loss, validation metric); default: printed with the
            progress bars, silent without them.
    """

    def __init__(
        self,
        net: SiameseNetwork,
        cfg: RunConfig,
        data: RunData,
        out_dir: str | Path | None = None,
        progress: bool = True,
        validate: Callable[[SiameseNetwork], float] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg, self.data, self.progress = cfg, data, progress
        self.log = log if log is not None else (tqdm.write if progress else None)
        self.ctx = ddp.setup_distributed(cfg.train.device)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.net = net.to(self.ctx.device)
        self.channels_last = len(data.input_shape) == 3  # faster convolutions on CPU and GPU
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # the loss sees the learned part alone: train and mine on it, join the skip when embedding
        self.learned_only = (
            not cfg.model.appearance_skip_in_loss and net.appearance_skip is not None
        )
        self.model = ddp.wrap_for_training(self.net, self.ctx, self.learned_only)
        # validation, checkpoints' "best" and the final model use the averaged weights when on
        decay = cfg.train.ema_decay
        self.ema = WeightAverage(self.net, decay) if decay is not None else None
        self.objective = build_objective(cfg.loss, self.net.distance).to(self.ctx.device)
        self.optimizer = build_optimizer(cfg.optim, list(self.net.parameters()))
        t, world = cfg.train, self.ctx.world
        n_classes = int(torch.unique(data.train_y).numel())
        self.sampler = PKSampler(
            data.train_y, p=min(t.classes_per_batch, n_classes), k=t.samples_per_class, seed=t.seed,
            drop_last=True, rank=self.ctx.rank, world_size=world,
        )  # fmt: skip
        planned = max(1, len(self.sampler))  # batches per rank and epoch
        self.local_steps = (
            min(planned, max(1, t.steps_per_epoch // world)) if t.steps_per_epoch else planned
        )
        self.scheduler = build_scheduler(cfg.optim, self.optimizer, t.epochs * self.local_steps)
        self.amp = t.amp and self.ctx.device.type == "cuda"
        fp16 = self.amp and not torch.cuda.is_bf16_supported()
        self.scaler = torch.amp.GradScaler("cuda") if fp16 else None
        self.augment = make_augmentation(cfg.data.augmentation)
        # the training images live on the device (uint8 Fashion-MNIST is 25 MB): no per-batch copy
        self.train_x, self.train_y = (
            data.train_x.to(self.ctx.device),
            data.train_y.to(self.ctx.device),
        )
        self.validate = validate or self._default_validate
        self.ckpt_path = Path(out_dir) / CHECKPOINT if out_dir is not None else None
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"metric": None, "epoch": None, "state": None, "bad": 0}
        self.spread0: float | None = None  # learned-embedding spread before training

    # ------------------------------------------------------------------ batches
    def _batch(self, idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = idx.to(self.train_x.device)
        x = to_float(self.train_x[idx])  # (B, C, H, W) in [0, 1], on the run's device
        if self.augment is not None:
            x = self.augment(x, gen)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.train_y[idx]

    def _batches(self, epoch: int) -> Iterator[tuple[Any, ...]]:
        gen = epoch_generator(self.cfg.train.seed, epoch, stream=2)
        if self.cfg.loss.offline_mining:
            yield from self._offline_batches(epoch, gen)
            return
        self.sampler.set_epoch(epoch)  # the plan depends only on (seed, epoch): resumable
        for idx in itertools.islice(self.sampler, self.local_steps):
            yield self._batch(torch.as_tensor(idx), gen)

    def _offline_batches(self, epoch: int, gen: torch.Generator) -> Iterator[tuple[Any, ...]]:
        from siamkit.miners import offline_mine_triplets

        t, lc = self.cfg.train, self.cfg.loss
        pool = (
            torch.randperm(len(self.data.train_y), generator=gen)[: lc.offline_pool].sort().values
        )
        x = self.data.train_x[pool]
        if self.learned_only:
            z = embed_parts_all(self.net, x, self.ctx.device, t.embed_batch_size)["learned"]
        else:
            z = embed_all(self.net, x, self.ctx.device, t.embed_batch_size)
        a, p, n = offline_mine_triplets(
            z, self.data.train_y[pool], resolved_mining(lc) or "all", lc.margin, self.net.distance,
            per_anchor=1, generator=gen,
        )  # fmt: skip
        a, p, n = pool[a], pool[p], pool[n]
        per_batch = max(1, t.classes_per_batch * t.samples_per_class // 3)
        for sel in triplet_batches(
            len(a),
            per_batch,
            self.local_steps * self.ctx.world,
            t.seed,
            epoch,
            self.ctx.rank,
            self.ctx.world,
        ):
            items, local = compact_triplets(a[sel], p[sel], n[sel])
            x, y = self._batch(items, gen)
            yield x, y, Triplets(*(v.to(self.ctx.device) for v in local))

    # ------------------------------------------------------------------ validation
    def _default_validate(self, net: SiameseNetwork) -> float:
        z = embed_all(net, self.data.val_x, self.ctx.device, self.cfg.train.embed_batch_size)
        if self.cfg.train.val_metric == "few_shot":
            return one_shot_accuracy(z, self.data.val_y, net.distance, seed=self.cfg.train.seed)
        return precision_at_1(z, self.data.val_y, net.distance)

    def _measure_spread(self) -> float | None:
        """The learned embedding's :func:`embedding_spread` on up to 1,024 validation (else
        training) images; ``None`` on ranks other than the main one."""
        if not self.ctx.is_main:
            return None
        x = self.data.val_x if len(self.data.val_x) >= 2 else self.data.train_x
        z = embed_parts_all(self.net, x[:1024], self.ctx.device, self.cfg.train.embed_batch_size)
        return embedding_spread(z["learned"])

    def _spread(self, epoch: int) -> float | None:
        """Measure the spread after an epoch and say when it collapses or recovers
        (:func:`~siamkit.training.validation.spread_news`); history.json has every epoch's."""
        spread = self._measure_spread()
        if spread is None or self.spread0 is None:
            return spread
        before = [h["spread"] for h in self.history if h.get("spread") is not None]
        msg = spread_news(epoch, spread, self.spread0, before)
        if msg is not None and self.log is not None:
            self.log(msg)
        elif msg is not None:
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return spread

    def _track(self, epoch: int, metric: float | None) -> bool:
        """Record the metric; True when early stopping says stop."""
        if metric is None:
            return False
        b = self.best
        if b["metric"] is None or metric > b["metric"]:
            b.update(metric=metric, epoch=epoch, bad=0)
            if self.cfg.train.restore_best:
                b["state"] = copy.deepcopy(self.net.state_dict())
            return False
        b["bad"] += 1
        patience = self.cfg.train.early_stopping
        return patience is not None and b["bad"] >= patience

    # ------------------------------------------------------------------ checkpoints
    def _save(self, epoch: int, stopped: bool) -> None:
        if self.ckpt_path is None or not self.ctx.is_main:
            return
        state = {
            "epoch": epoch,
            "stopped": stopped,
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": rng_state(),
            "history": self.history,
            "best": self.best,
            "spread0": self.spread0,
            "config": config_to_dict(self.cfg),
        }
        save_checkpoint(state, self.ckpt_path)

    def _resume(self) -> tuple[int, bool]:
        if self.ckpt_path is None:
            raise ValueError("resume needs an output folder holding checkpoint.pt")
        state = load_checkpoint(self.ckpt_path, map_location=self.ctx.device)
        # through the config's own reader, so keys added since the checkpoint take their defaults
        saved, now = config_to_dict(config_from_dict(state["config"])), config_to_dict(self.cfg)
        if (
            saved["train"]["epochs"] != now["train"]["epochs"]
            and self.cfg.optim.schedule == "onecycle"
        ):
            raise ValueError(
                "train.epochs cannot change on resume with optim.schedule = onecycle (its length is fixed)"
            )
        saved["train"] = {**saved["train"], "epochs": now["train"]["epochs"]}
        if saved != now:
            diff = [f"{s}.{k}" for s in now for k in now[s] if saved.get(s, {}).get(k) != now[s][k]]
            raise ValueError(
                f"the checkpoint was made with a different config ({', '.join(diff)}); resume with the same one"
            )
        self.net.load_state_dict(state["model"])
        self.spread0 = state.get("spread0")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        set_rng_state(state["rng"])
        self.history, self.best = list(state["history"]), dict(state["best"])
        return int(state["epoch"]), bool(state["stopped"])

    # ------------------------------------------------------------------ loop
    def _averaged(self) -> AbstractContextManager[Any]:
        """The weights that are validated and kept: the moving average with ``train.ema_decay``,
        else the network's own."""
        return self.ema.applied_to(self.net) if self.ema is not None else nullcontext()

    def _epoch(self, epoch: int) -> float:
        seed_everything(self.cfg.train.seed * 1000 + epoch)  # dropout etc. independent of resume
        bar = tqdm(
            self._batches(epoch), total=self.local_steps, leave=False, dynamic_ncols=True, mininterval=1.0,
            desc=f"epoch {epoch + 1}/{self.cfg.train.epochs}", disable=not (self.progress and self.ctx.is_main),
        )  # fmt: skip
        losses = []
        # Online losses see the batch gathered from every rank; offline triplets index the local one.
        gather = None if self.cfg.loss.offline_mining else ddp.make_gather(self.ctx)
        scale = float(self.ctx.world) if gather is not None else 1.0
        for batch in bar:
            loss = train_step(
                self.model, batch, self.objective, self.optimizer, scheduler=self.scheduler,
                scaler=self.scaler, amp=self.amp, grad_clip=self.cfg.optim.grad_clip,
                gather=gather, loss_scale=scale,
            )  # fmt: skip
            losses.append(loss)
            if self.ema is not None:
                self.ema.update(self.net)
            bar.set_postfix(loss=f"{loss:.4f}")
        return float(np.mean(losses)) if losses else float("nan")

    def fit(self, resume: bool = False) -> TrainResult:
        """Train for ``cfg.train.epochs`` (or until early stopping); ``resume`` continues a checkpoint."""
        seed_everything(self.cfg.train.seed)
        start, stopped = self._resume() if resume else (0, False)
        if not resume:
            self.spread0 = self._measure_spread()
        for epoch in range(start, self.cfg.train.epochs):
            if stopped:
                break
            t0 = time.perf_counter()
            freeze_encoder(self.net, epoch < self.cfg.model.freeze_encoder_epochs)
            loss = self._epoch(epoch)
            metric = None
            with self._averaged():
                if self.cfg.train.val_metric != "none" and len(self.data.val_y) > 1:
                    metric = self.validate(self.net) if self.ctx.is_main else None
                    metric = ddp.broadcast_float(metric, self.ctx)
                stopped = self._track(epoch + 1, metric)
                spread = self._spread(epoch + 1)
            lr = self.optimizer.param_groups[0]["lr"]
            self.history.append(
                {
                    "epoch": epoch + 1,
                    "loss": loss,
                    "val_metric": metric,
                    "spread": spread,
                    "lr": lr,
                    "seconds": time.perf_counter() - t0,
                }
            )
            self._save(epoch + 1, stopped)
            if self.log is not None and self.ctx.is_main:
                shown = "-" if metric is None else f"{metric:.4f}"
                self.log(
                    f"epoch {epoch + 1}/{self.cfg.train.epochs}: loss {loss:.4f}, val {self.cfg.train.val_metric} {shown}"
                )
        freeze_encoder(self.net, False)
        if self.cfg.train.restore_best and self.best["state"] is not None:
            self.net.load_state_dict(self.best["state"])
        elif self.ema is not None:
            self.ema.copy_to(self.net)
        if self.channels_last:
            self.net.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        return TrainResult(list(self.history), self.best["epoch"], self.best["metric"], stopped)
