"""``run_study``: an Optuna study (TPE sampler, median pruning) over a run config.

Each trial trains the config with the trial's values and is scored by the validation metric
(``train.val_metric``) on the **validation classes** (``data.val_classes``), which the network
does not train on; the test classes are never loaded into a score. The study maximises the
metric, or minimises it when lower is better (``eer``). Every epoch's metric is
reported to the pruner, so hopeless trials stop early (from their second epoch, the first's
score ranking recipes poorly: :data:`~siamkit.tuning.study.PRUNE_FROM_EPOCH`; before their last
epoch: a trial that has trained is scored, not pruned). The study lives in ``DIR/study.db``
(SQLite): a killed study continues where it stopped when run again with the same arguments.

>>> result = run_study(load_config("configs/demo.yaml"), load_space(None), "runs/tune", n_trials=20)  # doctest: +SKIP
>>> result.best_config  # doctest: +SKIP
PosixPath('runs/tune/best.yaml')
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from siamkit.clauses import counted, in_number
from siamkit.data.folders import one_walk_per_folder
from siamkit.miners._common import NonFiniteEmbeddings
from siamkit.progress import Progress, progress_off
from siamkit.training import RunConfig, RunData, Trainer, build_model, load_run_data
from siamkit.training.config_io import config_to_dict
from siamkit.training.config_overrides import apply_overrides
from siamkit.training.eval_protocol import protocol_check
from siamkit.training.from_config import make_validator
from siamkit.training.init_from import init_from_model
from siamkit.training.preflight import check_input_size, check_positives
from siamkit.training.trainer import seed_everything
from siamkit.tuning.preflight import (
    _check_data_choices,
    _check_model,
    _check_model_choices,
    check_out_dir,
    check_tunable,
    data_kept_apart,
)
from siamkit.tuning.results import (
    StopReason,
    StudyResult,
    _any_complete,
    _finish,
    _write_best,
    _write_trials,
)
from siamkit.tuning.space import Param, SearchSpace, load_space
from siamkit.tuning.study import (
    FAILED,
    INTERRUPTED,
    STUDY_FILE,
    StudyLock,
    _fail_stale,
    _open_study,
    _remember_plugins,
    _state,
)


class RefusedCombination(ValueError):
    """A trial's values together make a config that the config (``apply_overrides``) or the
    model's build and checks refuse; the trial fails with the reason and the study goes on."""


class Diverged(Exception):
    """A trial's training diverged: its loss, its embeddings (in training or validation) or its
    network's weights became NaN or inf. The trial fails with the reason (its values do not
    train; Optuna's warning says it) and the study goes on, where the refusal of the NaN loss or
    embeddings stopped the whole study."""


def _diverged(net: nn.Module, epoch: int, err: Exception) -> Diverged | None:
    """:class:`Diverged` for ``err`` raised in ``epoch`` (counted from 1), when it is a
    divergence: a NaN or inf loss (``FloatingPointError``), embeddings or distances
    (:class:`NonFiniteEmbeddings`, whatever the weights: huge finite weights overflow them), or
    any ``ValueError`` once a weight or a batch norm's statistic is NaN or inf. ``None`` for
    another error, which is raised as it is (a bug, not the trial's values)."""
    state = [w for w in net.state_dict().values() if w.is_floating_point()]
    finite = all(bool(torch.isfinite(w).all()) for w in state)  # batch norm's statistics too
    if isinstance(err, FloatingPointError):
        what = "the training loss became NaN or inf"
    elif not finite:
        what = "the network's weights or statistics became NaN or inf"
    elif isinstance(err, NonFiniteEmbeddings):
        what = "the network's embeddings became NaN or inf"
    else:
        return None
    said = str(err).strip().rstrip(".")  # its own advice (check the data, the encoder) kept:
    # a NaN that is not the lr's is told the same way in every trial (reviewer s52_R16)
    return Diverged(
        f"training diverged: {what} in epoch {epoch}, so the trial has no validation metric "
        f"(a lower optim.lr trains){': ' + said if said else ''}"
    )


class StudyInterrupted(KeyboardInterrupt):
    """A Ctrl-C that stopped :func:`run_study`, after ``trials.csv`` and, when a trial had
    completed, ``best.yaml`` (``best_config``) were written from the finished trials."""

    def __init__(self, best_config: Path | None, complete: int) -> None:
        super().__init__()
        self.best_config = best_config
        self.complete = complete


