"""The line a resumed run says when its checkpoint left nothing to train.

``siamkit train ... --resume`` of a run that had finished (or stopped early) trains no epoch and
then saves and summarises the model as it is: without this line the summary read as a new run's.
Image and self-supervised runs say :func:`nothing_resumed_line`, a tracker (``task: siamfc``)
:func:`tracker_nothing_resumed_line`, a text run :func:`text_finished_line`; each says how to
train longer in the way that works for its schedule.

``siamkit train --resume`` of an image run says :func:`complete_line` before anything is written
and ends there, changing none of the run's files, or :func:`resuming_line` and trains on
(:func:`nothing_resumed_line` stays for :func:`~siamkit.experiment.run_experiment` called with
``resume=True`` from Python). A self-supervised run (``task: ssl``) says the same lines, and a
text run :func:`resuming_line` or :func:`text_finished_line` with ``complete=True``, each ending
there too when its model and ``metrics.json`` are saved (else they are saved as before).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from siamkit.clauses import counted, in_number
from siamkit.training.tasks import TaskSummary
from siamkit.training.trainer import TrainResult

#: What a resume of a finished run does instead of training (an image or self-supervised run).
AGAIN = "nothing is left to resume, so the model is saved and summarised again as it is"


def new_run_from(run_dir: str | os.PathLike[str], *sets: str) -> str:
    """The advice to train on as a new run started from ``run_dir``'s model, with ``--set``
    ``sets`` (``key=value``) besides.

    >>> new_run_from("runs/a")
    'start a new run from its model (--init-from runs/a/model --out NEW)'
    """
    given = "".join(f" --set {item}" for item in sets)
    return (
        f"start a new run from its model (--init-from {os.fspath(run_dir)}/model{given} --out NEW)"
    )


def finished_line(
    checkpoint: str | os.PathLike[str], held: str, more: str, again: str = AGAIN
) -> str:
    """The sentence for ``checkpoint``, a finished run of ``held`` (``all 3 of 3 epochs``):
    ``again``, what the resume does instead, and ``more``, how to train longer."""
    return (
        f"{os.fspath(checkpoint)} holds a finished run ({held}): {again}; to train longer, {more}"
    )


def nothing_resumed_line(
    result: TrainResult,
    epochs: int,
    checkpoint: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    schedule: str = "constant",
) -> str | None:
    """The sentence for a resume of ``checkpoint`` that trained no epoch, else ``None``.

    Args:
        result: what :meth:`~siamkit.training.trainer.Trainer.fit` returned.
        epochs: the run's ``train.epochs``.
        checkpoint: the file resumed, named in the sentence.
        run_dir: the run's folder, whose ``model`` a new run can start from.
        schedule: the run's ``optim.schedule``: ``onecycle`` fixes ``train.epochs`` (a resume
            may not change it); ``cosine`` is rebuilt over the new total, so a resume with more
            epochs raises the learning rate again before it decays.

    >>> r = TrainResult([], None, None, False, resumed_at=3, epochs_run=0)
    >>> nothing_resumed_line(r, 3, "runs/a/checkpoint.pt", "runs/a")  # doctest: +NORMALIZE_WHITESPACE
    'runs/a/checkpoint.pt holds a finished run (all 3 of 3 epochs): nothing is left to resume, so
    the model is saved and summarised again as it is; to train longer, resume with train.epochs
    above 3 (--set train.epochs=6 --resume)'
    """
    done = result.resumed_at
    if done is None or result.epochs_run:
        return None
    held = f"all {done} of {epochs} epochs" if done == epochs else f"{done} epochs"
    return _finished(checkpoint, done, epochs, result.stopped_early, run_dir, schedule, held, AGAIN)


#: What ``siamkit train --resume`` of a complete run does instead of training.
COMPLETE = "the run is already complete, so nothing was trained and none of its files changed"


def complete_line(
    checkpoint: str | os.PathLike[str],
    done: int,
    stopped: bool,
    epochs: int,
    run_dir: str | os.PathLike[str],
    schedule: str = "constant",
) -> str | None:
    """The sentence for ``siamkit train --resume`` of ``checkpoint``, which trained ``done``
    epochs (``stopped``: a callback ended it early), when it leaves none of the run's
    ``epochs`` to train: the command then ends there, writing nothing (the run's files, its
    ``train_seconds`` among them, stay as they were). ``None`` when epochs are left (e.g. the
    user raised ``train.epochs``). ``schedule`` as in :func:`nothing_resumed_line`.

    >>> complete_line("runs/a/checkpoint.pt", 3, False, 3, "runs/a")  # doctest: +NORMALIZE_WHITESPACE
    'runs/a/checkpoint.pt holds a finished run (epochs 3 of 3): the run is already complete, so
    nothing was trained and none of its files changed; to train longer, resume with train.epochs
    above 3 (--set train.epochs=6 --resume)'
    >>> complete_line("runs/a/checkpoint.pt", 2, False, 3, "runs/a") is None
    True
    """
    if done < epochs and not stopped:
        return None
    held = f"epochs {done} of {epochs}" if done == epochs else f"{done} epochs"
    return _finished(checkpoint, done, epochs, stopped, run_dir, schedule, held, COMPLETE)


def resuming_line(
    checkpoint: str | os.PathLike[str],
    done: int,
    epochs: int,
    step: int = 0,
    steps: int | None = None,
) -> str:
    """The line ``siamkit train --resume`` says before it trains on from ``checkpoint``, which
    trained ``done`` of the run's ``epochs``, and ``step`` of the ``steps`` of the next one (a
    checkpoint taken within an epoch: a text run's ``train.checkpoint_every``).

    >>> resuming_line("runs/a/checkpoint.pt", 1, 3)
    'resuming at epoch 2 of 3 from runs/a/checkpoint.pt (2 epochs left)'
    >>> resuming_line("t/checkpoint.pt", 1, 3, step=4, steps=10)
    'resuming at epoch 2 of 3, step 5 of 10, from t/checkpoint.pt (6 steps of it and 1 more epoch left)'
    """
    left = epochs - done
    if not step or steps is None:
        return (
            f"resuming at epoch {done + 1:,} of {epochs:,} from {os.fspath(checkpoint)} "
            f"({counted(left, 'epoch')} left)"
        )
    more = left - 1
    rest = counted(steps - step, "step")
    if more:
        rest += f" of it and {more:,} more {in_number(more, 'epoch')}"
    return (
        f"resuming at epoch {done + 1:,} of {epochs:,}, step {step + 1:,} of {steps:,}, from "
        f"{os.fspath(checkpoint)} ({rest} left)"
    )


def run_saved(run_dir: Path) -> bool:
    """Whether ``run_dir``'s model and ``metrics.json`` are saved: a run whose checkpoint is at
    its last epoch without them was stopped (killed, or a full disk) in its final save or
    evaluation, and is not complete: its resume saves it."""
    return (run_dir / "metrics.json").is_file() and (run_dir / "model").is_dir()


def resume_note(
    checkpoint: Path, epochs: int, schedule: str, state: dict[str, Any] | None = None
) -> tuple[str, bool] | None:
    """What ``--resume`` of an image or self-supervised run's ``checkpoint`` says before it
    writes anything, and whether the run is complete (it then ends there): the
    :func:`complete_line` of a run whose model is saved (:func:`run_saved`), else the
    :func:`resuming_line`; ``None`` for a run at its end whose model was never saved (the resume
    saves it, and :func:`nothing_resumed_line` says why no epoch trained). ``state``: the
    checkpoint already read by the caller (else it is read here)."""
    from siamkit.training.checkpoint import load_checkpoint

    if state is None:
        state = load_checkpoint(checkpoint)
    done, stopped = int(state["epoch"]), bool(state.get("stopped"))
    said = complete_line(checkpoint, done, stopped, epochs, checkpoint.parent, schedule)
    if said is None:
        return resuming_line(checkpoint, done, epochs), False
    return (said, True) if run_saved(checkpoint.parent) else None


def saved_run_summary(run_dir: Path, names: dict[str, str]) -> TaskSummary:
    """The summary of ``run_dir``'s complete run as it finished, read back without writing
    anything: its model, ``metrics.json`` and the files of ``names`` (``{"history":
    "history.json"}``, in that order) that are there."""
    files = {key: run_dir / name for key, name in names.items() if (run_dir / name).is_file()}
    doc = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return TaskSummary(run_dir / "model", doc, files)


def _finished(
    checkpoint: str | os.PathLike[str],
    done: int,
    epochs: int,
    stopped: bool,
    run_dir: str | os.PathLike[str],
    schedule: str,
    held: str,
    again: str,
) -> str:
    """The sentence for ``checkpoint``, whose run of ``epochs`` trained ``done`` (``held`` says
    it) and left none: ``again``, what the resume does instead, and how to train longer."""
    new_run = new_run_from(run_dir)
    if stopped and done < epochs:
        return (
            f"{os.fspath(checkpoint)} holds a run that stopped early, after epoch {done} of "
            f"{epochs}: {again}; to train longer, {new_run}"
        )
    if schedule == "onecycle":
        more = f"{new_run}: optim.schedule onecycle fixes train.epochs"
    else:
        more = f"resume with train.epochs above {done} (--set train.epochs={2 * done} --resume"
        if schedule == "cosine":
            more += "; the cosine schedule then spans the new total, so the rate rises again"
        more += ")"
    return finished_line(checkpoint, held, more, again)


def tracker_nothing_resumed_line(
    result: TrainResult,
    steps_done: int,
    steps: int,
    checkpoint: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
) -> str | None:
    """The sentence for a resume of a tracker's (``task: siamfc``) ``checkpoint`` that trained no
    step, else ``None``; ``steps_done``: the steps the checkpoint had trained, ``steps``: the
    run's ``train.steps``. A tracker has no ``train.epochs``, and a resume may not change
    ``train.steps`` (the learning rate decays from ``train.lr`` to ``train.final_lr`` over
    them), so the advice is a new run from its model, which decays it over its own steps again.

    >>> r = TrainResult([], None, None, False, resumed_at=2, epochs_run=0)
    >>> tracker_nothing_resumed_line(r, 100, 100, "t/checkpoint.pt", "t")  # doctest: +NORMALIZE_WHITESPACE
    't/checkpoint.pt holds a finished run (all 100 of 100 steps): nothing is left to resume, so
    the model is validated and saved again as it is; to train longer, start a new run from its
    model (--init-from t/model --out NEW): train.steps cannot change on resume, as the learning
    rate decays over them, and the new run decays it from train.lr again over its own
    train.steps'
    """
    if result.resumed_at is None or result.epochs_run:
        return None
    more = (
        f"{new_run_from(run_dir)}: train.steps cannot change on resume, as the learning rate "
        "decays over them, and the new run decays it from train.lr again over its own train.steps"
    )
    again = "nothing is left to resume, so the model is validated and saved again as it is"
    return finished_line(checkpoint, f"all {steps_done} of {steps} steps", more, again)


def text_finished_line(
    checkpoint: str | os.PathLike[str],
    done: int,
    epochs: int,
    run_dir: str | os.PathLike[str],
    model_path: str | None,
    complete: bool = False,
) -> str:
    """The sentence for a resume of a text run's ``checkpoint`` that had trained ``done`` of its
    ``epochs``. A text run's ``train.epochs`` cannot change on resume (the warm-up and decay
    span all its steps), so the advice is a new run from its model; a config naming
    ``model.path`` (``model_path``, the run's start model) would refuse ``--init-from`` beside
    it, so the advice then sets ``model.path`` to null. ``complete``: the run's model and
    metrics are saved, so the resume ends there, changing nothing (:func:`complete_line`'s
    words); else it validates and saves the model again.

    >>> text_finished_line("t/checkpoint.pt", 1, 1, "t", "bert")  # doctest: +NORMALIZE_WHITESPACE
    "t/checkpoint.pt holds a finished run (1 of 1 epochs): nothing is left to train, so the model
    is validated and saved again; to train longer, start a new run from its model (--init-from
    t/model --set model.path=null --out NEW): a text run's warm-up and decay span its
    train.epochs, which a resume cannot change"
    >>> text_finished_line("t/checkpoint.pt", 1, 1, "t", None, complete=True)  # doctest: +NORMALIZE_WHITESPACE
    "t/checkpoint.pt holds a finished run (epochs 1 of 1): the run is already complete, so
    nothing was trained and none of its files changed; to train longer, start a new run from its
    model (--init-from t/model --out NEW): a text run's warm-up and decay span its train.epochs,
    which a resume cannot change"
    """
    sets = ("model.path=null",) if model_path is not None else ()
    more = (
        f"{new_run_from(run_dir, *sets)}: a text run's warm-up and decay span its train.epochs, "
        "which a resume cannot change"
    )
    if complete:
        return finished_line(checkpoint, f"epochs {done} of {epochs}", more, COMPLETE)
    again = "nothing is left to train, so the model is validated and saved again"
    return finished_line(checkpoint, f"{done} of {epochs} epochs", more, again)
