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
import json
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from siamkit.training.ema import WeightAverage, network_state
from siamkit.training.validation import (
    COLLAPSE_ADVICE,
    COLLAPSE_FACTOR,
    embedding_spread,
    spread_news,
)

if TYPE_CHECKING:
    from siamkit.training.trainer import Trainer


class Callback:
    """Base class: every hook does nothing. ``key``: the checkpoint entry of its state."""

    key: str | None = None

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        pass

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        pass

    def on_step_end(self, trainer: Trainer) -> None:
        pass

    def weights(self, net: nn.Module) -> AbstractContextManager[Any]:
        return nullcontext()

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> Any:
        return None

    def load_state_dict(self, state: Any) -> None:
        pass


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
                f"beaten epoch {b['epoch']}'s {b['metric']:.4f} for {b['bad']} epoch"
                f"{'s' * (b['bad'] != 1)} (train.early_stopping = {self.patience})"
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


class CollapseRecovery(Callback):
    """Avoid ending with a collapsed embedding: when the :class:`CollapseMonitor` before it in
    the callbacks finds the spread collapsed after an epoch, start the next epoch again from the
    weights after the last good epoch (and their weight average), with fresh optimiser moments,
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
                f"train.on_collapse=restart has restarted {self.max_restarts} time(s) already: "
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
        why = f"after {s['restarts']} restart(s)" if s["gave_up"] else "in the last epoch"
        self._say(
            f"collapse recovery: the embedding collapsed {why}; the run ends with the weights "
            f"after {where}. Try a lower optim.lr or another loss.kind / loss.mining."
        )

    def state_dict(self) -> Any:
        return self.state

    def load_state_dict(self, state: Any) -> None:
        self.state = dict(state)


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


#: ``read(saved, now)``: a checkpoint's config dict as ``now``'s shape (keys added since, filled in).
ConfigReader = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


def read_run_config(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """An embedding run's saved config through the config's own reader, so keys added since the
    checkpoint take their defaults.

    A flat loss key (``loss.margin``) that disagrees with ``loss.params`` is read as the run
    trained, with ``loss.params``' value (a user's config with both is refused; a checkpoint
    made before that check is not, since nothing the user edits could change it)."""
    from siamkit.training.config_io import config_from_dict, config_to_dict

    read = config_to_dict(config_from_dict(_saved_loss_params_win(saved)))
    return saved_shape_unset(read, now)


def saved_shape_unset(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with ``data.image_size`` 64 and ``data.grayscale`` false read as unset where
    ``now`` leaves them unset: a checkpoint made before they could be unset recorded those
    defaults, which gave every data source the images it gives them unset (an image folder's
    64 px in colour; digits and the other built-in data ignored them). Shared by every reader
    of a config saved before (a checkpoint's, a tune study's)."""
    from siamkit.training.parts import UNSET_DATA_SHAPE

    data, data_now = saved.get("data"), now.get("data")
    if not isinstance(data, dict) or not isinstance(data_now, dict):
        return saved
    unset = {
        key: None
        for key, old in UNSET_DATA_SHAPE.items()
        if data_now.get(key, 0) is None and data.get(key) == old
    }
    return {**saved, "data": {**data, **unset}} if unset else saved


