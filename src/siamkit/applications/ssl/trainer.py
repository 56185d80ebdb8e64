"""The self-supervised loop: epochs of view pairs, monitors, atomic checkpoints, exact resume.

A compact loop beside :class:`siamkit.training.Trainer` (whose P×K batches need labels), built
from the same pieces: :func:`~siamkit.training.batches.epoch_generator` (an epoch's order and
views depend only on ``(seed, epoch)``), :mod:`~siamkit.training.checkpoint` (atomic files, RNG
state), :mod:`~siamkit.training.builders` (optimiser, per-batch schedule). A run stopped after
any epoch and resumed ends with the same weights as one never stopped (CPU).

>>> trainer = SSLTrainer(model, cfg, data, out_dir="runs/ssl")  # doctest: +SKIP
>>> history = trainer.fit()  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from siamkit.applications.ssl.config import SSLConfig, ssl_config_to_dict
from siamkit.applications.ssl.data import SSLData
from siamkit.applications.ssl.methods import SelfSupervised
from siamkit.applications.ssl.monitor import collapse_std, leave_one_out_knn
from siamkit.applications.ssl.views import ViewMaker
from siamkit.training.batches import epoch_generator
from siamkit.training.builders import build_optimizer, build_scheduler
from siamkit.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from siamkit.training.data import to_float
from siamkit.training.trainer import seed_everything
from siamkit.training.validation import embed_all

CHECKPOINT = "checkpoint.pt"


class CollapseError(RuntimeError):
    """The embedding collapsed to (nearly) one point: the model would be useless."""


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other names as torch reads them."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class SSLTrainer:
    """Train ``model`` (a :class:`SelfSupervised`) on ``data.train_x`` as ``cfg`` says."""

    def __init__(
        self,
        model: SelfSupervised,
        cfg: SSLConfig,
        data: SSLData,
        out_dir: str | Path | None = None,
        progress: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg, self.data, self.progress = cfg, data, progress
        self.log = log if log is not None else (tqdm.write if progress else None)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.device = resolve_device(cfg.train.device)
        self.model = model.to(self.device)
        n, b = data.train_x.shape[0], cfg.train.batch_size
        if n < b:
            raise ValueError(f"train.batch_size = {b} is more than the {n} training images")
        self.steps = (
            n // b if cfg.train.steps_per_epoch is None else min(n // b, cfg.train.steps_per_epoch)
        )
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(cfg.optim, params)
        self.scheduler = build_scheduler(cfg.optim, self.optimizer, cfg.train.epochs * self.steps)
        self.views = ViewMaker(cfg.views)
        self.train_x = data.train_x.to(self.device)
        self.ckpt_path = Path(out_dir) / CHECKPOINT if out_dir is not None else None
        self.history: list[dict[str, Any]] = []

    def _epoch(self, epoch: int) -> tuple[float, float]:
        """One epoch; ``(mean loss, images per second)``."""
        seed_everything(self.cfg.train.seed * 1000 + epoch)
        order = torch.randperm(
            self.train_x.shape[0], generator=epoch_generator(self.cfg.train.seed, epoch, 0)
        )
        gen = epoch_generator(self.cfg.train.seed, epoch, stream=2)
        b, total = self.cfg.train.batch_size, self.cfg.train.epochs * self.steps
        bar = tqdm(
            range(self.steps), leave=False, dynamic_ncols=True, mininterval=1.0,
            desc=f"epoch {epoch + 1}/{self.cfg.train.epochs}", disable=not self.progress,
        )  # fmt: skip
        losses, t0 = [], time.perf_counter()
        self.model.train()
        for step in bar:
            x = to_float(self.train_x[order[step * b : (step + 1) * b].to(self.device)])
            v1, v2 = self.views.pair(x, gen)  # (B, C, H, W) twice
            loss = self.model.loss(v1, v2)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {float(loss)}; lower optim.lr")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.optim.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.model.after_step(epoch * self.steps + step + 1, total)
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        seconds = time.perf_counter() - t0
        return float(np.mean(losses)), self.steps * b / max(seconds, 1e-9)

    def monitor(self) -> dict[str, float | None]:
        """The embedding's :func:`collapse_std` and, with labeled validation images, the kNN
        accuracy (leave-one-out, ``train.knn_k`` neighbours)."""
        t = self.cfg.train
        x = self.data.val_x if self.data.val_x is not None else self.data.train_x
        z = embed_all(self.model.net, x[: t.monitor_images], self.device, t.embed_batch_size)
        out: dict[str, float | None] = {"collapse_std": collapse_std(z), "knn": None}
        if self.data.val_x is not None and self.data.val_y is not None:
            zv = embed_all(self.model.net, self.data.val_x, self.device, t.embed_batch_size)
            out["knn"] = leave_one_out_knn(zv, self.data.val_y, min(t.knn_k, len(zv) - 1))
        return out

    def _save(self, epoch: int) -> None:
        if self.ckpt_path is None:
            return
        state = {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "average": self.model.average.state_dict() if self.model.average is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(),
            "history": self.history,
            "config": ssl_config_to_dict(self.cfg),
        }
        save_checkpoint(state, self.ckpt_path)

    def _resume(self) -> int:
        if self.ckpt_path is None:
            raise ValueError("resume needs an output folder holding checkpoint.pt")
        state = load_checkpoint(self.ckpt_path, map_location=self.device)
        saved, now = dict(state["config"]), ssl_config_to_dict(self.cfg)
        saved["train"] = {**saved["train"], "epochs": now["train"]["epochs"]}
        if saved != now:
            diff = [s for s in now if saved.get(s) != now[s]]
            raise ValueError(
                f"the checkpoint was made with a different config ({', '.join(diff)}); resume with the same one"
            )
        self.model.load_state_dict(state["model"])
        if self.model.average is not None:
            self.model.average.load_state_dict(state["average"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        self.history = list(state["history"])
        return int(state["epoch"])

    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train for ``train.epochs``; raise :class:`CollapseError` (after saving the history and
        a checkpoint) when the embedding collapses."""
        start = self._resume() if resume else 0
        if not resume:
            self.history.append({"epoch": 0, "loss": None, "images_per_s": None, **self.monitor()})
        for epoch in range(start, self.cfg.train.epochs):
            t0 = time.perf_counter()
            loss, speed = self._epoch(epoch)
            seen = self.monitor()
            row: dict[str, Any] = {"epoch": epoch + 1, "loss": loss, "images_per_s": speed, **seen}
            row.update(lr=self.optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - t0)
            self.history.append(row)
            self._save(epoch + 1)
            self._log_epoch(row)
            if float(seen["collapse_std"] or 0.0) < self.cfg.ssl.collapse_std:
                raise CollapseError(
                    f"epoch {epoch + 1}: the embedding collapsed (per-dimension std x sqrt(D) = "
                    f"{row['collapse_std']:.4f}, below ssl.collapse_std = {self.cfg.ssl.collapse_std}); "
                    "no model saved. Try a lower optim.lr, stronger views or method: simclr / vicreg"
                )
        return list(self.history)

    def _log_epoch(self, row: dict[str, Any]) -> None:
        if self.log is None:
            return
        knn = "-" if row["knn"] is None else f"{row['knn']:.4f}"
        self.log(
            f"epoch {row['epoch']}/{self.cfg.train.epochs}: loss {row['loss']:.4f}, "
            f"kNN@{self.cfg.train.knn_k} {knn}, collapse std {row['collapse_std']:.3f}, "
            f"{row['images_per_s']:.0f} images/s"
        )
