"""``report.html`` of a ``task: ssl`` run: what its figures and captions say."""

from __future__ import annotations

from typing import Any

import pytest

from siamkit.applications.ssl.report import _collapse_figure, render_ssl_report

HISTORY = [
    {"epoch": 0, "loss": None, "knn": 0.5, "collapse_std": 0.14},
    {"epoch": 1, "loss": 5.3, "knn": 0.6, "collapse_std": 0.41},
    {"epoch": 2, "loss": 4.9, "knn": 0.62, "collapse_std": 0.44},
]


def test_the_collapse_figure_marks_whole_epochs_only() -> None:
    """A two-epoch run's collapse figure had ticks at epochs 0.25, 0.5, 0.75, ... (the training
    curves beside it mark whole epochs only)."""
    ax = _collapse_figure(HISTORY, 0.02).axes[0]
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 2]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_a_run_without_labels_is_not_captioned_with_a_knn_accuracy() -> None:
    """An image-folder run (no labeled validation images, so no kNN monitor) captioned its loss
    curve 'loss per epoch; leave-one-out kNN accuracy on the labeled validation images'."""
    unlabeled = [{**h, "knn": None} for h in HISTORY]
    page = render_ssl_report(unlabeled, {"method": "simclr"}, threshold=0.02)
    assert "kNN accuracy on the labeled validation images" not in page
    assert "no labeled validation images, so no kNN accuracy" in page
    labeled = render_ssl_report(HISTORY, {"method": "simclr"}, threshold=0.02)
    assert "leave-one-out kNN accuracy on the labeled validation images" in labeled


def test_the_collapse_monitor_says_it_measures_the_trained_head() -> None:
    """The collapse section said it measured 'the L2-normalised embedding', while the check
    takes the trained head's output alone: the shipped config's saved embedding also joins 4,416
    untrained tap features, which it leaves out."""
    page = render_ssl_report(HISTORY, {"method": "simclr"}, threshold=0.02)
    assert "each dimension of the L2-normalised embedding" not in page
    assert "each dimension of the trained embedding head's output" in page
    labels = [t.get_text() for t in _collapse_figure(HISTORY, 0.02).axes[0].get_legend().texts]
    assert "trained head's output" in labels, labels


def _figures(history: list[dict], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures render_ssl_report draws, in order."""
    import siamkit.applications.ssl.report as report

    drawn: list[Any] = []
    monkeypatch.setattr(report, "figure_to_png", lambda fig: drawn.append(fig) or b"")
    render_ssl_report(history, {"method": "simclr"}, threshold=0.02)
    return drawn


def _ticks(ax: Any) -> list[float]:
    lo, hi = ax.get_xlim()
    return [float(t) for t in ax.get_xticks() if lo <= t <= hi]


def test_a_one_epoch_run_s_loss_curve_marks_whole_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-epoch run's loss panel held one point, and its axis ran 0.945 to 1.055 with eleven
    crowded labels ('0.9450.9600.975...') beside a kNN panel marking epochs 0 and 1. Every panel
    now spans the run's epochs, 0 to the last, with whole-epoch ticks."""
    curves = _figures(HISTORY[:2], monkeypatch)[0]
    shown = [ax for ax in curves.axes if ax.axison]
    assert [ax.get_title() for ax in shown] == ["training loss", "kNN accuracy"]
    for ax in shown:
        assert _ticks(ax) == [0.0, 1.0], (ax.get_title(), ax.get_xlim())
    unlabeled = _figures([{**h, "knn": None} for h in HISTORY[:2]], monkeypatch)[0]
    assert [_ticks(ax) for ax in unlabeled.axes if ax.axison] == [[0.0, 1.0]]
