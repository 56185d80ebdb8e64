"""``report.html`` of a self-supervised run: the training curves and the collapse monitor.

>>> hist = [{"epoch": 0, "loss": None, "knn": 0.5, "collapse_std": 0.1},
...         {"epoch": 1, "loss": 4.0, "knn": 0.6, "collapse_std": 0.3}]
>>> "collapse" in render_ssl_report(hist, {"method": "simclr"}, threshold=0.02)
True
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from siamkit.evaluation.plots import figure_to_png, new_figure, plot_training_curves
from siamkit.evaluation.report import atomic_write_text


def _img(fig: Any, caption: str) -> str:
    data = base64.b64encode(figure_to_png(fig)).decode("ascii")
    alt = html.escape(caption)
    return f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'><figcaption>{alt}</figcaption></figure>"


def _collapse_figure(history: Sequence[Mapping[str, Any]], threshold: float) -> Any:
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(6.0, 3.5)
    ax = fig.subplots()
    ax.plot(
        [h["epoch"] for h in history],
        [h["collapse_std"] for h in history],
        marker="o",
        label="trained head's output",
    )
    ax.axhline(threshold, color="red", ls="--", label=f"stop below {threshold}")
    ax.axhline(1.0, color="grey", ls=":", label="uniform on the sphere")
    ax.set_xlabel("epoch (0: before training)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, as the training curves
    ax.set_ylabel("per-dimension std × sqrt(D)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _curves_figure(history: Sequence[Mapping[str, Any]]) -> Any:
    """Loss and kNN accuracy per epoch, every panel over the run's epochs (0: before training,
    where only the monitors have a value), so a one-epoch run's single loss point gets whole
    epochs on its axis too."""
    curves = [
        {"epoch": h["epoch"], "loss": h.get("loss"), "kNN accuracy": h.get("knn")} for h in history
    ]
    fig = plot_training_curves([{k: v for k, v in c.items() if v is not None} for c in curves])
    first, last = min(c["epoch"] for c in curves), max(c["epoch"] for c in curves)
    pad = max(0.25, 0.05 * (last - first))
    for ax in fig.axes:
        if ax.axison:
            ax.set_xlim(first - pad, last + pad)
    return fig


def render_ssl_report(
    history: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any], threshold: float
) -> str:
    """The report's HTML text (figures inline as PNG)."""
    if any(h.get("knn") is not None for h in history):
        k = metrics.get("knn_k")  # the epoch lines' kNN@k (fewer than train.knn_k on few images)
        caption = (
            f"loss per epoch; leave-one-out kNN{'' if k is None else f'@{k}'} accuracy on the "
            "labeled validation images"
        )
    else:  # an image folder: no labels, so no kNN monitor (as the run's first line says)
        caption = "loss per epoch (no labeled validation images, so no kNN accuracy)"
    method = html.escape(str(metrics.get("method", "")))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>siamkit ssl: {method}</title></head><body>",
        f"<h1>Self-supervised training: {method}</h1>",
        "<section id='training'><h2>Training curves</h2>",
        _img(_curves_figure(history), caption),
        "</section><section id='collapse'><h2>Collapse monitor</h2>",
        "<p>Standard deviation of each dimension of the trained embedding head's output, "
        "L2-normalised (the SimSiam paper's check, on the side of the network the loss trains: "
        "tap features kept out of training are left out), times sqrt(D): about 1 when the "
        "embeddings spread over the sphere, 0 when every image embeds to the same point.</p>",
        _img(_collapse_figure(history, threshold), "collapse monitor per epoch"),
        "</section><section id='metrics'><h2>Metrics</h2><pre>",
        html.escape(json.dumps(dict(metrics), indent=2, default=str)),
        "</pre></section></body></html>",
    ]
    return "\n".join(parts)


def write_ssl_report(
    path: str | os.PathLike[str],
    history: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any],
    threshold: float,
) -> Path:
    """Write :func:`render_ssl_report` atomically to ``path``."""
    return atomic_write_text(path, render_ssl_report(history, metrics, threshold))
