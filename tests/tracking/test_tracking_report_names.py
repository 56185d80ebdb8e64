"""The tracking report's plots name each tracker as its model folder is named: matplotlib reads
the text between two ``$`` of a legend entry as mathtext, which drew ``run$1$`` as an italic 1
and failed the report, after the evaluation, on ``a$}$``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from matplotlib.text import Text

import siamkit.applications.tracking.report as report_mod
from siamkit.applications.tracking.metrics import score_tracking


def test_tracker_names_with_dollars_are_drawn_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    gt = np.array([[10, 10 + i, 20, 20] for i in range(6)], float)
    scores = score_tracking(gt + 1, gt)
    names = ["a$}$", "run$1$"]
    figures: list[Any] = []
    real = report_mod.figure_to_png

    def keep(fig: Any) -> bytes:
        figures.append(fig)
        return real(fig)

    monkeypatch.setattr(report_mod, "figure_to_png", keep)
    report_mod.plots_png(dict.fromkeys(names, scores))
    assert len(figures) == 2
    for fig in figures:
        legend = fig.axes[0].get_legend()
        # each entry as matplotlib draws it: (the characters, whether as mathtext)
        drawn = [t._preprocess_math(t.get_text()) for t in legend.findobj(Text) if t.get_text()]
        assert [ismath for _, ismath in drawn] == [False, False]
        assert [text.split(" [")[0] for text, _ in drawn] == names
