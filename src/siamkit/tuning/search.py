"""``run_study``: an Optuna study (TPE sampler, median pruning) over a run config.

Each trial trains the config with the trial's values and is scored by the validation metric
(``train.val_metric``) on the **validation classes** (``data.val_classes``), which the network
does not train on; the test classes are never loaded into a score. The study maximises the
metric, or minimises it when lower is better (``eer``). Every epoch's metric is
reported to the pruner, so hopeless trials stop early. The study lives in ``DIR/study.db``
(SQLite): a killed study continues where it stopped when run again with the same arguments.

>>> result = run_study(load_config("configs/demo.yaml"), load_space(None), "runs/tune", n_trials=20)  # doctest: +SKIP
>>> result.best_config  # doctest: +SKIP
PosixPath('runs/tune/best.yaml')
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from siamkit.atomic import atomic_path, check_writable_folder
from siamkit.progress import Progress, is_enabled, set_enabled
from siamkit.training import RunConfig, RunData, Trainer, build_model, load_run_data
from siamkit.training.callbacks import config_diff, saved_shape_unset
from siamkit.training.config import VAL_METRICS_LOWER_BETTER
from siamkit.training.config_io import apply_overrides, config_to_dict, dump_config
from siamkit.training.from_config import make_validator
from siamkit.training.init_from import init_from_model
from siamkit.training.preflight import check_input_size, check_positives
from siamkit.training.trainer import seed_everything
from siamkit.tuning.space import Param, SearchSpace, load_space

STUDY_FILE = "study.db"
STUDY_NAME = "siamkit-tune"

#: What stopped a study before ``n_trials`` finished (:attr:`StudyResult.stopped_by`).
StopReason = Literal["failures", "timeout"]


class RefusedCombination(ValueError):
    """A trial's values together make a config that :func:`check_config` refuses."""


class StudyInterrupted(KeyboardInterrupt):
    """A Ctrl-C that stopped :func:`run_study`, after ``trials.csv`` and, when a trial had
    completed, ``best.yaml`` (``best_config``) were written from the finished trials."""

    def __init__(self, best_config: Path | None, complete: int) -> None:
        super().__init__()
        self.best_config = best_config
        self.complete = complete


@dataclass(frozen=True)
class StudyResult:
    """What the study found: the best trial's validation score and values, and trial counts."""

    best_value: float | None
    best_params: dict[str, Any]
    best_config: Path | None
    complete: int
    pruned: int
    failed: int
    seconds: float
    interrupted: int = 0  # stopped by Ctrl-C or a kill: failed in Optuna's storage, not here
    warning: str | None = None  # the completed trials' scores cannot rank them (flat_scores)
    stopped: str | None = None  # why it stopped before n_trials finished (failures, timeout)
    #: what stopped it before n_trials finished: ``"failures"`` (:func:`failure_cap` failed
    #: trials in a row, the search did not succeed) or ``"timeout"`` (the time asked for)
    stopped_by: StopReason | None = None

    @property
    def finished(self) -> int:
        """The trials that ran to their end: completed or pruned (what ``n_trials`` counts)."""
        return self.complete + self.pruned


#: The study stops after this many failed trials in a row, or ``n_trials`` if more: a space
#: whose every combination the config refuses would otherwise draw trials for ever, since a
#: failed trial does not count towards the finished trials wanted.
MIN_FAILURES_IN_A_ROW = 10


def failure_cap(n_trials: int) -> int:
    """How many trials in a row may fail before a study wanting ``n_trials`` stops."""
    return max(n_trials, MIN_FAILURES_IN_A_ROW)


#: Completed trials whose validation scores are all within this of each other are not told
#: apart by them (P@1 on 2 validation classes of the HOG-joined demo: every trial ~0.9998).
FLAT_SCORES = 0.001


