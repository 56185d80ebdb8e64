"""An HTML report of a tracking evaluation: success and precision plots, a table, annotated frames.

>>> frames = []  # three annotated frames of each sequence, as the tracker runs
>>> scores, runs = evaluate_tracker(
...     lambda: SiamFCTracker(net), sequences,
...     lambda run, seq: frames.append((run.name, annotated_frames(seq, run.boxes))),
... )  # doctest: +SKIP
>>> write_tracking_report(
...     "report.html", "siamfc-small", {"siamfc-small": scores},
...     [(r.name, r.scores) for r in runs], frames,
... )  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from siamkit.applications.tracking.metrics import (
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    TrackingScores,
)
from siamkit.atomic import atomic_write
from siamkit.data.tracking_sequences import TrackingSequence
from siamkit.evaluation.plots._figure import figure_to_png, literal_legend, new_figure


def _img(data: bytes, mime: str, alt: str) -> str:
    return (
        f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode()}">'
    )


def plots_png(curves: dict[str, TrackingScores]) -> tuple[bytes, bytes]:
    """PNG success and precision plots with one line per tracker (AUC / P@20 in the legend).

    A tracker's name (its model folder's) is drawn as written, without mathtext
    (:func:`~siamkit.evaluation.plots._figure.literal_legend`: ``a$}$`` failed the report after
    the evaluation, ``run$1$`` was drawn as an italic 1), and one starting with ``_`` keeps its
    entry."""
    fig = new_figure(5.5, 4.2)
    ax = fig.add_subplot()
    lines = [ax.plot(SUCCESS_THRESHOLDS, s.success)[0] for s in curves.values()]
    ax.set(
        xlabel="overlap threshold (IoU)",
        ylabel="success rate",
        title="Success plot",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    labels = [f"{name} [AUC {s.success_auc:.3f}]" for name, s in curves.items()]
    literal_legend(ax, lines, labels, loc="lower left", fontsize=8)
    success = figure_to_png(fig)
    fig = new_figure(5.5, 4.2)
    ax = fig.add_subplot()
    lines = [ax.plot(PRECISION_THRESHOLDS, s.precision)[0] for s in curves.values()]
    ax.axvline(20, color="grey", lw=0.5)
    ax.set(
        xlabel="centre error threshold (px)",
        ylabel="precision",
        title="Precision plot",
        xlim=(0, 50),
        ylim=(0, 1.02),
    )
    labels = [f"{name} [P@20 {s.precision_20:.3f}]" for name, s in curves.items()]
    literal_legend(ax, lines, labels, loc="lower right", fontsize=8)
    return success, figure_to_png(fig)


def annotated_frames(
    seq: TrackingSequence, predicted: np.ndarray, count: int = 3, width: int = 320
) -> list[bytes]:
    """JPEGs of ``count`` evenly spaced frames: ground truth green, prediction red."""
    out = []
    for i in np.linspace(0, len(seq) - 1, count).round().astype(int):
        frame = seq.frame(int(i)).copy()
        for box, colour in ((seq.boxes[i], (40, 220, 40)), (predicted[i], (230, 30, 30))):
            x, y, w, h = (round(float(v)) for v in box)
            cv2.rectangle(frame, (x, y), (x + w, y + h), colour, 2)
        scale = width / frame.shape[1]
        small = cv2.resize(
            frame, (width, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
        )
        if ok:
            out.append(buf.tobytes())
    return out


NOT_SCORED = "none scored"
"""The score cells of a sequence with no scored frame (its first frame only): 'nan' said nothing."""


def _cells(s: TrackingScores) -> str:
    """A table row's score cells: success AUC, precision@20px, frames lost, frames scored
    (``n_frames``: the first frame and frames without a ground-truth box are not), fps."""
    auc, p20 = (
        (f"{s.success_auc:.3f}", f"{s.precision_20:.3f}") if s.n_frames else (NOT_SCORED,) * 2
    )
    return (
        f"<td>{auc}</td><td>{p20}</td><td>{s.frames_lost}</td><td>{s.n_frames}</td>"
        f"<td>{s.fps:.1f}</td>"
    )


def write_tracking_report(
    path: str | os.PathLike[str],
    title: str,
    overall: dict[str, TrackingScores],
    rows: Sequence[tuple[str, TrackingScores]],
    frames: Sequence[tuple[str, list[bytes]]],
    note: str = "",
) -> Path:
    """Write the report atomically (temp file + rename). ``rows``: per-sequence scores of the main tracker."""
    success, precision = plots_png(overall)
    table = "".join(f"<tr><td>{html.escape(n)}</td>{_cells(s)}</tr>" for n, s in rows)
    heads = "".join(f"<tr><th>{html.escape(n)}</th>{_cells(s)}</tr>" for n, s in overall.items())
    gallery = "".join(
        f"<h3>{html.escape(n)}</h3><p>{''.join(_img(j, 'image/jpeg', n) for j in jpgs)}</p>"
        for n, jpgs in frames
    )
    # "frames scored", not "frames": --json's "frames" of a sequence counts its first frame too
    cols = (
        "<tr><th></th><th>success AUC</th><th>precision@20px</th><th>frames lost</th>"
        "<th>frames scored</th><th>fps</th></tr>"
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}td,th{{padding:2px 10px;text-align:right}}
img{{margin:2px}}</style></head><body>
<h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>
<h2>Overall (mean over sequences, first frame excluded)</h2><table>{cols}{heads}</table>
<p>{_img(success, "image/png", "success plot")}{_img(precision, "image/png", "precision plot")}</p>
<h2>Per sequence</h2><table>{cols.replace("<th></th>", "<th>sequence</th>")}{table}</table>
<h2>Frames (green: ground truth, red: tracker)</h2>{gallery}</body></html>"""
    return atomic_write(path, doc)
