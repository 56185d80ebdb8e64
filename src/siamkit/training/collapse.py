"""Collapse callbacks: :class:`CollapseMonitor` says when the embedding's spread collapses,
:class:`CollapseRecovery` restarts the run from the last good weights when it does."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from siamkit.clauses import counted
from siamkit.training.callbacks import Callback, WeightAverageCallback
from siamkit.training.ema import network_state
from siamkit.training.validation import (
    COLLAPSE_ADVICE,
    COLLAPSE_FACTOR,
    embedding_spread,
    spread_news,
)

if TYPE_CHECKING:
    from siamkit.training.trainer import Trainer


class CollapseMonitor(Callback):
    """``row["spread"]``: the :func:`~siamkit.training.validation.embedding_spread` of
    ``measure(net)`` (``None`` on other processes) after each epoch; says when it collapses
    below a tenth of the spread before training, or recovers (:func:`spread_news`;
    ``appearance``: the model joins appearance features to what it measures)."""

    key = "spread0"

    def __init__(
        self,
        measure: Callable[[nn.Module], torch.Tensor | None],
        log: Callable[[str], None] | None = None,
        appearance: bool = False,
    ) -> None:
        self.measure, self.log, self.appearance = measure, log, appearance
        self.spread0: float | None = None
        #: the collapse line's last sentence for a trainer; a :class:`CollapseRecovery` sets it
        #: to what it is about to do (the advice would be what the run then does by itself)
        self.advice: Callable[[Trainer, int], str] = lambda _t, _e: COLLAPSE_ADVICE

    def _spread(self, net: nn.Module) -> float | None:
        z = self.measure(net)
        return None if z is None else embedding_spread(z)

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        if not resumed:
            self.spread0 = self._spread(trainer.net)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        spread = row["spread"] = self._spread(trainer.net)
        if spread is None or self.spread0 is None:
            return
        before = [h["spread"] for h in trainer.history if h.get("spread") is not None]
        msg = spread_news(
            row["epoch"],
            spread,
            self.spread0,
            before,
            self.appearance,
            self.advice(trainer, row["epoch"]),
        )
        if msg is not None and self.log is not None:
            self.log(msg)
        elif msg is not None:
            warnings.warn(msg, RuntimeWarning, stacklevel=2)

    def state_dict(self) -> Any:
        return self.spread0

    def load_state_dict(self, state: Any) -> None:
        self.spread0 = state


def _cpu_copy(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _loss_parameters(objective: Any) -> dict[str, Tensor]:
    """The parameters the loss learns itself (class proxies, margin's beta), by name; none for a
    loss that is not a module. Buffers (a cross-batch memory) are left out: a restart empties
    the memory."""
    return dict(objective.named_parameters()) if isinstance(objective, nn.Module) else {}


class CollapseRecovery(Callback):
    """Avoid ending with a collapsed embedding: when the :class:`CollapseMonitor` before it in
    the callbacks finds the spread collapsed after an epoch, start the next epoch again from the
    weights after the last good epoch (and their weight average, and the loss's own learned
    parameters, such as class proxies, as they were then), with fresh optimiser moments,
    the learning rate times ``lr_factor`` from then on, the loss's ``mining`` switched as
    ``switch_mining`` says (batch-hard -> semihard: it ignores the triplets that drag every
    embedding to one point) and an emptied cross-batch memory. After ``max_restarts`` the run
    stops and ends with the last good weights. Each restart logs one line.

    The state (the last good weights, restarts, the learning-rate scale, the switched mining)
    is kept in the checkpoint, so a resumed run restarts exactly as an uninterrupted one; the
    last good weights (and their average) make a checkpoint about twice (three times) as large.
    """

    key = "collapse_recovery"

    def __init__(
        self,
        monitor: CollapseMonitor,
        log: Callable[[str], None] | None = None,
        lr_factor: float = 0.1,
        switch_mining: dict[str, str] | None = None,
        max_restarts: int = 2,
        share: Callable[[float | None], float | None] = lambda v: v,
    ) -> None:
        if not 0.0 < lr_factor <= 1.0 or max_restarts < 0:
            raise ValueError(
                f"lr_factor must be in (0, 1] and max_restarts >= 0, got {lr_factor}, {max_restarts}"
            )
        self.monitor, self.log, self.share = monitor, log, share
        self.lr_factor, self.max_restarts = float(lr_factor), int(max_restarts)
        self.switch_mining = {"batch_hard": "semihard"} if switch_mining is None else switch_mining
        self.state: dict[str, Any] = {
            "good_epoch": 0, "good_model": None, "good_ema": None, "pending": False,
            "restarts": 0, "lr_scale": 1.0, "mining": None, "gave_up": False,
        }  # fmt: skip
        monitor.advice = self._plan

    def _plan(self, trainer: Trainer, epoch: int) -> str:
        """What this callback does about a collapse after ``epoch`` (1-based), for the monitor's
        collapse line."""
        s = self.state
        where = f"epoch {s['good_epoch']}" if s["good_epoch"] else "initialisation"
        if epoch >= trainer.epochs:
            return (
                f"It was the last epoch: train.on_collapse=restart ends the run with the weights "
                f"after {where}."
            )
        if s["restarts"] >= self.max_restarts:
            return (
                "train.on_collapse=restart has restarted "
                f"{counted(self.max_restarts, 'time')} already: "
                f"the run stops and ends with the weights after {where}."
            )
        old = getattr(self._loss(trainer), "mining", None)
        switched = (
            f", loss.mining {old} -> {self.switch_mining[old]}"
            if isinstance(old, str) and old in self.switch_mining
            else ""
        )
        return (
            f"train.on_collapse=restart: the next epoch restarts from the weights after {where} "
            f"with the learning rate x{s['lr_scale'] * self.lr_factor:.3g}{switched}."
        )

    def _say(self, msg: str) -> None:
        if self.log is not None:
            self.log(msg)
        else:
            warnings.warn(msg, RuntimeWarning, stacklevel=3)

    @staticmethod
    def _average(trainer: Trainer) -> WeightAverageCallback | None:
        return next((c for c in trainer.callbacks if isinstance(c, WeightAverageCallback)), None)

    @staticmethod
    def _loss(trainer: Trainer) -> Any:
        """The loss that mines: the objective, or the one a cross-batch memory wraps."""
        return getattr(trainer.objective, "loss", trainer.objective)

    def _apply_mining(self, trainer: Trainer) -> None:
        loss = self._loss(trainer)
        if self.state["mining"] is not None and hasattr(loss, "mining"):
            loss.mining = self.state["mining"]

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        if resumed:
            self._apply_mining(trainer)

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        s = self.state
        if not s["pending"]:  # the weights after an epoch that did not collapse (or the start)
            avg = self._average(trainer)
            s.update(  # on the CPU: no second copy of the weights in GPU memory
                good_epoch=epoch,
                good_model=_cpu_copy(trainer.net.state_dict()),
                good_ema=_cpu_copy(avg.state_dict()) if avg is not None else None,
                good_loss=_cpu_copy(_loss_parameters(trainer.objective)),
            )
            return
        self._restore(trainer)
        trainer.optimizer.state.clear()  # Adam's moments come from the collapsing steps
        for group in trainer.optimizer.param_groups:
            group["lr"] *= self.lr_factor
        s.update(pending=False, restarts=s["restarts"] + 1, lr_scale=s["lr_scale"] * self.lr_factor)
        loss, switched = self._loss(trainer), ""
        old = getattr(loss, "mining", None)
        if isinstance(old, str) and old in self.switch_mining:
            s["mining"] = self.switch_mining[old]
            self._apply_mining(trainer)
            switched = f", loss.mining {old} -> {s['mining']}"
        reset = getattr(trainer.objective, "reset", None)
        if callable(reset):  # a cross-batch memory holds collapsed embeddings
            reset()
        where = f"epoch {s['good_epoch']}" if s["good_epoch"] else "initialisation"
        self._say(
            f"collapse recovery: epoch {epoch + 1} restarts from the weights after {where} with "
            f"the learning rate x{s['lr_scale']:.3g}{switched} "
            f"(restart {s['restarts']} of {self.max_restarts})"
        )

    def _restore(self, trainer: Trainer) -> None:
        s, avg = self.state, self._average(trainer)
        trainer.net.load_state_dict(s["good_model"])
        if avg is not None and s["good_ema"] is not None:
            avg.load_state_dict(s["good_ema"])
        # the proxies moved with the collapsing steps too: back to where they were with the
        # weights restored (a state saved before they were kept has none)
        params = _loss_parameters(trainer.objective)
        with torch.no_grad():
            for name, value in (s.get("good_loss") or {}).items():
                params[name].copy_(value)

    def on_step_end(self, trainer: Trainer) -> None:
        # a schedule sets the rate from scratch at every step: scale what it set
        if self.state["lr_scale"] != 1.0 and trainer.step_kwargs.get("scheduler") is not None:
            for group in trainer.optimizer.param_groups:
                group["lr"] *= self.state["lr_scale"]

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        spread, spread0 = row.get("spread"), self.monitor.spread0
        mine = None  # known on the main process; every process takes its decision
        if spread is not None and spread0 is not None:
            mine = 1.0 if spread < COLLAPSE_FACTOR * spread0 else 0.0
        collapsed = self.share(mine)
        if not collapsed:
            return
        s = self.state
        if s["restarts"] < self.max_restarts:
            s["pending"] = True
            row["collapse"] = "restart"
            return
        s["gave_up"] = trainer.stop = True
        row["collapse"] = "stop"

    def on_fit_end(self, trainer: Trainer) -> None:
        s = self.state
        if not (s["pending"] or s["gave_up"]) or s["good_model"] is None:
            return
        avg = self._average(trainer)  # its on_fit_end already ran: the run ends with its weights
        trainer.net.load_state_dict(
            network_state(s["good_ema"])
            if avg is not None and s["good_ema"] is not None
            else s["good_model"]
        )
        where = f"epoch {s['good_epoch']}" if s["good_epoch"] else "initialisation"
        gave_up = f"after {counted(s['restarts'], 'restart')}"
        why = gave_up if s["gave_up"] else "in the last epoch"
        self._say(
            f"collapse recovery: the embedding collapsed {why}; the run ends with the weights "
            f"after {where}. Try a lower optim.lr or another loss.kind / loss.mining."
        )

    def state_dict(self) -> Any:
        return self.state

    def load_state_dict(self, state: Any) -> None:
        self.state = dict(state)
