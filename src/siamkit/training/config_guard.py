"""The config guard: a checkpoint keeps its run's config, and a resume with a different one is
refused, naming the keys that differ (:class:`ConfigGuard`, :func:`config_diff`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from siamkit.training.callbacks import Callback

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


def cache_as_now(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with ``now``'s ``data.cache``: where the decoded images are kept changes no
    image a run trains on, so a ``--resume`` may turn the cache on (the reason to resume with
    it: not to read 50,000 photos again), off, or move it; a checkpoint made before the key
    existed did not record it."""
    data, data_now = saved.get("data"), now.get("data")
    if not isinstance(data, dict) or not isinstance(data_now, dict):
        return saved
    if data.get("cache") == data_now.get("cache"):
        return saved  # (itself: a tune study's signature is then kept as it was stored)
    rest = {k: v for k, v in data.items() if k != "cache"}
    return {
        **saved,
        "data": {**rest, **({"cache": data_now["cache"]} if "cache" in data_now else {})},
    }


def saved_shape_unset(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with ``data.image_size`` 64 and ``data.grayscale`` false read as unset where
    ``now`` leaves them unset: a checkpoint made before they could be unset recorded those
    defaults, which gave every data source the images it gives them unset (an image folder's
    64 px in colour; digits and the other built-in data ignored them); and with ``now``'s
    ``data.cache`` (:func:`cache_as_now`). Shared by every reader of a config saved before (a
    checkpoint's, a tune study's)."""
    from siamkit.training.parts import UNSET_DATA_SHAPE

    saved = cache_as_now(saved, now)
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
    (:func:`~siamkit.training.config_loss.loss_key_conflicts`) at its default, as the checkpoint's
    run resolved it (``loss.params`` won)."""
    from siamkit.training.config import LossConfig
    from siamkit.training.config_loss import loss_key_conflicts
    from siamkit.training.config_sections import _section

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
