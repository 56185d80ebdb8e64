"""What the report's blocks and thresholds are called: plain headings, and a threshold named by
what it is compared with (a distance, or a cohort-normalised score)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from siamkit.evaluation import EvaluationReport
from siamkit.evaluation.report import render_report_html, render_verification_html
from siamkit.evaluation.verification import verification_report


def _report(distance: str = "euclidean") -> EvaluationReport:
    rng = np.random.default_rng(0)
    ver = verification_report(rng.normal(0.5, 0.2, 60), rng.normal(1.5, 0.2, 200))
    return EvaluationReport(ver, {}, None, distance, 40, 0)


def test_the_verification_report_names_its_json_block_in_words() -> None:
    """It was labelled 'metrics.json', a file name (and no such file is written beside it)."""
    page = render_verification_html(_report(), run_info={"hardware": "test"})
    assert "<summary>metrics.json</summary>" not in page and "Metrics JSON" not in page
    assert "<summary>verification metrics (JSON)</summary>" in page
    assert "<h2>Verification metrics (JSON)</h2>" in page


CALIBRATION = {"threshold": -0.25, "target": "eer", "test": {"tar": 0.9, "far": 0.05}}


def _calibrated_pages(rep: EvaluationReport) -> list[str]:
    """The verification page and the full report of ``rep``, both with ``CALIBRATION``."""
    return [
        render_verification_html(rep, calibration=CALIBRATION, run_info={"hardware": "test"}),
        render_report_html(
            rep, torch.randn(40, 4), torch.arange(4).repeat(10), calibration=CALIBRATION,
            run_info={"hardware": "test"}, analysis=False,
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("distance", "kind"),
    [("euclidean", "distance"), ("euclidean+snorm", "snorm-normalised score"),
     ("cosine+csls", "csls-normalised score")],
)  # fmt: skip
def test_thresholds_are_named_by_what_they_are_compared_with(distance: str, kind: str) -> None:
    """With eval.score_norm the thresholds were called '(distance)', yet are normalised scores."""
    pages = _calibrated_pages(_report(distance))
    for page in pages:
        assert f"<td>EER threshold ({kind})</td>" in page
        assert f"<td>threshold ({kind})</td>" in page
        if kind != "distance":
            assert "threshold (distance)" not in page


@pytest.mark.parametrize(
    ("distance", "kind"), [("euclidean", "distance"), ("euclidean+snorm", "snorm-normalised score")]
)
def test_the_histogram_is_named_by_what_its_values_are(
    monkeypatch: pytest.MonkeyPatch, distance: str, kind: str
) -> None:
    """With eval.score_norm the histogram's caption and axis said 'distance', yet its values are
    normalised scores (negative ones too)."""
    from siamkit.evaluation import plots

    figures = []
    draw = plots.plot_distance_histograms

    def keep(*args: object, **kwargs: object) -> object:
        figures.append(fig := draw(*args, **kwargs))  # type: ignore[arg-type]
        return fig

    monkeypatch.setattr(plots, "plot_distance_histograms", keep)
    pages = _calibrated_pages(_report(distance))
    for page in pages:
        assert f"<figcaption>Genuine vs impostor {kind} distributions with" in page
        if kind != "distance":
            assert "distance distributions" not in page
    assert len(figures) == 2
    for fig in figures:
        ax = fig.axes[0]
        assert ax.get_xlabel() == kind[0].upper() + kind[1:]
        assert ax.get_title() == f"Genuine vs impostor {kind}s"


@pytest.mark.parametrize(
    ("kind", "tag"), [("distance", "d="), ("snorm-normalised score", "score=")]
)
def test_failure_pairs_and_neighbours_tag_values_by_what_they_are(kind: str, tag: str) -> None:
    """The failure pairs and the neighbour grid wrote 'd=' over cohort-normalised scores too."""
    from siamkit.evaluation.failures import failure_pairs
    from siamkit.evaluation.plots.analysis import plot_failure_pairs
    from siamkit.evaluation.plots.embeddings import plot_neighbor_grid

    gen = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(12, 4, generator=gen), dim=1)
    y = np.arange(12) % 3
    images = np.zeros((12, 1, 4, 4), np.float32)
    pairs = failure_pairs(z, y, n=2).closest_impostors
    fig = plot_failure_pairs(pairs, images, y, ["a", "b", "c"], "t", 0.5, score=kind)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles and all(t.startswith(tag) for t in titles), titles
    distance: Any = "euclidean"  # the grid learns what its values are from its distance
    if kind != "distance":
        from siamkit.distances.cohort import CohortNormalized

        distance = CohortNormalized("euclidean", torch.randn(6, 4, generator=gen), k=3)
    grid = plot_neighbor_grid(z, y, images, distance, n_queries=2, k=2)
    labels = [ax.get_xlabel() for ax in grid.axes if "\n" in ax.get_xlabel()]
    assert labels and all(lab.split("\n")[1].startswith(tag) for lab in labels), labels