class StudyTerminated(SystemExit):
    """A ``SystemExit`` that stopped :func:`run_study` (what siamkit's SIGTERM handler raises),
    after the trial it stopped was marked interrupted and ``trials.csv`` and, when a trial had
    completed, ``best.yaml`` (``best_config``) were written; its code is the exit's."""

    def __init__(self, code: str | int | None, best_config: Path | None, complete: int) -> None:
        super().__init__(code)
        self.best_config = best_config
        self.complete = complete


#: The study stops after this many failed trials in a row, or ``n_trials`` if more: a space
#: whose every combination the config refuses would otherwise draw trials for ever, since a
#: failed trial does not count towards the finished trials wanted.
MIN_FAILURES_IN_A_ROW = 10


def failure_cap(n_trials: int) -> int:
    """How many trials in a row may fail before a study wanting ``n_trials`` stops."""
    return max(n_trials, MIN_FAILURES_IN_A_ROW)


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
        try:
            metric = metric_of(net)
        except ValueError as err:  # NaN embeddings are refused by the metric: this trial's
            diverged = _diverged(net, epoch + 1, err)
            if diverged is None:  # a refusal with finite weights and embeddings: not divergence
                raise
            raise diverged from None
        epoch += 1
        on_epoch(epoch, metric)
        return metric

    return validate


