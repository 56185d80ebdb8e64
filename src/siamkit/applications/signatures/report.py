"""An HTML page for a signature evaluation: FAR / FRR / EER for skilled and random forgeries and
the score histograms of genuine signatures, skilled and random forgeries.

>>> write_signature_report("report.html", evaluation, scores, title="CEDAR")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from siamkit.applications.signatures.evaluate import SignatureEvaluation
from siamkit.atomic import atomic_write
from siamkit.clauses import counted
from siamkit.evaluation.plots import figure_to_png, new_figure

__all__ = ["render_signature_report", "write_signature_report"]


def _histogram_png(scores: Mapping[str, np.ndarray], threshold: float) -> str:
    fig = new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    values = [v for v in scores.values() if len(v)]
    bins = np.linspace(min(v.min() for v in values), max(v.max() for v in values), 40)
    for name, color in (("genuine", "tab:green"), ("skilled", "tab:red"), ("random", "tab:blue")):
        if len(scores.get(name, [])):
            ax.hist(
                scores[name], bins=bins.tolist(), alpha=0.5, density=True, color=color, label=name
            )
    ax.axvline(threshold, color="black", linestyle="--", label="threshold")
    ax.set_xlabel("score: distance to the writer's references (smaller = more alike)")
    ax.set_ylabel("density")
    ax.legend()
    return base64.b64encode(figure_to_png(fig)).decode("ascii")


def render_signature_report(
    ev: SignatureEvaluation, scores: Mapping[str, np.ndarray], title: str
) -> str:
    """The report's HTML (one self-contained page)."""

    def cell(value: float) -> str:  # a kind of forgery with none to score: no rate, not "nan"
        return "–" if value != value else f"{value:.4f}"

    rows = "".join(
        f"<tr><td>{name}</td><td>{cell(r.eer)}</td><td>{cell(r.far)}</td><td>{cell(r.frr)}</td>"
        f"<td>{r.n_genuine:,}</td><td>{r.n_forged:,}</td></tr>"
        for name, r in (("skilled forgeries", ev.skilled), ("random forgeries", ev.random))
    )
    writers = counted(ev.n_writers, "writer")
    if ev.n_writers_evaluated < ev.n_writers:
        writers = (
            f"{ev.n_writers_evaluated:,} of {writers} (the others have too few genuine signatures)"
        )
    png = _histogram_png(scores, ev.threshold)
    t = html.escape(title)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{t}</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
        "td,th{padding:.2em .8em;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{t}</h1><p>{writers}, {counted(ev.n_references, 'reference')} each, decision on "
        f"the {ev.reduce} distance; FAR and FRR at threshold {ev.threshold:.4f} "
        f"({html.escape(ev.threshold_source)}).</p>"
        "<table><tr><th>against</th><th>EER</th><th>FAR</th><th>FRR</th><th>genuine</th>"
        f"<th>forgeries</th></tr>{rows}</table>"
        f"<figure><img alt='score histograms' src='data:image/png;base64,{png}'>"
        "<figcaption>Scores of genuine signatures, skilled and random forgeries.</figcaption>"
        "</figure></body></html>"
    )


def write_signature_report(
    path: str | os.PathLike[str],
    ev: SignatureEvaluation,
    scores: Mapping[str, np.ndarray],
    title: str = "Signature verification",
) -> Path:
    """Write the report to ``path`` atomically; returns the path."""
    return atomic_write(path, render_signature_report(ev, scores, title))