def _saved_loss_params_win(saved: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with each flat loss key that conflicts with ``loss.params``
    (:func:`~siamkit.training.config.loss_key_conflicts`) at its default, as the checkpoint's
    run resolved it (``loss.params`` won)."""
    from siamkit.training.config import LossConfig, loss_key_conflicts
    from siamkit.training.config_io import _section

    loss = saved.get("loss")
    if not isinstance(loss, dict) or not isinstance(loss.get("params"), dict):
        return saved
    default, resolved = LossConfig(), dict(loss)
    for key, _ in loss_key_conflicts(_section(LossConfig, loss, "loss")):
        resolved[key] = getattr(default, key)
    return {**saved, "loss": resolved}


_ABSENT = object()


def _keys(first: dict[str, Any], then: dict[str, Any]) -> list[str]:
    return [*first, *(k for k in then if k not in first)]


def config_diff(saved: dict[str, Any], now: dict[str, Any], depth: int | None = None) -> list[str]:
    """The keys whose values differ between two config dicts, in ``now``'s order (then the keys
    only ``saved`` has): a key only one of them has differs too. Sections are followed to any
    depth (``model.encoder_kwargs.taps``; ``method`` for a top-level value), or to ``depth``
    levels; lists and other values are compared whole. ``--resume`` (:class:`ConfigGuard`) and
    ``siamkit tune``'s study both name the keys of a different config with it.

    >>> config_diff({"method": "byol", "optim": {"lr": 0.1}}, {"method": "simclr", "optim": {"lr": 0.2}})
    ['method', 'optim.lr']
    >>> config_diff({"model": {"kw": {"taps": [1]}}}, {"model": {"kw": {"taps": [2]}}})
    ['model.kw.taps']
    """
    out: list[str] = []
    for key in _keys(now, saved):
        value, old = now.get(key, _ABSENT), saved.get(key, _ABSENT)
        if isinstance(value, dict) and isinstance(old, dict) and depth != 1:
            deeper = None if depth is None else depth - 1
            out += [f"{key}.{k}" for k in config_diff(old, value, deeper)]
        elif old != value:
            out.append(str(key))
    return out


#: ``eval`` keys read only by the evaluation after training (not by validation during it), so a
#: resume may change them: more episodes, other shots, another calibration target or seed.
AFTER_TRAINING = ("episodes", "shots", "seed", "threshold_target")


def _set_hint(saved: dict[str, Any], diff: list[str]) -> str:
    """`` (the checkpoint's values: --set optim.lr=0.003 ...)`` when every differing key holds a
    plain value there (a changed default, or an edited YAML, is then one command away)."""
    sets = []
    for key in diff:
        value: Any = saved
        for part in key.split("."):
            value = value.get(part, _ABSENT) if isinstance(value, dict) else _ABSENT
        if value is _ABSENT or isinstance(value, (dict, list)):
            return ""
        shown = value if isinstance(value, str) else json.dumps(value)
        sets.append(f"--set {key}={shown}")
    return f" (the checkpoint's values: {' '.join(sets)})" if 0 < len(sets) <= 4 else ""


def _same_paths(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with each differing value that names, from here, the same existing file or
    folder as ``now``'s taken as ``now``'s: ``./data/x``, ``data/x`` and its absolute path are
    one data folder, whatever the run (relative paths resolve from the current folder)."""
    from siamkit.atomic import same_file

    out = dict(saved)
    for key in config_diff(saved, now):
        section, _, name = key.partition(".")
        old, new = saved.get(section, _ABSENT), now.get(section, _ABSENT)
        if name:
            if not isinstance(old, dict) or not isinstance(new, dict):
                continue
            old, new = old.get(name, _ABSENT), new.get(name, _ABSENT)
        if not (isinstance(old, str) and isinstance(new, str)) or not old or not new:
            continue
        if not Path(old).exists() or not same_file(old, new):
            continue
        out[section] = {**out[section], name: new} if name else new
    return out


class ConfigGuard(Callback):
    """Save the run's config in the checkpoint; on resume, refuse a different one, naming its
    keys (a changed ``train.epochs`` is allowed unless the schedule's length depends on it:
    ``epochs_fixed``; a config without ``train.epochs``, a run counted in steps, has no such key;
    the ``eval`` keys in ``may_change`` may change too: by default :data:`AFTER_TRAINING`, which
    an embedding run reads only after training). With ``schedule_spans_epochs`` (a schedule that
    always runs over all of ``train.epochs``: a text run's warm-up and decay) ``train.epochs`` is
    compared as any other key, and named with the others.

    ``read`` brings the checkpoint's config to the shape of ``config`` before they are compared
    (default :func:`read_run_config`, the embedding run's; an application passes its own).
    """

    key = "config"

    def __init__(
        self,
        config: dict[str, Any],
        epochs_fixed: bool = False,
        read: ConfigReader = read_run_config,
        may_change: tuple[str, ...] = AFTER_TRAINING,
        schedule_spans_epochs: bool = False,
    ) -> None:
        self.config, self.epochs_fixed, self.read = config, epochs_fixed, read
        self.may_change, self.schedule_spans_epochs = may_change, schedule_spans_epochs

    def state_dict(self) -> Any:
        return self.config

    def load_state_dict(self, state: Any) -> None:
        saved, now = self.read(state, self.config), self.config
        train, saved_train = now.get("train") or {}, saved.get("train") or {}
        if "epochs" in train and not self.schedule_spans_epochs:
            if saved_train.get("epochs") != train["epochs"] and self.epochs_fixed:
                raise ValueError(
                    "train.epochs cannot change on resume with optim.schedule = onecycle (its length is fixed)"
                )
            saved = {**saved, "train": {**saved_train, "epochs": train["epochs"]}}
        ev, saved_ev = now.get("eval"), saved.get("eval")
        if isinstance(ev, dict) and isinstance(saved_ev, dict):  # the final evaluation's own keys
            saved = {
                **saved,
                "eval": {**saved_ev, **{k: ev[k] for k in self.may_change if k in ev}},
            }
        if saved != now:
            saved = _same_paths(saved, now)
        if saved != now:
            diff = config_diff(saved, now)
            raise ValueError(
                f"the checkpoint was made with a different config ({', '.join(diff)}); resume "
                f"with the same one{_set_hint(saved, diff)}"
            )


class ChannelsLast(Callback):
    """Lay an image network out channels-last now (before any DDP wrapping; faster
    convolutions on CPU and GPU); the run ends contiguous."""

    def __init__(self, net: nn.Module) -> None:
        net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def on_fit_end(self, trainer: Trainer) -> None:
        trainer.net.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
