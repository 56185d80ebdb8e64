"""Verification figures (ROC, DET, distance histograms) and training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from siamkit.evaluation.plots._figure import new_figure
from siamkit.evaluation.verification import VerificationReport, far_resolved

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_DET_TICKS = (1e-4, 1e-3, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9)


OperatingMark = tuple[float, float, str]  # (FAR, TAR, legend text)


def plot_roc(
    report: VerificationReport, log_far: bool = False, mark: OperatingMark | None = None
) -> Figure:
    """ROC curve (TAR against FAR) with the EER point and the TAR@FAR operating points.

    Args:
        report: from :func:`~siamkit.evaluation.verification_from_embeddings`.
        log_far: put FAR on a log axis (shows the low-FAR region).
        mark: one more operating point, e.g. the model's calibrated threshold.
    """
    fig = new_figure(6.0, 4.8)
    draw_roc(fig.add_subplot(), report, log_far, mark)
    return fig


def draw_roc(
    ax: Any, report: VerificationReport, log_far: bool = False, mark: OperatingMark | None = None
) -> None:
    """Draw :func:`plot_roc`'s curve and points on ``ax``.

    A TAR@FAR point whose FAR the impostor pairs cannot measure
    (:func:`~siamkit.evaluation.verification.far_resolved`) is left out, as the report's table
    says "not measured" for it: its value would sit in the legend, off the axis.
    """
    c = report.curve
    ax.plot(c.far, c.tar, lw=2, color="C0", label=f"ROC (AUC = {report.roc_auc:.4f})")
    if not log_far:
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="chance")
    ax.plot(report.eer, 1 - report.eer, "o", color="C3", label=f"EER = {report.eer:.4f}")
    for far, tar in report.tar_at_far.items():
        if far > 0 and far_resolved(far, report.n_impostor):
            ax.plot(far, tar, "s", ms=6, label=f"TAR = {tar:.3f} @ FAR = {far:g}")
    if mark is not None:
        ax.plot(mark[0], mark[1], "*", ms=12, color="black", label=mark[2])
    if log_far:
        # the smallest FAR step, but at least a decade below 1: with one impostor pair (a tiny
        # validation set) 1/n is 1.0, and matplotlib warns of identical limits into the output
        low = min(max(1.0 / max(report.n_impostor, 1), 1e-6), 0.1)
        ax.set_xscale("log")
        ax.set_xlim(low, 1.0)
    else:
        ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("False accept rate (impostor pairs accepted)")
    ax.set_ylabel("True accept rate (genuine pairs accepted)")
    ax.set_title("ROC curve" + (" (log FAR)" if log_far else ""))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)


def _ndtri(p: np.ndarray) -> np.ndarray:
    return torch.special.ndtri(torch.as_tensor(p, dtype=torch.float64)).numpy()


def plot_det(report: VerificationReport) -> Figure:
    """DET curve: FRR against FAR on normal-deviate axes, where Gaussian scores give lines."""
    fig = new_figure(5.6, 5.0)
    draw_det(fig.add_subplot(), report)
    return fig


def plot_roc_det(report: VerificationReport, mark: OperatingMark | None = None) -> Figure:
    """ROC (FAR on a log axis, so the TAR@FAR points show) and DET side by side in one figure."""
    fig = new_figure(11.0, 4.6)
    left, right = fig.subplots(1, 2)
    draw_roc(left, report, log_far=True, mark=mark)
    draw_det(right, report)
    return fig


def draw_det(ax: Any, report: VerificationReport) -> None:
    """Draw :func:`plot_det`'s curve on ``ax``."""
    c = report.curve
    floor = 0.5 / max(min(report.n_impostor, report.n_genuine), 1)  # below the smallest step
    lo = max(floor, 1e-4)
    far = np.clip(c.far, lo, 1 - lo)
    frr = np.clip(1 - c.tar, lo, 1 - lo)
    ax.plot(_ndtri(far), _ndtri(frr), lw=2, color="C0", label="DET")
    e = _ndtri(np.clip([report.eer], lo, 1 - lo))[0]
    ax.plot(e, e, "o", color="C3", label=f"EER = {report.eer:.4f}")
    ax.plot([-5, 5], [-5, 5], ls=":", color="grey", lw=1, label="FAR = FRR")
    ticks = [t for t in _DET_TICKS if t >= lo]
    pos = _ndtri(np.array(ticks))
    labels = [f"{100 * t:.2g}%" for t in ticks]
    for set_ticks, set_labels, set_lim in (
        (ax.set_xticks, ax.set_xticklabels, ax.set_xlim),
        (ax.set_yticks, ax.set_yticklabels, ax.set_ylim),
    ):
        set_ticks(pos)
        set_labels(labels, fontsize=8)
        set_lim(pos[0], _ndtri(np.array([0.95]))[0])
    ax.set_xlabel("False accept rate")
    ax.set_ylabel("False reject rate")
    ax.set_title("DET curve (normal-deviate scale)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)


def plot_distance_histograms(
    report: VerificationReport,
    threshold: float | None = None,
    threshold_label: str | None = None,
    score: str = "distance",
) -> Figure:
    """Genuine vs impostor distance densities with the decision threshold as a vertical line.

    Args:
        report: a verification report (its ``histogram``).
        threshold: line position; defaults to the EER threshold.
        threshold_label: legend text for the line.
        score: what the values are, for the axis and title
            (:func:`~siamkit.evaluation._common.score_kind`): ``"distance"``, or with
            ``eval.score_norm`` e.g. ``"snorm-normalised score"``.
    """
    fig = new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    h = report.histogram
    widths = np.diff(h.edges)
    for counts, name, color in (
        (h.genuine, "genuine (same class)", "C2"),
        (h.impostor, "impostor", "C3"),
    ):
        density = counts / max(counts.sum(), 1) / widths
        ax.stairs(density, h.edges, fill=True, alpha=0.35, color=color)
        ax.stairs(density, h.edges, color=color, lw=1.5, label=f"{name}: {counts.sum():,} pairs")
    t = report.eer_threshold if threshold is None else threshold
    label = threshold_label or ("EER threshold" if threshold is None else "threshold")
    ax.axvline(t, color="black", ls="--", lw=1.5, label=f"{label} = {t:.4f}")
    ax.set_xlabel(score[:1].upper() + score[1:])
    ax.set_ylabel("Density")
    ax.set_title(f"Genuine vs impostor {score}s")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
            value, bool
        ):
            out[name] = float(value)
    return out


