"""What a study found: :class:`StudyResult`, and the ``trials.csv`` and ``best.yaml`` written
from its trials."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from siamkit.atomic import atomic_path
from siamkit.clauses import listed
from siamkit.training import RunConfig
from siamkit.training.config_io import dump_config
from siamkit.training.config_overrides import apply_overrides
from siamkit.tuning.space import SearchSpace
from siamkit.tuning.study import INTERRUPTED, _reason, _state

#: What stopped a study before ``n_trials`` finished (:attr:`StudyResult.stopped_by`).
StopReason = Literal["failures", "timeout"]


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
    others = listed(
        [f"--set train.val_metric={m}" for m in ("eer", "few_shot") if m != metric], "or"
    )
    n_val = held if isinstance(held, int) else len(held or ())
    return (
        f"the {len(values)} completed trials' validation {metric} scores are all within "
        f"{FLAT_SCORES} of each other ({min(values):.4f} to {max(values):.4f}), so the best "
        f"config is no better than the others: score the trials with {others}, or hold out "
        f"more validation classes than {n_val} (data.val_classes), and run a new study"
    )


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
