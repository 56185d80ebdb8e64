"""A text run's history rows and epoch lines, the score map and ``OUT/report.html`` written
at its end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.pairs import TextExamples
from siamkit.applications.text.score_map import ScoreMap
from siamkit.decision import accepts


def history_from_here_line(ckpt: Path, epoch: int, step: int, epochs: int) -> str:
    """The line of a resume from checkpoint ``ckpt``, made before text runs kept a per-epoch
    history, at ``epoch`` (from 0), ``step``: ``history.json`` and the report's curves hold
    the epochs from there on only (none of a finished run), and a resumed epoch's loss is the
    mean of its steps from ``step`` on; they did so without a word."""
    if epoch >= epochs:
        held = "none of its epochs"
    else:
        held = f"epoch {epoch + 1} on" if epoch + 1 < epochs else f"epoch {epoch + 1} alone"
        held += (
            f", epoch {epoch + 1}'s loss the mean of its steps from step {step + 1} on"
            if step
            else ""
        )
    return (
        f"{ckpt} was made before text runs kept a per-epoch history: history.json and the "
        f"report's curves hold {held}"
    )


def fit_score_map(
    model: TextSiameseNetwork, ex: TextExamples, score_range: tuple[float, float] | None
) -> ScoreMap | None:
    """For pairs with graded scores (a ``score_range``): the monotone map from the trained model's
    cosine to the score, fitted on the TRAINING pairs ``ex`` only; None for other data."""
    if ex.format != "pairs" or ex.targets is None or score_range is None or len(ex) < 2:
        return None
    return ScoreMap.fit(pair_cosines(model, ex), ex.targets).rescaled(*score_range)


CURVE_NAMES = {
    "val_roc_auc": "validation ROC AUC",
    "val_eer": "validation EER",
    "val_pearson": "validation Pearson",
    "val_spearman": "validation Spearman",
    "val_precision_at_1": "validation P@1",
    "val_triplet_accuracy": "validation triplet accuracy",
}
"""The report's labels of a text run's history keys."""


def _history_key(metric: str) -> str:
    """A :func:`~siamkit.applications.text.validate.validate` key as a history key:
    ``verification.roc_auc`` -> ``val_roc_auc``, ``triplet.accuracy`` ->
    ``val_triplet_accuracy``."""
    section, _, name = metric.partition(".")
    return f"val_{section}_{name}" if section == "triplet" else f"val_{name}"


def epoch_row(epoch: int, losses: list[float], figures: dict[str, Any] | None) -> dict[str, Any]:
    """One epoch of a text run's history: ``epoch`` (from 1), the mean of its step ``losses``
    (None when it took none here: resumed from a checkpoint from before they were kept) and
    the validation ``figures`` (:func:`~siamkit.applications.text.validate.validate`'s, as
    :func:`_history_key` names them; its threshold is left out, which the end of the run
    calibrates)."""
    row: dict[str, Any] = {"epoch": epoch, "loss": sum(losses) / len(losses) if losses else None}
    for key, value in (figures or {}).items():
        if key != "verification.threshold":
            row[_history_key(key)] = value
    return row


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """The epoch's line, as image runs print it: ``epoch 2/3: loss 0.1234, val roc_auc
    0.9100, eer 0.1200``."""
    loss = "-" if row["loss"] is None else f"{row['loss']:.4f}"
    line = f"epoch {row['epoch']}/{epochs}: loss {loss}"
    figures = [f"{k[4:]} {v:.4f}" for k, v in row.items() if k.startswith("val_")]
    return f"{line}, val {', '.join(figures)}" if figures else line


def pair_cosines(model: TextSiameseNetwork, ex: TextExamples) -> np.ndarray:
    """The cosine of each pair of ``ex`` (a by the query tower, b by the document tower), each
    distinct text embedded once."""
    model.eval()
    z = []
    for col, role in ((ex.texts[0], "query"), (ex.texts[1], "document")):
        uniq = sorted(set(col))
        pos = {t: k for k, t in enumerate(uniq)}
        with torch.inference_mode():
            e = model.embed(uniq, role=role).float().cpu().numpy()
        z.append(e[[pos[t] for t in col]])
    return np.asarray((z[0] * z[1]).sum(1))


def write_run_report(
    path: Path,
    model: TextSiameseNetwork,
    val: TextExamples | None,
    graded: bool,
    history: list[dict[str, Any]],
    metrics: dict[str, Any],
    threshold: float | None = None,
) -> Path | None:
    """``OUT/report.html`` of a text run (:func:`~siamkit.evaluation.report.render_verification_html`):
    the training curves (``history``: the loss and the validation figures per epoch) and, for
    validation pairs labelled 0/1, their verification parts (ROC / DET, the cosine-distance
    histograms, the calibrated threshold and its rates on them). None (nothing written) when
    the run has neither: no epoch recorded and no labelled validation pairs. Embeds the
    validation texts once. ``threshold``: the calibrated one, a cosine distance."""
    from siamkit.evaluation import EvaluationReport
    from siamkit.evaluation.report import write_verification_report
    from siamkit.evaluation.verification import verification_report

    labelled = val is not None and val.format == "pairs" and val.targets is not None and not graded
    if not history and not labelled:
        return None
    ver, calibration, data, note = None, None, "no validation pairs", ""
    if val is not None:
        data = f"{len(val):,} validation {'pairs' if val.format == 'pairs' else 'examples'}"
    if labelled:
        assert val is not None and val.targets is not None
        d = 1 - pair_cosines(model, val)  # the cosine distance the threshold is kept in
        same = np.asarray(val.targets) == 1
        ver = verification_report(d[same], d[~same])
        data += f" ({int(same.sum()):,} same / {int((~same).sum()):,} different)"
        if threshold is not None:
            t = float(threshold)  # a pair accepted as the model's verdict accepts it
            tar, far = float(np.mean(accepts(d[same], t))), float(np.mean(accepts(d[~same], t)))
            calibration = {
                "threshold": t,
                "test": {"tar": tar, "far": far, "balanced_accuracy": (tar + 1 - far) / 2},
            }
            note = (
                f"The threshold, a cosine distance of {t:.4f}, is a similarity of at least "
                f"{1 - t:.4f} (verification.min_similarity)."
            )
    report = EvaluationReport(ver, {}, None, "cosine", 0 if val is None else len(val), 0)
    return write_verification_report(
        path,
        report,
        title="siamkit text training report",
        calibration=calibration,
        data=data,
        note=note,
        metrics=metrics,
        history=history or None,
        curve_names=CURVE_NAMES,
        trained_on="these",  # the threshold was calibrated on these validation pairs
    )