_LABELS = {
    "loss": "training loss",
    "val_map_at_r": "validation MAP@R",
    "val_precision_at_1": "validation P@1",
    "val_one_shot": "validation 1-shot accuracy",
    "spread": "embedding spread",
    "val_metric": "validation metric",
}


def _label(key: str, names: Mapping[str, str] | None = None) -> str:
    """A readable axis label for a history key (``val_map_at_r`` -> ``validation MAP@R``)."""
    if names and key in names:
        return names[key]
    if key in _LABELS:
        return _LABELS[key]
    return key.replace("val_", "validation ").replace("_", " ").replace(".", " ")


def plot_training_curves(
    history: Sequence[Mapping[str, Any]], labels: Mapping[str, str] | None = None
) -> Figure:
    """One panel per recorded quantity (loss, each validation metric, ...) against the epoch.

    Each quantity gets its own y axis and label, so a loss of 0.05 and a MAP@R of 0.6 are both
    readable. ``epoch`` (or the position) is the x axis; nested dicts become dotted keys;
    ``lr``, ``step`` and time keys are skipped. ``labels`` names keys, e.g.
    ``{"val_metric": "validation P@1"}``.

    Example:
        >>> fig = plot_training_curves([{"epoch": 1, "loss": 0.9, "val_map_at_r": 0.3},
        ...                             {"epoch": 2, "loss": 0.5, "val_map_at_r": 0.4}])
        >>> len(fig.axes)
        2
    """
    if not history:
        raise ValueError("the training history is empty; pass one dict per epoch")
    rows = [_flatten(r) for r in history]
    x = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
    skip = {"epoch", "lr", "step", "time", "seconds", "elapsed"}
    keys = sorted(
        {k for r in rows for k in r if k.split(".")[-1] not in skip},
        key=lambda k: ("loss" not in k.lower(), k),
    )
    from matplotlib.ticker import MaxNLocator

    cols = min(3, max(1, len(keys)))
    n_rows = -(-max(1, len(keys)) // cols)
    fig = new_figure(3.6 * cols, 2.8 * n_rows)
    axes = np.atleast_1d(fig.subplots(n_rows, cols, squeeze=False)).ravel()
    for ax, k in zip(axes, keys):
        pts = [(xi, r[k]) for xi, r in zip(x, rows) if k in r and np.isfinite(r[k])]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, color="C3" if "loss" in k.lower() else "C0")
        ax.set_title(_label(k, labels), fontsize=10)
        ax.set_ylabel(_label(k, labels), fontsize=8)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.set_axis_off()
    if not keys:
        axes[0].set_axis_on()
        axes[0].text(0.5, 0.5, "nothing recorded", ha="center", va="center")
    return fig
