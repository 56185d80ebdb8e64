"""Checks made before a study writes anything: a config and space that can be tuned, a study
folder that is no training run, and models that every value of the space can build."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from siamkit.atomic import check_writable_folder
from siamkit.clauses import in_number, listed
from siamkit.training import RunConfig, RunData, build_model, load_run_data
from siamkit.training.config_overrides import apply_overrides
from siamkit.training.init_from import init_from_model
from siamkit.training.preflight import check_input_size
from siamkit.tuning.space import Param, SearchSpace
from siamkit.tuning.study import STUDY_FILE, not_a_study


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
    # every key a parameter sets: a whole section's choice ({val_classes: [0, 1]}) too
    for key, why in _scoring_keys(base).items():
        if any(k == key or k.startswith(key + ".") for p in space.params for k in p.config_keys()):
            raise ValueError(
                f"{key} cannot be searched: {why}, so trials must be scored alike; set it in "
                "the config"
            )
    space.check(base)


def _scoring_keys(base: RunConfig) -> dict[str, str]:
    """The config keys that decide how ``base``'s trials are scored, each with why: a study
    searching one compares trials on different classes, by different measures or tasks
    (precision@1 against EER, a 2-way against a 4-way few-shot task), and best.yaml takes the
    easiest classes', measure's or task's trial, not the best model's."""
    keys = {
        "data.val_classes": "it picks the validation classes each trial is scored on",
        "train.val_metric": "it picks the validation measure each trial is scored by (and "
        "whether higher or lower is better)",
    }
    if base.train.val_metric == "few_shot":  # make_validator: N-way from eval.ways, its queries
        keys["eval.ways"] = (
            "with train.val_metric few_shot it sets the N-way task each trial is scored on"
        )
        keys["eval.queries"] = (
            "with train.val_metric few_shot it sets the queries each trial's few-shot task has"
        )
    return keys


#: What in a folder marks a ``siamkit train`` run (its checkpoint, its saved model).
TRAINING_RUN_FILES = ("checkpoint.pt", "model")


def check_out_dir(out: Path) -> None:
    """Refuse a study folder that holds a training run (the study's files would be mixed into
    it), that cannot be made (below a file), or whose ``study.db``, ``best.yaml`` or
    ``trials.csv`` are of no study ``siamkit tune`` can continue (:func:`_check_study_file`)."""
    check_writable_folder(out, f"--out {out}")
    found = [name for name in TRAINING_RUN_FILES if (out / name).exists()]
    if found:
        raise ValueError(
            f"--out {out} holds a training run ({', '.join(found)}); choose another --out for "
            "the study"
        )
    _check_study_file(out)


#: What a study writes beside its ``study.db`` (:mod:`siamkit.tuning.results`).
STUDY_OUTPUTS = ("best.yaml", "trials.csv")


def _check_study_file(out: Path) -> None:
    """Refuse a folder whose ``study.db`` is no study ``siamkit tune`` can continue, or whose
    ``best.yaml`` / ``trials.csv`` are of no study in it: a text file of that name stopped the
    study with SQLAlchemy's traceback after the data loaded, a SQLite database of the user's
    had Optuna's tables written into it, and files of a study's names beside no ``study.db``
    were overwritten."""
    db = out / STUDY_FILE
    if not db.exists():
        found = [name for name in STUDY_OUTPUTS if (out / name).exists()]
        if found:
            raise ValueError(
                f"--out {out} holds {listed(found)} but no {STUDY_FILE}, so they are of no study "
                "this one continues and it would overwrite them; choose another --out, or move "
                "them"
            )
        return
    why = not_a_study(db)
    if why:
        raise ValueError(
            f"--out {out}: {db} is not a study siamkit tune can continue ({why}); choose another "
            "--out for the study, or move it"
        )


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


def _check_model_choices(
    base: RunConfig, space: SearchSpace, data: RunData, note: Callable[[str], None] | None = None
) -> None:
    """Every model a value of ``space`` gives can be built: a ConvNet choice of fewer blocks
    than the config's ``taps`` name, which the trial keeps beside it, would stop the study at
    the first trial drawing it. Built under a forked random state, as :func:`_check_model`.

    With several ``model.*`` parameters, a value is refused only when it builds no model beside
    every combination of the others' checked values, which the trials draw instead of the
    config's (widths ``[8]`` fail beside the config's taps ``[1]`` but build beside a searched
    taps ``[0]``); beyond :data:`MAX_COMBINATIONS` it is left to each trial's own build, as
    :func:`_check_data_choices` leaves data.

    Raises:
        ValueError: one sentence naming the value, why and what to change.
    """
    import torch

    from siamkit.tuning.space import KWARGS, kept_beside

    mean, std = data.channel_stats()

    def build(cfg: RunConfig) -> None:
        with torch.random.fork_rng(devices=[]):
            build_model(cfg.model, data.input_shape, mean, std, log=note)

    params = [p for p in space.params if any(k.startswith("model.") for k in p.config_keys())]
    for p, v, others, err in _refused_values(base, space, params, build):
        why = str(err).removeprefix("model.encoder / model.encoder_kwargs: ")
        searched = {k.removeprefix(KWARGS + ".") for q in others for k in q.config_keys()}
        searched |= {e for q in others for e in q.kwargs_entries()}
        kept = [k for k in kept_beside(p.key, v, base) if k not in searched]
        raise ValueError(
            f"search space: {p.key} = {v!r} builds no model with this config{_beside(others)} "
            f"({why}): change that {'choice' if p.kind == 'choice' else 'range'}"
            + (
                f", or the config's model.encoder_kwargs {listed(kept)}, which every "
                f"{base.model.encoder} trial keeps beside the choice's"
                if kept
                else ""
            )
        )


#: At most this many combinations of the other searched values (of the same kind: ``model.*``,
#: or ``data.*`` and ``eval.*``) are checked with one value before a study (each builds a model
#: or loads the data); a value beside more is left to each trial's own check.
MAX_COMBINATIONS = 8


def _refused_values(
    base: RunConfig,
    space: SearchSpace,
    params: list[Param],
    check: Callable[[RunConfig], object],
    of: list[Param] | None = None,
) -> Iterator[tuple[Param, Any, list[Param], ValueError]]:
    """Each checked value ``v`` of a parameter ``p`` of ``params`` (of those in ``of`` only,
    when given) that ``check`` (or the config) refuses beside every combination of the other
    ``params``' checked values (each choice, both ends of a range), as ``(p, v, others, the
    first combination's error)``: a trial draws the others' values, not the config's. A value
    whose others have more than :data:`MAX_COMBINATIONS` combinations is not checked (each
    trial checks its own)."""
    for p in params if of is None else of:
        others = [q for q in params if q is not p]
        if math.prod(len(q.checked_values()) for q in others) > MAX_COMBINATIONS:
            continue  # too many to check: each trial's values are checked (run_study)
        for v in p.checked_values():
            first: ValueError | None = None
            for drawn in itertools.product(*(q.checked_values() for q in others)):
                by_key = {p.key: v, **{q.key: w for q, w in zip(others, drawn)}}
                values = {q.key: by_key[q.key] for q in params}  # in the space's order
                try:
                    check(apply_overrides(base, space.overrides(values, base)))
                except ValueError as err:  # a ConfigError too: values the config refuses
                    first = first or err
                    continue
                break  # a trial drawing v can train
            else:
                assert first is not None  # every parameter has a checked value
                yield p, v, others, first


def _beside(others: list[Param]) -> str:
    """`` beside each searched value of data.limit`` (nothing without ``others``)."""
    return f" beside each searched value of {listed([q.key for q in others])}" if others else ""


def data_kept_apart(base: RunData, data: RunData) -> None:
    """Refuse, in one sentence, a trial's ``data`` whose classes or test classes are not the
    config's (``base``): a searched ``data.*`` value (``data.train_classes``, another data set)
    would otherwise train or select on the config's test classes. (The same test classes of the
    same classes leave the same training classes. The validation classes are ``data.val_classes``,
    a key of their own, not compared here: :func:`check_tunable` refuses a space that sets it,
    so every trial keeps the config's.)

    Raises:
        ValueError: the clause saying what moved (the caller names the value and the fix).
    """
    if data.class_names != base.class_names:
        raise ValueError(
            f"it loads other classes than the config's ({len(data.class_names)} classes, "
            f"the config's data have {len(base.class_names)}, not all the same): a trial trains, "
            "validates and tests on the config's classes; change the space"
        )
    if data.test_classes != base.test_classes:
        trains = sorted(set(base.test_classes) & set(data.train_classes + data.val_classes))
        what = (
            f"it trains or validates on {_classes(base.class_names, trains)}, "
            f"{'a test class' if len(trains) == 1 else 'test classes'} of the config"
            if trains
            else f"it tests on {_classes(base.class_names, data.test_classes)}, not the "
            f"config's {_classes(base.class_names, base.test_classes)}"
        )
        raise ValueError(
            f"{what}: a trial must never train or select on the test classes; change the space"
        )


def _classes(names: tuple[str, ...], ids: Any) -> str:
    """``classes 6 and 7`` (by id, with the name where it is not the id: ``class 6 'shirt'``)."""
    said = [f"{i}" if names[i] == str(i) else f"{i} {names[i]!r}" for i in ids]
    return f"{in_number(len(said), 'class', 'classes')} {listed(said) if said else 'none'}"


def _check_data_choices(
    base: RunConfig, space: SearchSpace, base_data: RunData, load: Callable[[RunConfig], RunData]
) -> None:
    """Every value of ``space`` that sets a ``data.*`` or ``eval.*`` key gives data that
    ``load`` accepts: the study's loader, which makes training's check of the test classes
    (:func:`~siamkit.training.eval_protocol.protocol_check`) and refuses data that do not keep
    ``base_data``'s classes and test classes (:func:`data_kept_apart`): only the config's data were
    checked before, so a trial could train on a test class, or stop the study at a
    ``data.labels_per_class`` its classes cannot give. Both ends of a range are checked, as
    :meth:`SearchSpace.check` checks them.

    With several such parameters, a value is refused only when it fails beside every
    combination of the others' checked values, which the trials draw instead of the config's:
    ``data.labels_per_class: 10`` is refused beside the config's ``data.limit: 20`` but trains
    beside a searched ``data.limit: null``. A value whose others have more than
    :data:`MAX_COMBINATIONS` combinations is not checked here (each combination loads its
    data): each trial's data are checked before it trains, and a trial whose values together
    are refused fails on its own, with the reason, and the study goes on. A value of
    :data:`CLASS_KEYS` (the classes) is then still checked with :func:`data_kept_apart`, loaded
    once beside the config's other data values (the classes depend on no other) and beside the
    other searched class keys' values, so a space whose every ``data.train_classes`` reaches a
    test class writes no study whose every trial fails.

    Raises:
        ValueError: one sentence naming the setting, the value and why.
    """
    params = [
        p for p in space.params if any(k.startswith(("data.", "eval.")) for k in p.config_keys())
    ]
    for p, v, others, err in _refused_values(base, space, params, load):
        raise ValueError(f"search space: {p.key} = {v!r} is refused{_beside(others)}: {err}")
    # beyond MAX_COMBINATIONS a value moving the classes was left to the trials, and a space
    # whose every data.train_classes reached a test class wrote a study that failed each trial
    skipped = [
        p for p in params if _moves_classes(p) and _combinations(p, params) > MAX_COMBINATIONS
    ]
    if not skipped:
        return
    moving = [p for p in params if _moves_classes(p)]

    def kept_apart(cfg: RunConfig) -> None:
        if all(getattr(cfg.data, k[5:]) == getattr(base.data, k[5:]) for k in CLASS_KEYS):
            return  # the config's classes: nothing to load
        try:  # its classes only: a value refused for another reason here is left to the trials
            data = load_run_data(dataclasses.replace(cfg.data, labels_per_class=None, limit=None))
        except (ValueError, OSError):
            return
        data_kept_apart(base_data, data)

    for p, v, others, err in _refused_values(base, space, moving, kept_apart, of=skipped):
        raise ValueError(f"search space: {p.key} = {v!r} is refused{_beside(others)}: {err}")


#: The ``data.*`` keys that decide a run's classes and test classes (:func:`data_kept_apart`
#: compares them); the others (a limit, labels per class) keep the classes they are given.
CLASS_KEYS = ("data.train_classes", "data.dataset", "data.root", "data.dataset_params")


def _moves_classes(p: Param) -> bool:
    """Whether ``p`` sets a key of :data:`CLASS_KEYS` (a whole ``data`` choice's included)."""
    return any(k == c or k.startswith(c + ".") for k in p.config_keys() for c in CLASS_KEYS)


def _combinations(p: Param, params: list[Param]) -> int:
    """How many combinations of the other ``params``' checked values ``p``'s are checked beside."""
    return math.prod(len(q.checked_values()) for q in params if q is not p)