def _data_key(cfg: RunConfig) -> str:
    doc = config_to_dict(cfg)["data"]
    doc.pop("augmentation", None)  # applied per batch: the loaded images do not depend on it
    return json.dumps(doc, sort_keys=True)


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

    The base config's test labels get the check training makes of them (its evaluation
    protocol: :func:`~siamkit.training.eval_protocol.protocol_check`) before anything is
    written, so a study never recommends a ``best.yaml`` that training refuses; the loader names
    it in the same sentence as a refused ``data.labels_per_class``
    (:func:`~siamkit.training.load_run_data`), as training does. So do the data of every
    ``data.*`` or ``eval.*`` value of the space (both ends of a range), beside the other such
    values the space searches, which must also keep the config's classes and test classes: no
    trial trains or selects on a test class. A value is refused there only when it is refused
    beside each of the others' values (and not loaded when they have too many combinations,
    but for a value moving the classes, whose classes are still checked:
    :func:`~siamkit.tuning.preflight._check_data_choices`); a trial whose values are refused
    together fails, with the reason, and the study goes on. An image folder is walked once for
    the whole study, however many data configs load it
    (:func:`~siamkit.data.folders.one_walk_per_folder`): its warnings, and the data set's notes
    of what that walk found, are said once, and every trial reads the images that first walk
    listed.

    Raises:
        ValueError: the config has no validation classes, its data split or its test classes'
            evaluation protocol (``eval.shots``, ``eval.ways``) is refused, the space
            names a key or value the config refuses (a ``data.*`` value moving the test
            classes among them), ``n_trials`` is below 1, or ``out_dir``
            holds a training run (before anything is written).
        TypeError: ``space`` is none of those.
        StudyInterrupted: a :class:`KeyboardInterrupt`: the study was interrupted
            (``trials.csv``, and ``best.yaml`` from the completed trials if any, are written
            first; running it again continues it).
        StudyTerminated: a ``SystemExit`` (a SIGTERM handler's) stopped the study, written
            first as on :class:`StudyInterrupted`.
        ~siamkit.tuning.study.StudyInUse: a ``ValueError``: another process runs a study in
            ``out_dir`` (it holds its lock, :class:`~siamkit.tuning.study.StudyLock`); said
            before the data load when the folder is there, else once it is made. Where the
            folder cannot be locked (Windows, a file system without ``flock``) the study runs,
            and ``log`` (else a :class:`~siamkit.tuning.study.StudyNotLocked` warning) says so
            once.
    """
    # each data config it loads walks the image folder: once per folder, not per data config
    # (data.limit: [null, 40, 45] walked it three times: s60_c6 noticed)
    with StudyLock(Path(out_dir), log) as lock, one_walk_per_folder():
        return _run_study(base, space, lock, n_trials, timeout, progress, log, plugins)


def _run_study(
    base: RunConfig,
    space: SearchSpace | Mapping[str, Any] | str | os.PathLike[str],
    lock: StudyLock,
    n_trials: int,
    timeout: float | None,
    progress: bool,
    log: Callable[[str], None] | None,
    plugins: Sequence[str],
) -> StudyResult:
    """:func:`run_study` in ``lock.out``, taking ``lock`` as soon as that is a folder checked as
    a study's: two studies in one folder failed each other's running trials (a study opened
    marks them interrupted) and overwrote each other's ``best.yaml`` and ``trials.csv``."""
    import optuna
    from optuna.trial import TrialState

    space = space_of(space)
    if n_trials < 1:
        raise ValueError(
            f"run_study needs at least one trial to run, got n_trials={n_trials}: give 1 or more"
        )
    out = lock.out
    check_out_dir(out)
    lock.take()  # a folder already there: before the data load (a new one once it is made)
    check_tunable(base, space)
    cache: dict[str, RunData] = {}

    def load(cfg: RunConfig) -> RunData:
        """``cfg``'s data, loaded once per data config (not per trial), its test labels
        checked as training checks them (``cfg``'s own protocol), so best.yaml trains, and its
        classes the config's (:func:`data_kept_apart`). Kept only once accepted: a refused
        trial's data were held for the rest of the study, and each trial drawing other refused
        values loaded and kept its own."""
        key = _data_key(cfg)
        check_test = protocol_check(cfg.eval)
        data = cache[key] if key in cache else load_run_data(cfg.data, check_test)
        check_test(data.test_y, data.class_names)
        # never trained or selected on a test class (the base config's own data: checked alike)
        data_kept_apart(data if base_data is None else base_data, data)
        cache[key] = data
        return data

    # the base config's data is loaded before anything is written: a split the loader refuses
    # (e.g. validation classes with no same-class pair) is one sentence, and no study folder
    base_data: RunData | None = None
    base_data = load(base)
    check_positives(base, base_data)
    note = _say_once(log)  # a model's note (e.g. normalisation set aside): once, not per trial
    _check_model(base, base_data, note)
    _check_model_choices(base, space, base_data, note)
    _check_data_choices(base, space, base_data, load)  # a searched data.* or eval.* value
    out.mkdir(parents=True, exist_ok=True)
    lock.take()  # before the study is opened: it would fail another study's running trials
    study = _open_study(base, space, out)
    plugins = _remember_plugins(study, plugins)
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    finished = len(study.get_trials(deepcopy=False, states=done))
    remaining = max(0, n_trials - finished)
    if log is not None and study.get_trials(deepcopy=False):  # a study run before
        log(
            f"continuing the study in {out / STUDY_FILE}: "
            + (f"{finished:,} of {n_trials:,} trials finished, {remaining:,} to go" if remaining
               else f"{counted(finished, 'trial')} finished, {n_trials:,} wanted: none to go "
               "(give a larger --trials to run more)")
        )  # fmt: skip
        if old := _pruned_at_their_end(study, base, space):
            log(
                f"note: {counted(old, 'trial')} {in_number(old, 'was', 'were')} pruned at the "
                "last epoch by an older siamkit, which asked the pruner there (this one scores a "
                "trial that ran all its epochs), so best.yaml leaves "
                f"{'it' if old == 1 else 'them'} out; trials.csv has "
                f"{'its score' if old == 1 else 'their scores'}, and a study in a new --out "
                "ranks every trial that ran all its epochs"
            )  # fmt: skip  # not 'finished': a trial pruned earlier is not ranked (s52_R16)
    t0 = time.perf_counter()

    def objective(trial: Any) -> float:
        """The trial's score; why a failed trial failed is kept for trials.csv (``reason``)."""
        try:
            value = train_trial(trial)
        except RefusedCombination as err:  # raised inside training too (a refused miner)
            trial.set_user_attr("refused", str(err))
            raise
        except KeyboardInterrupt:  # wherever in the trial: not a failure of its values
            trial.set_user_attr(INTERRUPTED, True)
            raise
        except Diverged as err:  # a failure of its values, raised so that Optuna's warning
            trial.set_user_attr(FAILED, str(err))  # says why (a NaN value: "nan is not acceptable")
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
        try:  # values checked beside the others' before the study, refused together here
            data = load(cfg)  # never trained or selected on a test class (data_kept_apart)
        except ValueError as err:
            trial.set_user_attr("refused", f"the trial's data are refused: {err}")
            raise RefusedCombination(f"the trial's data are refused: {err}") from None
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
            # not at its last epoch: the trial has trained, pruning would save nothing and only
            # leave it out of best.yaml (a finished 2-epoch trial below the 10-epoch trials' epoch
            # 2 median, whose own last epochs scored less, was pruned though it was the best)
            if epoch < cfg.train.epochs and trial.should_prune():
                raise optuna.TrialPruned()

        try:  # its objective too: a miner the cross-batch memory cannot use, say
            trainer = Trainer.from_config(
                net, cfg, data, out_dir=None, progress=False, log=lambda s: _trial_note(s, note),
                validate=_validator(cfg, data, on_epoch),
            )  # fmt: skip
        except ValueError as err:
            trial.set_user_attr("refused", str(err))
            raise RefusedCombination(str(err)) from None
        try:  # mid-epoch too: the loss or its check_batch refuses NaN embeddings (any weights)
            result = trainer.fit()
        except RefusedCombination:  # a refused miner, say: the objective says why
            raise
        except (ValueError, FloatingPointError) as err:
            diverged = _diverged(net, len(trainer.history) + 1, err)
            if diverged is None:
                raise
            raise diverged from None
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
                f"the study stopped after {cap:,} trials in a row failed, with "
                f"{finished + ran['finished']:,} of {n_trials:,} trials finished: the space's "
                "values keep failing with this config (each failed trial's warning says why, "
                f"as does {out / 'trials.csv'}); change the space or the config, and give a new "
                "--out",
            ))  # fmt: skip
            study.stop()

    quiet = _TrialFailures()
    optimize_log = logging.getLogger("optuna.study._optimize")
    optimize_log.addFilter(quiet)
    with progress_off():  # one line per trial, not every epoch's validation embedding
        try:
            if remaining:
                study.optimize(  # until tick stops it: remaining finished, or cap failures
                    objective,
                    n_trials=None,
                    timeout=timeout,
                    callbacks=[tick],
                    catch=(RefusedCombination, Diverged),
                )
        except (KeyboardInterrupt, SystemExit) as stop:
            # Optuna fails a trial on Ctrl-C but lets a SystemExit (SIGTERM's handler) through,
            # leaving it RUNNING: marked interrupted here, as the next run would mark it
            _fail_stale(study)
            _write_trials(
                study, base, space, out / "trials.csv"
            )  # the trials so far; study.db keeps them
            complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            best = _write_best(study, base, space, out, plugins)[1]
            if isinstance(stop, SystemExit):
                raise StudyTerminated(stop.code, best, complete) from None
            raise StudyInterrupted(best, complete) from None
        finally:
            optimize_log.removeFilter(quiet)
            if bar is not None:
                bar.close()
    got = finished + ran["finished"]
    if timeout is not None and not stopped and got < n_trials:  # optimize's timeout ended it
        stopped.append((
            "timeout",
            f"the study stopped at its timeout of {timeout:g} s with {got:,} of {n_trials:,} trials "
            "finished; run it again with the same arguments to continue it",
        ))  # fmt: skip
    result = _finish(study, base, space, out, time.perf_counter() - t0, plugins)
    by, why = stopped[0] if stopped else (None, None)
    return dataclasses.replace(result, stopped=why, stopped_by=by)


def _pruned_at_their_end(study: Any, base: RunConfig, space: SearchSpace) -> int:
    """How many of ``study``'s pruned trials reported every one of their epochs (the drawn
    ``train.epochs``, else ``base``'s): only a siamkit before fc369217 pruned a trial at its last
    epoch, and such a trial stays pruned, out of best.yaml, in a study continued since."""
    from optuna.trial import TrialState

    drawn = next((p for p in space.params if p.key == "train.epochs"), None)
    count = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,)):
        epochs = base.train.epochs
        if drawn is not None and drawn.key in t.params:
            epochs = drawn.value(t.params[drawn.key])
        count += int(len(t.intermediate_values) >= int(epochs))
    return count


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


class _TrialFailures(logging.Filter):
    """Optuna's "Trial N failed" warnings without what is not news: an interrupted trial's
    (the command says the study was interrupted) and a refused combination's or a diverged
    trial's traceback (its message says it all)."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        trial = record.getMessage().partition(" failed")[0]  # "Trial 3"
        if isinstance(exc, KeyboardInterrupt):
            self.interrupted.add(trial)
            return False
        if isinstance(exc, (RefusedCombination, Diverged)):
            record.exc_info, record.exc_text = None, None
        return trial not in self.interrupted