def flat_scores(values: Sequence[float], base: RunConfig) -> str | None:
    """A sentence when two or more completed trials' scores (``values``) are all within
    :data:`FLAT_SCORES` of each other: the best of them is no better than the rest. It says
    what tells recipes apart: another ``train.val_metric`` (``eer``, ``few_shot``), more
    validation classes. ``None`` otherwise."""
    if len(values) < 2 or max(values) - min(values) > FLAT_SCORES:
        return None
    metric, held = base.train.val_metric, base.data.val_classes
    others = " or ".join(f"--set train.val_metric={m}" for m in ("eer", "few_shot") if m != metric)
    n_val = held if isinstance(held, int) else len(held or ())
    return (
        f"the {len(values)} completed trials' validation {metric} scores are all within "
        f"{FLAT_SCORES} of each other ({min(values):.4f} to {max(values):.4f}), so the best "
        f"config is no better than the others: score the trials with {others}, or hold out "
        f"more validation classes than {n_val} (data.val_classes), and run a new study"
    )


def check_tunable(base: RunConfig, space: SearchSpace) -> None:
    """Refuse, in one sentence, a config or space that cannot be tuned honestly."""
    if base.data.val_classes is None:
        raise ValueError(
            "siamkit tune scores trials on validation classes the network does not train on: set "
            "data.val_classes in the config (class ids held out of data.train_classes, or a count, "
            "e.g. --set data.val_classes=2)"
        )
    if base.train.val_metric == "none":
        raise ValueError("siamkit tune needs a validation metric: train.val_metric is none")
    if any(p.key.startswith("data.val_classes") for p in space.params):
        raise ValueError("data.val_classes cannot be searched: trials must be scored alike")
    space.check(base)


def _suggest(trial: Any, p: Param) -> Any:
    if p.kind == "choice":
        return p.value(trial.suggest_categorical(p.key, p.labels()))
    if p.kind == "int":
        return trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(p.key, p.low, p.high, log=p.log)


def _validator(
    cfg: RunConfig, data: RunData, on_epoch: Callable[[int, float], None]
) -> Callable[[nn.Module], float]:
    """The run's own validation metric (:func:`make_validator`) on its validation classes,
    reported to ``on_epoch`` after every epoch (which may stop the trial)."""
    epoch = 0
    metric_of: Callable[[nn.Module], float] | None = None

    def validate(net: nn.Module) -> float:
        nonlocal epoch, metric_of
        if metric_of is None:
            metric_of = make_validator(cfg, data, next(net.parameters()).device)
        metric = metric_of(net)
        epoch += 1
        on_epoch(epoch, metric)
        return metric

    return validate


def _data_key(cfg: RunConfig) -> str:
    doc = config_to_dict(cfg)["data"]
    doc.pop("augmentation", None)  # applied per batch: the loaded images do not depend on it
    return json.dumps(doc, sort_keys=True)


INTERRUPTED = "interrupted"
"""The user attribute of a trial that a Ctrl-C or a kill stopped (Optuna stores it as failed)."""


