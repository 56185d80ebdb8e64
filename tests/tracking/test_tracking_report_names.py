"""The tracking report's plots name each tracker as its model folder is named: matplotlib reads
the text between two ``$`` of a legend entry as mathtext, which drew ``run$1$`` as an italic 1
and failed the report, after the evaluation, on ``a$}$``."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pytest

import siamkit.applications.tracking.report as report_mod
from siamkit.applications.tracking.metrics import score_tracking


@pytest.mark.parametrize("parse_math", [True, False])
@pytest.mark.parametrize("names", [["a$}$", "run$1$"], ["_best", "siamfc"]])
def test_tracker_names_are_drawn_literally(
    monkeypatch: pytest.MonkeyPatch, names: list[str], parse_math: bool
) -> None:
    """Also a model folder ``_best``, which matplotlib left out of both legends (a label starting
    with ``_``), and under a matplotlibrc's ``text.parse_math: False``, where the ``$`` escape
    was drawn as a backslash."""
    gt = np.array([[10, 10 + i, 20, 20] for i in range(6)], float)
    scores = [score_tracking(gt + 1 + k, gt) for k in range(len(names))]
    figures: list[Any] = []
    real = report_mod.figure_to_png

    def keep(fig: Any) -> bytes:
        figures.append(fig)
        return real(fig)

    monkeypatch.setattr(report_mod, "figure_to_png", keep)
    with matplotlib.rc_context({"text.parse_math": parse_math}):
        report_mod.plots_png(dict(zip(names, scores)))
    assert len(figures) == 2
    for fig, key in zip(figures, ("success", "precision")):
        ax = fig.axes[0]
        legend = ax.get_legend()
        # each entry as matplotlib draws it: (the characters, whether as mathtext)
        drawn = [t._preprocess_math(t.get_text()) for t in legend.get_texts()]
        assert [ismath for _, ismath in drawn] == [False] * len(names)
        assert [text.split(" [")[0] for text, _ in drawn] == names
        # each entry's line is that tracker's curve
        for handle, s in zip(legend.legend_handles, scores):
            line = next(a for a in ax.lines if a.get_color() == handle.get_color())
            np.testing.assert_array_equal(line.get_ydata(), getattr(s, key))
