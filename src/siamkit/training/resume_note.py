"""The line a resumed run says when its checkpoint left nothing to train.

``siamkit train ... --resume`` of a run that had finished (or stopped early) trains no epoch and
then saves and summarises the model as it is: without this line the summary read as a new run's.
"""

from __future__ import annotations

import os

from siamkit.training.trainer import TrainResult


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
    again = "nothing is left to resume, so the model is saved and summarised again as it is"
    new_run = f"start a new run from its model (--init-from {os.fspath(run_dir)}/model --out NEW)"
    if result.stopped_early and done < epochs:
        return (
            f"{os.fspath(checkpoint)} holds a run that stopped early, after epoch {done} of "
            f"{epochs}: {again}; to train longer, {new_run}"
        )
    held = f"all {done} of {epochs} epochs" if done == epochs else f"{done} epochs"
    if schedule == "onecycle":
        more = f"{new_run}: optim.schedule onecycle fixes train.epochs"
    else:
        more = f"resume with train.epochs above {done} (--set train.epochs={2 * done} --resume"
        if schedule == "cosine":
            more += "; the cosine schedule then spans the new total, so the rate rises again"
        more += ")"
    return (
        f"{os.fspath(checkpoint)} holds a finished run ({held}): {again}; to train longer, {more}"
    )
