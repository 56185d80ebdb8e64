"""What a run produced, typed: :class:`RunResult` (``to_dict()`` is the ``metrics.json`` layout).

>>> result = run_experiment(cfg, "runs/x")  # doctest: +SKIP
>>> assert result is not None  # None on torchrun's other processes  # doctest: +SKIP
>>> result.require_calibration().threshold  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from siamkit.evaluation import EvaluationReport
from siamkit.training.config import RunConfig
from siamkit.training.config_classes import eval_ways


@dataclass(frozen=True)
class Rates:
    """TAR, FAR and balanced accuracy of a fixed threshold on a set of pairs."""

    tar: float
    far: float
    balanced_accuracy: float


@dataclass(frozen=True)
class Calibration:
    """The verification threshold fit on validation pairs, and what it gives on the test pairs."""

    threshold: float
    target: str
    test: Rates


@dataclass(frozen=True)
class ScoreNorm:
    """The cohort score normalisation saved in the model (``eval.score_norm``)."""

    method: str
    k: int
    cohort: int
    cohort_source: str
    calibration_cohort: str


@dataclass(frozen=True)
class Timings:
    """Seconds spent training (data loading included) and evaluating (calibration included)."""

    train_seconds: float
    eval_seconds: float


@dataclass(frozen=True)
class RunResult:
    """A finished run: its history, calibration, evaluation on the test classes, ablations,
    timings, and where it wrote its files.

    ``calibration`` is ``None`` when the run had fewer than 3 validation images to fit a
    threshold on (``data.val_fraction: 0`` and no ``data.val_classes``); code checked with
    ``mypy --strict`` reads it with :meth:`require_calibration`, typed without ``None``."""

    config: RunConfig
    history: list[dict[str, Any]]
    evaluation: EvaluationReport
    calibration: Calibration | None
    score_norm: ScoreNorm | None
    ablations: dict[str, EvaluationReport]
    timings: Timings
    dataset: str
    train_classes: tuple[int, ...]
    test_classes: tuple[int, ...]
    out_dir: Path
    model_dir: Path
    report_path: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    command: str | None = None
    """What made the run (``"siamkit demo"``), recorded in ``metrics.json``'s ``run`` section."""
    val_classes: tuple[int, ...] = ()
    """The classes of the validation images, which chose the epoch (early stopping,
    ``restore_best``) and calibrated the threshold: whole classes held out of training
    (``data.val_classes``), else the training classes whose held-out images validated."""
    val_held_out: str = "images"
    """What validation held out of the training data: ``"classes"`` (``data.val_classes``),
    ``"images"`` (a share of each training class's, ``data.val_fraction``) or ``"none"``."""

    def require_calibration(self) -> Calibration:
        """:attr:`calibration`, or a ``ValueError`` saying the run calibrated nothing (``None``)."""
        if self.calibration is None:
            raise ValueError(
                "this run has no calibration (it had fewer than 3 validation images to fit a "
                "threshold on, as with data.val_fraction 0 and no data.val_classes, or the fit "
                "accepted no pair at all, as its log said): hold out validation images, or fit "
                "one with siamkit calibrate, or check result.calibration is not None first"
            )
        return self.calibration

    @property
    def metrics_path(self) -> Path:
        """Where the run wrote :meth:`to_dict`'s document: ``out_dir / "metrics.json"``."""
        return self.out_dir / "metrics.json"

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` document: the evaluation's keys, then ``score_norm``,
        ``ablation``, ``calibration`` and ``run`` (with ``command`` when recorded) where they apply.

        ``run`` lists the training, validation and test classes, so that a reader can check
        that no test class chose the model (``val_classes`` disjoint from ``test_classes``)."""
        doc = self.evaluation.to_dict()
        mark_ways_asked(doc, eval_ways(self.config.eval))
        if self.score_norm is not None:
            doc["score_norm"] = asdict(self.score_norm)
        if self.ablations:
            doc["ablation"] = {k: r.to_dict() for k, r in self.ablations.items()}
        if self.calibration is not None:
            doc["calibration"] = asdict(self.calibration)
        doc["run"] = {
            "dataset": self.dataset,
            "train_classes": list(self.train_classes),
            "val_classes": list(self.val_classes),
            "val_held_out": self.val_held_out,
            "test_classes": list(self.test_classes),
            "epochs_run": len(self.history),
            "train_seconds": round(self.timings.train_seconds, 1),
            "eval_seconds": round(self.timings.eval_seconds, 1),
        }
        if self.command is not None:
            doc["run"]["command"] = self.command
        return doc


def mark_ways_asked(doc: dict[str, Any], ways: Sequence[int]) -> list[int]:
    """The N of ``ways`` above the classes of evaluation document ``doc`` (which ran as all of
    them), recorded as ``n_way_asked`` in each few-shot entry that ran so; ``[]`` when none was.

    >>> doc = {"data": {"n_classes": 3}, "few_shot": {"3way1shot": {"n_way": 3}}}
    >>> mark_ways_asked(doc, (5,)), doc["few_shot"]["3way1shot"]["n_way_asked"]
    ([5], [5])
    """
    n_classes = doc["data"]["n_classes"]
    over = [n for n in ways if n > n_classes]
    for entry in doc.get("few_shot", {}).values() if over else ():
        if entry.get("n_way") == n_classes:
            entry["n_way_asked"] = over
    return over


def ways_over_line(
    asked: str, over: Sequence[int], n_classes: int, before: bool = False, what: str = "classes"
) -> str:
    """``"--ways 5: only 3 classes are evaluated, so it ran as 3-way"``; ``asked``: how the N of
    ``over`` were given, ``before``: said before the evaluation (``it runs as``), ``what``: the
    classes' kind. The class count is grouped as the HTML report's note ("1,000 classes"); the
    N echo the option as given (``--ways 5,2000``, where a grouped 2,000 would read as two)."""
    one = len(over) == 1
    ran = ("runs" if one else "run") if before else "ran"
    return (
        f"{asked} {','.join(map(str, over))}: only {n_classes:,} {what} are evaluated, so "
        f"{'it' if one else 'they'} {ran} as {n_classes:,}-way"
    )
