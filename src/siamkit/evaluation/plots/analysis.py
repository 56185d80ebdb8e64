"""Figures that look at errors: confusion matrices and failure pairs shown as images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from siamkit.decision import accepts
from siamkit.evaluation._common import value_tag
from siamkit.evaluation.failures import Pair
from siamkit.evaluation.per_class import ClassifierReport
from siamkit.evaluation.plots._figure import LITERAL, new_figure
from siamkit.evaluation.plots.embeddings import as_display_images

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_confusions(reports: Sequence[ClassifierReport], class_names: Sequence[str]) -> Figure:
    """Row-normalised confusion matrices side by side (true class down, predicted across).

    Each cell shows the fraction of the row's items and is shaded by it.
    """
    n = len(class_names)
    side = max(3.4, 0.4 * n + 1.4)
    fig = new_figure(side * len(reports), side + 0.6)
    axes = np.atleast_1d(fig.subplots(1, len(reports)))
    for ax, rep in zip(axes, reports):
        cm = rep.confusion.astype(float)
        frac = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
        for (r, c), v in np.ndenumerate(frac):
            if n <= 20:
                color = "white" if v > 0.5 else "black"
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6, color=color)
        names = [str(s) for s in class_names]
        ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8, **LITERAL)
        ax.set_yticks(range(n), names, fontsize=8, **LITERAL)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(f"{rep.name}: accuracy {rep.accuracy:.3f}", fontsize=10)
    return fig


def plot_failure_pairs(
    pairs: Sequence[Pair],
    images: Any,
    labels: Any,
    class_names: Sequence[str],
    title: str,
    threshold: float | None = None,
    score: str = "distance",
) -> Figure:
    """One column per pair: the two images, their classes and distance (worst first).

    Args:
        pairs: from :func:`~siamkit.evaluation.failures.failure_pairs`.
        images: the evaluated images ``(N, C, H, W)`` (floats in [0, 1] or uint8).
        labels: ``(N,)`` integer labels indexing ``class_names``.
        class_names: names of the labels.
        title: figure title.
        threshold: shown in the title, with whether each pair would be accepted (as the model
            accepts it, within float32 rounding: :func:`siamkit.decision.accepts`).
        score: what the pairs' values are (:func:`~siamkit.evaluation._common.score_kind`):
            ``d=`` for a distance, ``score=`` for a normalised score.
    """
    pics = as_display_images(images)
    gray = pics.ndim == 3
    cols = max(1, len(pairs))
    fig = new_figure(1.35 * cols + 0.4, 3.4)
    axes = np.asarray(fig.subplots(2, cols, squeeze=False))
    for c, p in enumerate(pairs):
        for r, item in enumerate((p.i, p.j)):
            ax = axes[r, c]
            ax.imshow(pics[item], cmap="gray" if gray else None, vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(str(class_names[int(labels[item])]), fontsize=7, **LITERAL)
        verdict = ""
        if threshold is not None:
            verdict = "\naccepted" if accepts(p.distance, threshold) else "\nrejected"
        axes[0, c].set_title(f"{value_tag(score)}={p.distance:.3f}{verdict}", fontsize=7)
    if not pairs:
        axes[0, 0].text(0.5, 0.5, "none", ha="center", va="center")
    extra = f" (threshold {threshold:.3f})" if threshold is not None else ""
    fig.suptitle(title + extra, fontsize=10)
    return fig
