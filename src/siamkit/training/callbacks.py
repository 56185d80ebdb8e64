"""Callbacks: what the :class:`~siamkit.training.trainer.Trainer` does besides stepping.

A callback overrides any of the hooks below (all no-ops by default). One with a ``key`` is
saved in the checkpoint under that key (``state_dict``) and restored on resume
(``load_state_dict``); the keys are those of checkpoints written before callbacks existed
(``ema``, ``best``, ``spread0``, ``config``), so those still resume.

========================  =====================================================================
``on_fit_start(t, r)``    before the first epoch; ``r``: the run resumes a checkpoint
``on_epoch_start(t, e)``  before epoch ``e`` (0-based), outside any weight average
``on_step_end(t)``        after every optimiser step
``weights(net)``          a context the epoch-end hooks run in (the weight average applies itself)
``on_epoch_end(t, row)``  after an epoch; add to ``row`` (its history entry), set ``t.stop``
``on_fit_end(t)``         after the last epoch (the weights the run ends with)
========================  =====================================================================

>>> t = Trainer(net, objective, opt, batches, callbacks=[WeightAverageCallback(net, 0.998)])  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from siamkit.clauses import counted
from siamkit.training.ema import WeightAverage

if TYPE_CHECKING:
    from siamkit.training.trainer import Trainer


class Callback:
    """Base class: every hook does nothing. ``key``: the checkpoint entry of its state."""

    key: str | None = None

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        """Before the first epoch; ``resumed``: the run goes on from a checkpoint."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Before epoch ``epoch`` (0-based), outside any weight average."""

    def on_step_end(self, trainer: Trainer) -> None:
        """After every optimiser step."""

    def weights(self, net: nn.Module) -> AbstractContextManager[Any]:
        """A context the epoch-end hooks run in (a weight average swaps its weights into
        ``net`` there); by default one that changes nothing."""
        return nullcontext()

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """After an epoch: add figures to ``row`` (its history entry), or set ``trainer.stop``."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """After the last epoch (it may set the weights the run ends with)."""

    def state_dict(self) -> Any:
        """What the checkpoint keeps under :attr:`key` (``None``: nothing)."""
        return None

    def load_state_dict(self, state: Any) -> None:
        """Restore what :meth:`state_dict` gave, on resume."""


class WeightAverageCallback(Callback):
    """Keep a moving average of the weights (:class:`~siamkit.training.ema.WeightAverage`); the
    epoch-end hooks (validation, checkpoints' best) see it, and the run ends with it."""

    key = "ema"

    def __init__(self, net: nn.Module, decay: float, exclude_initial: bool = True) -> None:
        self.average = WeightAverage(net, decay, exclude_initial)

    def on_step_end(self, trainer: Trainer) -> None:
        self.average.update(trainer.net)

    def weights(self, net: nn.Module) -> AbstractContextManager[Any]:
        return self.average.applied_to(net)

    def on_fit_end(self, trainer: Trainer) -> None:
        self.average.copy_to(trainer.net)

    def state_dict(self) -> Any:
        return self.average.state_dict()

    def load_state_dict(self, state: Any) -> None:
        self.average.load_state_dict(state)


class Validation(Callback):
    """``row["val_metric"] = validate(net)`` each epoch, on the main process, shared with the
    others; early stopping after ``patience`` epochs without a better one; ``restore_best``: end
    with the best epoch's weights. Better is higher, or lower with ``lower_is_better`` (an
    error rate such as the validation EER). Put it after a weight average.

    ``log`` (the main process's) gets a line at the end when it stopped the run early and when
    it put the best epoch's weights back, naming ``metric_name``: the epoch lines alone do not
    say why a run ended before ``train.epochs`` or which epoch the model holds."""

    key = "best"

    def __init__(
        self,
        validate: Callable[[nn.Module], float] | None,
        patience: int | None = None,
        restore_best: bool = False,
        share: Callable[[float | None], float | None] = lambda v: v,
        is_main: bool = True,
        lower_is_better: bool = False,
        log: Callable[[str], None] | None = None,
        metric_name: str = "metric",
    ) -> None:
        self.validate, self.patience, self.restore_best = validate, patience, restore_best
        self.lower_is_better = lower_is_better
        self.share, self.is_main = share, is_main
        self.log, self.metric_name = log, metric_name
        self.best: dict[str, Any] = {"metric": None, "epoch": None, "state": None, "bad": 0}
        self.last_epoch: int | None = None  # the last epoch this call of fit validated
        self.stopped = False  # this call of fit stopped early

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        metric = None
        if self.validate is not None:
            metric = self.share(self.validate(trainer.net) if self.is_main else None)
        row["val_metric"] = metric
        if metric is None:
            return
        b = self.best
        self.last_epoch = int(row["epoch"])
        if b["metric"] is None or self.better(metric, b["metric"]):
            b.update(metric=metric, epoch=row["epoch"], bad=0)
            if self.restore_best:
                b["state"] = copy.deepcopy(trainer.net.state_dict())
            return
        b["bad"] += 1
        if self.patience is not None and b["bad"] >= self.patience:
            trainer.stop = True
            self.stopped = True

    def better(self, new: float, old: float) -> bool:
        """Whether ``new`` beats ``old`` in this metric's direction."""
        return new < old if self.lower_is_better else new > old

    def on_fit_end(self, trainer: Trainer) -> None:
        b = self.best
        if self.stopped and self.log is not None:  # after the last epoch's line
            self.log(
                f"stopped early after epoch {self.last_epoch}: val {self.metric_name} has not "
                f"beaten epoch {b['epoch']}'s {b['metric']:.4f} for {counted(b['bad'], 'epoch')} "
                f"(train.early_stopping = {self.patience})"
            )
        if self.restore_best and b["state"] is not None:
            trainer.net.load_state_dict(b["state"])
            # said when it changes the weights: this call validated a later epoch than the best
            if (
                self.log is not None
                and self.last_epoch is not None
                and b["epoch"] != self.last_epoch
            ):
                self.log(
                    f"the model holds epoch {b['epoch']}'s weights, the best val "
                    f"{self.metric_name} ({b['metric']:.4f}), not the last epoch's "
                    f"({self.last_epoch}): train.restore_best"
                )

    def state_dict(self) -> Any:
        return self.best

    def load_state_dict(self, state: Any) -> None:
        self.best = dict(state)


class EpochLog(Callback):
    """One line per epoch: ``epoch 2/10: loss 0.1234, val precision_at_1 0.8765``."""

    def __init__(self, log: Callable[[str], None], epochs: int, metric_name: str) -> None:
        self.log, self.epochs, self.metric_name = log, epochs, metric_name

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        metric = row.get("val_metric")
        shown = "-" if metric is None else f"{metric:.4f}"
        self.log(
            f"epoch {row['epoch']}/{self.epochs}: loss {row['loss']:.4f}, val {self.metric_name} {shown}"
        )


class ChannelsLast(Callback):
    """Lay an image network out channels-last now (before any DDP wrapping; faster
    convolutions on CPU and GPU); the run ends contiguous."""

    def __init__(self, net: nn.Module) -> None:
        net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def on_fit_end(self, trainer: Trainer) -> None:
        trainer.net.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
