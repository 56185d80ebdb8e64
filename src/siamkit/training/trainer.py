"""A trainer you can hold in your head: epochs of steps over a batch source, plus callbacks.

It is handed everything: the network, an objective (``objective(z, labels, indices=None)``,
see :mod:`siamkit.losses`), an optimizer and per-step scheduler, and a batch source
(``steps``, ``epoch(e) -> batches``; :class:`~siamkit.training.batch_source.PKBatches`). Each
batch is one :func:`~siamkit.training.step.train_step`. Everything else is a callback
(:mod:`siamkit.training.callbacks`): the weight average, validation and early stopping, the
collapse monitor, the epoch log. With ``checkpoint`` set, the state (and every callback's
``state_dict``) is written atomically after each epoch, and ``fit(resume=True)`` continues it;
on CPU a resumed run ends with the same weights as one that was never stopped.

:meth:`Trainer.from_config` builds all of it from a :class:`~siamkit.training.config.RunConfig`
(:mod:`siamkit.training.from_config`), AMP on CUDA and DDP under torchrun included.

>>> trainer = Trainer(net, objective, optimizer, PKBatches(x, y, p=6, k=8), epochs=3)  # doctest: +SKIP
>>> trainer = Trainer.from_config(net, cfg, data, out_dir="runs/x")  # doctest: +SKIP
>>> result = trainer.fit()  # doctest: +SKIP
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from siamkit.progress import progress_bar
from siamkit.training.batch_source import BatchSource, epoch_name, epoch_steps
from siamkit.training.callbacks import Callback
from siamkit.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from siamkit.training.ddp import DistContext, check_resumed_world
from siamkit.training.step import Gather, train_step

if TYPE_CHECKING:
    from siamkit.training.config import RunConfig
    from siamkit.training.data import RunData

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainResult:
    """What :meth:`Trainer.fit` did: per-epoch ``history``, the best validation epoch, and the
    ``seconds`` the run took, over every process that resumed it; ``resumed_at``: the epochs
    the resumed checkpoint had trained (``None``: not resumed), ``epochs_run``: the epochs this
    call trained (0 when a resumed run had finished or stopped early)."""

    history: list[dict[str, Any]]
    best_epoch: int | None
    best_metric: float | None
    stopped_early: bool
    seconds: float = 0.0
    resumed_at: int | None = None
    epochs_run: int = 0


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def deterministic_on_cpu(device: torch.device) -> Iterator[None]:
    """PyTorch's deterministic kernels while training on ``device`` if it is the CPU (the
    setting before is restored after). Without them the backward pass of a gather by index
    (``z[i]``: pair losses, a learned pair head) sums in a different order from run to run with
    more than one thread, so a seeded run, or a resumed one, would not give the same weights.
    On CUDA nothing changes (deterministic CUDA kernels cost speed and need
    ``CUBLAS_WORKSPACE_CONFIG``)."""
    if device.type != "cpu":
        yield
        return
    was = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn_only)


class Trainer:
    """Train ``net`` with ``objective`` on ``batches`` for ``epochs``.

    Args:
        net: the network (its ``embed`` is trained; callbacks see it as ``trainer.net``).
        objective: ``objective(z (B, D), labels (B,), indices=None) -> scalar``.
        optimizer: over the network's (and the objective's) parameters.
        batches: a :class:`~siamkit.training.batch_source.BatchSource`.
        scheduler: stepped after every optimiser step, or ``None``.
        epochs: passes over ``batches``.
        callbacks: run in order at each hook (see :mod:`siamkit.training.callbacks`).
        checkpoint: file written after each epoch (``None``: none).
        ctx: this process's rank and device (``None``: one process on the network's device).
        forward: the module each step embeds with (e.g. DDP's wrapper); default ``net``.
        amp, scaler, grad_clip, gather, loss_scale: passed to each :func:`train_step`.
        seed: seeds the run, and each epoch with ``seed * 1000 + epoch`` (resumable dropout).
        progress: show each epoch's progress (a tqdm bar on a terminal, a few lines in a log).
        batch_per_process: each process draws a whole batch of its own (P×K batches), so the
            process count sets the batch, the epoch's steps and the schedule's length, and a
            resume with another count is refused; ``False`` where the batches are a global
            batch's equal shares (self-supervised runs), which another count continues.
    """

    def __init__(
        self,
        net: nn.Module,
        objective: Callable[..., Tensor],
        optimizer: torch.optim.Optimizer,
        batches: BatchSource,
        *,
        scheduler: Any | None = None,
        epochs: int = 1,
        callbacks: Sequence[Callback] = (),
        checkpoint: str | Path | None = None,
        ctx: DistContext | None = None,
        forward: nn.Module | None = None,
        amp: bool = False,
        scaler: torch.amp.GradScaler | None = None,
        grad_clip: float | None = None,
        gather: Gather | None = None,
        loss_scale: float = 1.0,
        seed: int = 0,
        progress: bool = False,
        batch_per_process: bool = True,
    ) -> None:
        if not callable(objective) or not hasattr(batches, "epoch"):
            raise TypeError(
                "Trainer(net, objective, optimizer, batches, ...) is handed its parts; to build "
                "them from a run config use Trainer.from_config(net, cfg, data, ...)"
            )
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch optimizer over the network's parameters, e.g. "
                f"torch.optim.Adam(net.parameters()), got {type(optimizer).__name__}"
            )
        trained = {id(p) for m in (net, forward or net) for p in m.parameters()}
        if not any(id(p) in trained for g in optimizer.param_groups for p in g["params"]):
            raise ValueError(
                "the optimizer holds none of the network's parameters, so training would change "
                "nothing; build it from this network's, e.g. torch.optim.Adam(net.parameters())"
            )
        self.net, self.objective, self.optimizer, self.batches = net, objective, optimizer, batches
        self.scheduler, self.epochs, self.callbacks = scheduler, epochs, list(callbacks)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        device = next(iter(net.parameters())).device
        self.ctx = ctx if ctx is not None else DistContext(0, 1, device)
        self.forward = forward if forward is not None else net
        self.step_kwargs: dict[str, Any] = {
            "scheduler": scheduler, "scaler": scaler, "amp": amp, "grad_clip": grad_clip,
            "gather": gather, "loss_scale": loss_scale,
        }  # fmt: skip
        self.seed, self.progress, self.batch_per_process = seed, progress, batch_per_process
        self.resumed_world: int | None = None  # the process count of the checkpoint resumed
        self.history: list[dict[str, Any]] = []
        self.stop = False  # a callback sets it to end the run after this epoch
        self.seconds_before = 0.0  # what earlier processes spent on the run (from the checkpoint)
        self._started = time.perf_counter()

    @classmethod
    def from_config(
        cls,
        net: nn.Module,
        cfg: RunConfig,
        data: RunData,
        out_dir: str | Path | None = None,
        progress: bool = True,
        validate: Callable[[nn.Module], float] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> Trainer:
        """Everything ``cfg`` says, built (:func:`siamkit.training.from_config.build_trainer`)."""
        from siamkit.training.from_config import build_trainer

        return build_trainer(net, cfg, data, out_dir, progress, validate, log)

    def _epoch(self, epoch: int) -> float:
        seed_everything(self.seed * 1000 + epoch)  # dropout etc. independent of resume
        bar = progress_bar(  # tqdm on a terminal, a few plain lines in a log
            self.batches.epoch(epoch), epoch_name(self.batches, epoch, self.epochs),
            epoch_steps(self.batches, epoch), "steps", enabled=self.progress and self.ctx.is_main,
        )  # fmt: skip
        losses, total = [], 0.0
        for batch in bar:
            loss = train_step(
                self.forward, batch, self.objective, self.optimizer, **self.step_kwargs
            )
            if self.ctx.enabled and self.step_kwargs["gather"] is None:
                loss = self._mean_over_processes(loss)
            losses.append(loss)
            for cb in self.callbacks:
                cb.on_step_end(self)
            # the epoch's mean so far, so its last line shows the loss the epoch's line reports
            total += loss
            bar.set_postfix(loss=f"{total / len(losses):.4f}")
        return float(np.mean(losses)) if losses else float("nan")

    def _mean_over_processes(self, loss: float) -> float:
        """The mean of every process's ``loss``: without a gather (offline mining) each process's
        loss is its own batch's, and DistributedDataParallel trains their mean; the epoch's line
        reported the first process's alone."""
        t = torch.tensor([loss], dtype=torch.float64, device=self.ctx.device)
        dist.all_reduce(t)
        return float(t.item()) / self.ctx.world

    def seconds(self) -> float:
        """The run's time so far: this process's since ``fit(started=...)``, plus the earlier
        processes' that the resumed checkpoint carried."""
        return self.seconds_before + (time.perf_counter() - self._started)

    def _save(self, epoch: int) -> None:
        if self.checkpoint is None or not self.ctx.is_main:
            return
        scheduler, scaler = self.step_kwargs["scheduler"], self.step_kwargs["scaler"]
        state = {
            "epoch": epoch, "stopped": self.stop, "seconds": self.seconds(),
            "world": self.ctx.world,  # a resume needs the same process count
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng_state(), "history": self.history,
            # a loss with learned state (class proxies) resumes with it
            "objective": self.objective.state_dict() if isinstance(self.objective, nn.Module) else None,
        }  # fmt: skip
        state.update({cb.key: cb.state_dict() for cb in self.callbacks if cb.key is not None})
        save_checkpoint(state, self.checkpoint)

    def _resume(self) -> int:
        if self.checkpoint is None:
            raise ValueError("resume needs an output folder holding checkpoint.pt")
        state = load_checkpoint(self.checkpoint, map_location=self.ctx.device)
        saved_world = state.get("world")
        if self.batch_per_process:
            check_resumed_world(saved_world, self.ctx.world)
        self.resumed_world = int(saved_world) if saved_world is not None else None
        for cb in self.callbacks:  # the config guard first refuses a different run
            if cb.key is not None and state.get(cb.key) is not None:
                cb.load_state_dict(state[cb.key])
        self.net.load_state_dict(state["model"])
        if isinstance(self.objective, nn.Module) and state.get("objective") is not None:
            self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        scheduler, scaler = self.step_kwargs["scheduler"], self.step_kwargs["scaler"]
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state["scaler"] is not None:
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.history, self.stop = list(state["history"]), bool(state["stopped"])
        self.seconds_before = float(state.get("seconds", 0.0))  # older checkpoints: not known
        return int(state["epoch"])

    def fit(self, resume: bool = False, started: float | None = None) -> TrainResult:
        """Train for ``epochs`` (or until a callback stops it); ``resume`` continues the checkpoint.

        ``started``: the ``time.perf_counter()`` the run's time counts from (e.g. before its data
        were loaded; default now). The checkpoint carries the time spent, so a resumed run's
        :attr:`TrainResult.seconds` adds the interrupted processes' time to its own.
        """
        with deterministic_on_cpu(torch.device(self.ctx.device)):
            return self._fit(resume, started)

    def _fit(self, resume: bool, started: float | None) -> TrainResult:
        self._started = time.perf_counter() if started is None else started
        self.seconds_before = 0.0
        seed_everything(self.seed)
        start = self._resume() if resume else 0
        for cb in self.callbacks:
            cb.on_fit_start(self, resume)
        run = 0
        for epoch in range(start, self.epochs):
            if self.stop:
                break
            run += 1
            for cb in self.callbacks:
                cb.on_epoch_start(self, epoch)
            t0 = time.perf_counter()
            row: dict[str, Any] = {"epoch": epoch + 1, "loss": self._epoch(epoch)}
            with ExitStack() as weights:  # e.g. the weight average, for validation
                for cb in self.callbacks:
                    weights.enter_context(cb.weights(self.net))
                for cb in self.callbacks:
                    cb.on_epoch_end(self, row)
            row.update(lr=self.optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - t0)
            self.history.append(row)
            self._save(epoch + 1)
        for cb in self.callbacks:
            cb.on_fit_end(self)
        scored = [h for h in self.history if h.get("val_metric") is not None]
        sign = -1.0 if any(getattr(cb, "lower_is_better", False) for cb in self.callbacks) else 1.0
        best = max(scored, key=lambda h: sign * h["val_metric"], default=None)  # first of equals
        return TrainResult(
            list(self.history),
            best["epoch"] if best else None,
            best["val_metric"] if best else None,
            self.stop,
            self.seconds(),
            start if resume else None,
            run,
        )