def _fail_stale(study: Any) -> None:
    """Trials left RUNNING by a killed study can never finish: mark them failed, as interrupted."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, INTERRUPTED, True)
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)


#: The user attribute of a trial that failed for a reason other than a refused combination.
FAILED = "failed"


def _reason(trial: Any) -> str:
    """Why a failed trial failed, for ``trials.csv`` (empty for another state)."""
    if trial.state.name != "FAIL":
        return ""
    if trial.user_attrs.get(INTERRUPTED):
        return "stopped by Ctrl-C or a kill"
    return str(trial.user_attrs.get("refused") or trial.user_attrs.get(FAILED) or "")


def _state(trial: Any) -> str:
    """A trial's state as ``trials.csv`` and the summary name it: Optuna's, but ``interrupted``
    for a trial a Ctrl-C or a kill stopped (not a failure of its values)."""
    if trial.state.name == "FAIL" and trial.user_attrs.get(INTERRUPTED):
        return INTERRUPTED
    return str(trial.state.name.lower())


def _signature(base: RunConfig, space: list[Any]) -> str:
    return json.dumps({"config": config_to_dict(base), "space": space}, sort_keys=True, default=str)


def _read_signature(saved: str | None, config: dict[str, Any]) -> str | None:
    """A stored signature as this run's would be for the same study: its config's
    ``data.image_size`` 64 / ``data.grayscale`` false, the defaults a study started before they
    could be unset recorded, read as unset where ``config`` leaves them unset
    (:func:`saved_shape_unset`, as a checkpoint's are on ``--resume``)."""
    if saved is None:
        return None
    old = json.loads(saved)
    stored = old.get("config") if isinstance(old, dict) else None
    if not isinstance(stored, dict):
        return saved
    now = json.loads(json.dumps(config, default=str))
    read = saved_shape_unset(stored, now)
    if read is stored:
        return saved
    return json.dumps({**old, "config": read}, sort_keys=True, default=str)


def _named(keys: list[str], most: int = 3) -> str:
    """``keys`` as the message names them: at most ``most``, then how many more."""
    shown = ", ".join(keys[:most])
    return shown + (f" and {len(keys) - most} more" if len(keys) > most else "")


def _what_differs(
    saved: str, config: dict[str, Any], signature: str, study: Any, space: SearchSpace
) -> str:
    """Which of a study's config and space differ from this run's, from the two signatures,
    with the keys that differ (:func:`config_diff`, as ``--resume`` names them, in the config's
    order, ``config`` the run's config dict): "a different config (loss.margin)", "a different
    space (optim.lr)", or both."""
    old, new = json.loads(saved), json.loads(signature)
    parts = []
    if old.get("config") != new["config"]:
        # the run's config as the signature holds it (json values), in the config's key order
        now = json.loads(json.dumps(config, default=str))
        keys = _named(config_diff(old.get("config") or {}, now))
        parts.append(f"config ({keys})" if keys else "config")
    old_space, new_space = old.get("space") or [], new["space"]
    keys_only = all(isinstance(p, str) for p in old_space)
    if keys_only:  # saved with the key names alone: the trials' distributions say the rest
        was = {k: None for k in old_space} | {
            k: "drawn otherwise" for k in _keys_drawn_otherwise(study, space)
        }
        space_now = {p["key"]: None for p in new_space}
    else:
        was = {p["key"]: p for p in old_space}
        space_now = {p["key"]: p for p in new_space}
    keys = _named(config_diff(was, space_now, depth=1))  # a searched key is one name
    if keys or (not keys_only and old_space != new_space):
        parts.append(f"space ({keys})" if keys else "space")
    return "a different " + (" and a different ".join(parts) if parts else "config or space")


def _distribution(p: Param) -> Any:
    """The Optuna distribution :func:`_suggest` samples ``p`` from."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if p.kind == "choice":
        return CategoricalDistribution(p.labels())
    if p.kind == "int":
        return IntDistribution(int(p.low), int(p.high), log=p.log)
    return FloatDistribution(p.low, p.high, log=p.log)


def _keys_drawn_otherwise(study: Any, space: SearchSpace) -> set[str]:
    """The keys some trial of ``study`` drew from another distribution than ``space``'s (or
    that ``space`` does not search)."""
    wanted = {p.key: _distribution(p) for p in space.params}
    return {
        k
        for t in study.get_trials(deepcopy=False)
        for k, d in t.distributions.items()
        if wanted.get(k) != d
    }


def _same_space(study: Any, space: SearchSpace) -> bool:
    """Whether every trial of ``study`` was drawn from ``space``'s distributions (a study saved
    with the key names alone, before the signature held the whole space)."""
    return not _keys_drawn_otherwise(study, space)


def _open_study(base: RunConfig, space: SearchSpace, out: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # the whole space (kinds, ranges, choices, log flags): a changed range or choice list is
    # another study, whose trials Optuna could not mix with these (or would mix silently)
    config = config_to_dict(base)
    signature = _signature(base, [dataclasses.asdict(p) for p in space.params])
    keys_only = _signature(base, [p.key for p in space.params])
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=f"sqlite:///{out / STUDY_FILE}",
        load_if_exists=True,
        direction="minimize" if base.train.val_metric in VAL_METRICS_LOWER_BETTER else "maximize",
        sampler=optuna.samplers.TPESampler(seed=base.train.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    saved = _read_signature(study.user_attrs.get("signature"), config)
    # a new study, or one saved with the key names alone whose trials are of this same space
    if saved is None or (saved == keys_only and _same_space(study, space)):
        study.set_user_attr("signature", signature)
    elif saved != signature:
        raise ValueError(
            f"{out / STUDY_FILE} holds a study of {_what_differs(saved, config, signature, study, space)}"
            ": give a new --out to start a fresh study, or the config, --set values and --space "
            "it was started with to continue it"
        )
    _check_kept_kwargs(study, base, space, out)
    _fail_stale(study)
    # A seeded sampler restarts its random draws with the process: a resumed study would repeat
    # the values of its first trials. Seeding by the trials already held continues the sequence.
    n_held = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=base.train.seed + n_held)
    return study


#: The study's user attribute saying its trials merged a choice's ``model.encoder_kwargs`` over
#: the config's (:meth:`SearchSpace.overrides`); a study without it replaced them wholesale.
MERGED_KWARGS_ATTR = "encoder_kwargs_merged"


def _check_kept_kwargs(study: Any, base: RunConfig, space: SearchSpace, out: Path) -> None:
    """Refuse to continue a study whose trials were drawn before a choice's ``encoder_kwargs``
    were merged over the config's, when the merge keeps some of the config's (``taps``): its
    trials trained without them, and new ones would not be alike; mark the study otherwise."""
    kept = space.kept_encoder_kwargs(base)
    if kept and study.get_trials(deepcopy=False) and not study.user_attrs.get(MERGED_KWARGS_ATTR):
        names = _and(kept)
        raise ValueError(
            f"{out / STUDY_FILE} holds a study whose {base.model.encoder} trials trained "
            f"without the config's model.encoder_kwargs {names} (siamkit tune then replaced them "
            "with each choice's encoder_kwargs; it now keeps them), so new trials would not be "
            "alike: give a new --out to start a fresh study"
        )
    if not study.user_attrs.get(MERGED_KWARGS_ATTR):
        study.set_user_attr(MERGED_KWARGS_ATTR, True)


#: The study's user attribute holding the plug-in modules its runs were started with.
PLUGINS_ATTR = "plugins"


def _remember_plugins(study: Any, plugins: Sequence[str]) -> list[str]:
    """The plug-ins the study was started with before (stored in ``study.db``) and now, stored
    again: a continued study imports them (:func:`import_study_plugins`) and its ``best.yaml``
    names them, though no --plugin names them again."""
    saved = study.user_attrs.get(PLUGINS_ATTR) or []
    merged = list(dict.fromkeys([*saved, *plugins]))
    if merged != saved:
        study.set_user_attr(PLUGINS_ATTR, merged)
    return merged


def import_study_plugins(out_dir: str | Path) -> list[str]:
    """Import the plug-in modules the study in ``out_dir`` was started with (``--plugin``, the
    config's ``plugins:``), so continuing it reads a config naming their parts without --plugin
    again; returns them, ``[]`` for a folder without a study.

    Raises:
        ImportError: one of them cannot be imported (one sentence naming it and ``study.db``).
    """
    from siamkit.registry import import_plugins

    db = Path(out_dir) / STUDY_FILE
    if not db.is_file():
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{db}")
        saved = study.user_attrs.get(PLUGINS_ATTR) or []
    except Exception:  # no study of this name, or not a study file: opening it says which
        return []
    names = [str(n) for n in saved if isinstance(n, str) and n]
    try:
        import_plugins(names, entry_points=False)
    except ImportError as err:
        raise ImportError(f"{db}: plugins: {err}") from None
    return names


def space_of(space: Any) -> SearchSpace:
    """``space`` as a :class:`SearchSpace`: one as is, a mapping (``DEFAULT_SPACE``'s layout)
    through :meth:`SearchSpace.from_dict`, a YAML file's path through :func:`load_space`.

    Raises:
        TypeError: anything else (one sentence naming what it takes).
    """
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, Mapping):
        return SearchSpace.from_dict(dict(space))
    if isinstance(space, (str, os.PathLike)):
        return load_space(space)
    raise TypeError(
        f"run_study takes a SearchSpace, a mapping of section.key entries (as DEFAULT_SPACE) or "
        f"a search-space YAML path, got {type(space).__name__}; make one with "
        "SearchSpace.from_dict(mapping) or load_space(path)"
    )


def run_study(
    base: RunConfig,
    space: SearchSpace | Mapping[str, Any] | str | os.PathLike[str],
    out_dir: str | Path,
    n_trials: int = 20,
    timeout: float | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    plugins: Sequence[str] = (),
) -> StudyResult:
    """Search ``space`` around ``base`` until the study holds ``n_trials`` finished trials
    (completed or pruned). A failed trial (values the config refuses together) does not count:
    the study draws another, and stops after :func:`failure_cap` failures in a row
    (``StudyResult.stopped`` says so, ``stopped_by`` is ``"failures"``), or when ``timeout``
    seconds have passed (no trial starts after them; ``StudyResult.stopped`` says so if fewer
    than ``n_trials`` have finished, ``stopped_by`` is ``"timeout"``).

    Writes ``out_dir/study.db`` (resumable), ``trials.csv`` and ``best.yaml`` (the base config with
    the best trial's values, ready for ``siamkit train``; ``plugins``, the plug-in modules the
    study was started with, go in it as ``plugins:`` so that training it imports them). The study
    keeps them: a continued one names them in ``best.yaml`` too (see
    :func:`import_study_plugins`).

    ``space`` is a :class:`SearchSpace`, a mapping of ``section.key`` entries (as
    :data:`DEFAULT_SPACE`) or a search-space YAML path (:func:`space_of`).

    Raises:
        ValueError: the config has no validation classes, its data split is refused, the space
            names a key or value the config refuses, ``n_trials`` is below 1, or ``out_dir``
            holds a training run (before anything is written).
        TypeError: ``space`` is none of those.
        StudyInterrupted: a :class:`KeyboardInterrupt`: the study was interrupted
            (``trials.csv``, and ``best.yaml`` from the completed trials if any, are written
            first; running it again continues it).
    """
    import optuna
    from optuna.trial import TrialState

    space = space_of(space)
    if n_trials < 1:
        raise ValueError(
            f"run_study needs at least one trial to run, got n_trials={n_trials}: give 1 or more"
        )
    out = Path(out_dir)
    check_out_dir(out)
    check_tunable(base, space)
    # the base config's data is loaded before anything is written: a split the loader refuses
    # (e.g. validation classes with no same-class pair) is one sentence, and no study folder
    cache: dict[str, RunData] = {_data_key(base): load_run_data(base.data)}
    check_positives(base, cache[_data_key(base)])
    note = _say_once(log)  # a model's note (e.g. normalisation set aside): once, not per trial
    _check_model(base, cache[_data_key(base)], note)
    _check_model_choices(base, space, cache[_data_key(base)], note)
    out.mkdir(parents=True, exist_ok=True)
    study = _open_study(base, space, out)
    plugins = _remember_plugins(study, plugins)
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    finished = len(study.get_trials(deepcopy=False, states=done))
    remaining = max(0, n_trials - finished)
    if log is not None and study.get_trials(deepcopy=False):  # a study run before
        log(
            f"continuing the study in {out / STUDY_FILE}: "
            + (f"{finished} of {n_trials} trials finished, {remaining} to go" if remaining else
               f"{finished} trials finished, {n_trials} wanted: none to go (give a larger "
               "--trials to run more)")
        )  # fmt: skip
    t0 = time.perf_counter()

    def objective(trial: Any) -> float:
        """The trial's score; why a failed trial failed is kept for trials.csv (``reason``)."""
        try:
            value = train_trial(trial)
        except RefusedCombination as err:  # raised inside training too (a refused miner)
            trial.set_user_attr("refused", str(err))
            raise
        if not math.isfinite(value):  # Optuna fails the trial, saying so in its log only
            trial.set_user_attr(FAILED, f"the validation metric was {value}, not a number")
        return value

    def train_trial(trial: Any) -> float:
        try:  # a loss's own key (loss.temperature) only when the trial's loss reads it
            values = space.draw(base, lambda p: _suggest(trial, p))
            cfg = apply_overrides(base, space.overrides(values, base))
        except ValueError as err:  # a combination the config refuses: this trial fails, go on
            trial.set_user_attr("refused", str(err))
            raise RefusedCombination(str(err)) from None
        key = _data_key(cfg)
        if key not in cache:  # loaded once per data config (setdefault would load every trial)
            cache[key] = load_run_data(cfg.data)
        data = cache[key]
        mean, std = data.channel_stats()
        try:  # a model or loss of this trial that cannot train on these data (or be built:
            # values that each fit the config's others, widths [8] and taps [1], but not together)
            # seeded as siamkit train seeds, so the weights start as a train run of this config's
            # do, whatever trials ran before (best.yaml gives the validation figures recorded)
            seed_everything(cfg.train.seed)
            net = build_model(cfg.model, data.input_shape, mean, std, log=note)
            check_input_size(net, cfg, data.input_shape)
            check_positives(cfg, data)
            if cfg.model.init_from:  # as siamkit train starts: from the saved model's weights
                init_from_model(net, cfg.model.init_from)
        except ValueError as err:
            trial.set_user_attr("refused", str(err))
            raise RefusedCombination(str(err)) from None

        def on_epoch(epoch: int, metric: float) -> None:
            trial.report(metric, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        try:  # its objective too: a miner the cross-batch memory cannot use, say
            trainer = Trainer.from_config(
                net, cfg, data, out_dir=None, progress=False, log=lambda s: _trial_note(s, note),
                validate=_validator(cfg, data, on_epoch),
            )  # fmt: skip
        except ValueError as err:
            trial.set_user_attr("refused", str(err))
            raise RefusedCombination(str(err)) from None
        try:
            result = trainer.fit()
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED, True)
            raise
        scores = [h["val_metric"] for h in result.history if h["val_metric"] is not None]
        if not scores:
            raise ValueError("the trial reported no validation metric")
        best = result.best_metric
        return float(best if cfg.train.restore_best and best is not None else scores[-1])

    # tqdm on a terminal, a few plain lines in a log (no carriage returns), as training's bars
    bar = Progress(remaining, "trials", "trials", parts=4) if progress else None
    cap = failure_cap(n_trials)
    ran = {"finished": 0, "failed in a row": 0}
    stopped: list[tuple[StopReason, str]] = []

    def tick(study: Any, trial: Any) -> None:
        ended = trial.state in done  # a failed trial does not count towards n_trials
        ran["finished"] += int(ended)
        ran["failed in a row"] = 0 if ended else ran["failed in a row"] + 1
        if log is not None:  # the trial's line before the progress line that counts it
            shown = "-" if trial.value is None else f"{trial.value:.4f}"
            line = f"trial {trial.number}: {_state(trial)}, validation {shown}"
            if bar is not None:  # on a terminal, between the bar's redraws (not into it)
                bar.write(line, log)
            else:
                log(line)
        if bar is not None:
            best = study.best_value if _any_complete(study) else None
            bar.set_postfix(best="-" if best is None else f"{best:.4f}")  # before a plain line
            if ended:
                bar.update(1)
        if ran["finished"] >= remaining:
            study.stop()
        elif ran["failed in a row"] >= cap:
            stopped.append((
                "failures",
                f"the study stopped after {cap} trials in a row failed, with "
                f"{finished + ran['finished']} of {n_trials} trials finished: the space's "
                "values keep failing with this config (each failed trial's warning says why); "
                "change the space or the config, and give a new --out",
            ))  # fmt: skip
            study.stop()

    was_on = is_enabled()
    set_enabled(False)  # one line per trial, not every epoch's validation embedding
    quiet = _TrialFailures()
    optimize_log = logging.getLogger("optuna.study._optimize")
    optimize_log.addFilter(quiet)
    try:
        if remaining:
            study.optimize(  # until tick stops it: remaining finished, or cap failures
                objective,
                n_trials=None,
                timeout=timeout,
                callbacks=[tick],
                catch=(RefusedCombination,),
            )
    except KeyboardInterrupt:
        _write_trials(
            study, base, space, out / "trials.csv"
        )  # the trials so far; study.db keeps them
        complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        raise StudyInterrupted(_write_best(study, base, space, out, plugins)[1], complete) from None
    finally:
        optimize_log.removeFilter(quiet)
        set_enabled(was_on)
        if bar is not None:
            bar.close()
    got = finished + ran["finished"]
    if timeout is not None and not stopped and got < n_trials:  # optimize's timeout ended it
        stopped.append((
            "timeout",
            f"the study stopped at its timeout of {timeout:g} s with {got} of {n_trials} trials "
            "finished; run it again with the same arguments to continue it",
        ))  # fmt: skip
    result = _finish(study, base, space, out, time.perf_counter() - t0, plugins)
    by, why = stopped[0] if stopped else (None, None)
    return dataclasses.replace(result, stopped=why, stopped_by=by)


#: What in a folder marks a ``siamkit train`` run (its checkpoint, its saved model).
TRAINING_RUN_FILES = ("checkpoint.pt", "model")


def check_out_dir(out: Path) -> None:
    """Refuse a study folder that holds a training run (the study's files would be mixed into
    it) or that cannot be made (below a file)."""
    check_writable_folder(out, f"--out {out}")
    found = [name for name in TRAINING_RUN_FILES if (out / name).exists()]
    if found:
        raise ValueError(
            f"--out {out} holds a training run ({', '.join(found)}); choose another --out for "
            "the study"
        )


def _trial_note(line: str, note: Callable[[str], None]) -> None:
    """A trial's training line: its notes (e.g. P capped at the training classes) go to
    ``note``, said once for the study; its epoch lines are left out (trials.csv has them)."""
    if line.startswith("note: "):
        note(line)


def _say_once(log: Callable[[str], None] | None) -> Callable[[str], None]:
    """``log`` (or a ``UserWarning`` without one) each distinct line once: building the model of
    every trial said the same note (and warned with a source line) once a trial."""
    said: set[str] = set()

    def note(msg: str) -> None:
        if msg in said:
            return
        said.add(msg)
        if log is not None:
            log(msg)
        else:
            warnings.warn(msg, UserWarning, stacklevel=3)

    return note


def _check_model(base: RunConfig, data: RunData, note: Callable[[str], None] | None = None) -> None:
    """The base config's model takes the data's images (:func:`check_input_size`), and its
    ``model.init_from`` model loads into it. Built under a forked random state, so the check
    draws none of the numbers the trials' weights come from (the study's trials stay those of a
    run without the check). ``note`` gets the model's note, if any."""
    import torch

    mean, std = data.channel_stats()
    with torch.random.fork_rng(devices=[]):
        net = build_model(base.model, data.input_shape, mean, std, log=note)
    check_input_size(net, base, data.input_shape)
    if base.model.init_from:  # a missing model, or one that does not fit: refused before a trial
        init_from_model(net, base.model.init_from)


def _and(names: Sequence[str]) -> str:
    """``a, b and c``."""
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def _check_model_choices(
    base: RunConfig, space: SearchSpace, data: RunData, note: Callable[[str], None] | None = None
) -> None:
    """Every model a value of ``space`` gives (with the config's other values) can be built: a
    ConvNet choice of fewer blocks than the config's ``taps`` name, which the trial keeps beside
    it, would stop the study at the first trial drawing it. Built under a forked random state,
    as :func:`_check_model`.

    Raises:
        ValueError: one sentence naming the value, why and what to change.
    """
    import torch

    from siamkit.tuning.space import kept_beside

    mean, std = data.channel_stats()
    for p in space.params:
        if not any(k.startswith("model.") for k in p.config_keys()):
            continue
        for v in p.checked_values():
            cfg = apply_overrides(base, space.overrides({p.key: v}, base))
            try:
                with torch.random.fork_rng(devices=[]):
                    build_model(cfg.model, data.input_shape, mean, std, log=note)
            except ValueError as err:
                why = str(err).removeprefix("model.encoder / model.encoder_kwargs: ")
                kept = kept_beside(p.key, v, base)
                raise ValueError(
                    f"search space: {p.key} = {v!r} builds no model with this config ({why}): "
                    f"change that {'choice' if p.kind == 'choice' else 'range'}"
                    + (
                        f", or the config's model.encoder_kwargs {_and(kept)}, which every "
                        f"{base.model.encoder} trial keeps beside the choice's"
                        if kept
                        else ""
                    )
                ) from None


class _TrialFailures(logging.Filter):
    """Optuna's "Trial N failed" warnings without what is not news: an interrupted trial's
    (the command says the study was interrupted) and a refused combination's traceback (its
    message says it all)."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        trial = record.getMessage().partition(" failed")[0]  # "Trial 3"
        if isinstance(exc, KeyboardInterrupt):
            self.interrupted.add(trial)
            return False
        if isinstance(exc, RefusedCombination):
            record.exc_info, record.exc_text = None, None
        return trial not in self.interrupted


def _any_complete(study: Any) -> bool:
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _finish(
    study: Any,
    base: RunConfig,
    space: SearchSpace,
    out: Path,
    seconds: float,
    plugins: Sequence[str] = (),
) -> StudyResult:
    _write_trials(study, base, space, out / "trials.csv")
    trials = study.get_trials(deepcopy=False)
    states = [_state(t) for t in trials]
    best_params, best_path, best_value = _write_best(study, base, space, out, plugins)
    scores = [
        float(t.value) for t, state in zip(trials, states, strict=True) if state == "complete"
    ]
    return StudyResult(
        best_value,
        best_params,
        best_path,
        states.count("complete"),
        states.count("pruned"),
        states.count("fail"),
        seconds,
        states.count(INTERRUPTED),
        flat_scores(scores, base),
    )


def _write_best(
    study: Any, base: RunConfig, space: SearchSpace, out: Path, plugins: Sequence[str]
) -> tuple[dict[str, Any], Path | None, float | None]:
    """Write ``out/best.yaml``, the base config with the best completed trial's values; returns
    those values, its path and the trial's score (``{}, None, None`` before any trial completed:
    nothing is written)."""
    if not _any_complete(study):
        return {}, None, None
    best = study.best_trial
    # in the space's order (a loss's own key is drawn after the others: Param.loss_key)
    params = {p.key: p.value(best.params[p.key]) for p in space.params if p.key in best.params}
    cfg = apply_overrides(base, space.overrides(params, base))
    return params, dump_config(cfg, out / "best.yaml", plugins=plugins), float(best.value)


def _write_trials(study: Any, base: RunConfig, space: SearchSpace, path: Path) -> None:
    """One row per trial: number, state, validation score, epochs reached, values, and why a
    failed trial failed (``reason``: a refused combination's sentence, say). A choice is
    JSON as the trial trained it (a ConvNet's ``encoder_kwargs`` merged over ``base``'s:
    :meth:`SearchSpace.trained`); a value a trial did not draw is empty."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        w = csv.writer(f)
        keys = [p.key for p in space.params]
        w.writerow(["trial", "state", "value", "epochs", *keys, "reason"])
        for t in study.get_trials(deepcopy=False):
            drawn = {p.key: p.value(t.params[p.key]) for p in space.params if p.key in t.params}
            trained = space.trained(drawn, base)
            cells = [
                None
                if p.key not in trained
                else json.dumps(trained[p.key], sort_keys=True)
                if p.kind == "choice"
                else t.params[p.key]
                for p in space.params
            ]
            row = [t.number, _state(t), t.value, len(t.intermediate_values), *cells, _reason(t)]
            w.writerow(row)
