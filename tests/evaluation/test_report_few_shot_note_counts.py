"""The HTML report's few-shot notes count as its header does (siamkit.clauses.counted's
thousands separator): "drawn from 1,200 of 1,500 classes", "1,001-way asked, but only 1,000
classes are evaluated"."""

from __future__ import annotations

import numpy as np

from siamkit.evaluation.few_shot import FewShotReport
from siamkit.evaluation.report import _asked_note, _drawn_note


def _row(classes_drawn: int) -> FewShotReport:
    return FewShotReport(
        accuracy=0.5,
        ci95=0.1,
        n_way=5,
        k_shot=1,
        n_query=1,
        episodes=5,
        episode_accuracies=np.zeros(5),
        classes_drawn=classes_drawn,
    )


def test_the_drawn_note_groups_thousands() -> None:
    assert _drawn_note(_row(1200), 1500) == (
        "; drawn from 1,200 of 1,500 classes: 300 have fewer than 2 items"
    )
    assert _drawn_note(_row(1499), 1500) == (
        "; drawn from 1,499 of 1,500 classes: 1 has fewer than 2 items"
    )


def test_the_asked_note_groups_thousands() -> None:
    assert _asked_note([1001], 1000) == "; 1,001-way asked, but only 1,000 classes are evaluated"
    assert (
        _asked_note([5, 2000], 3) == "; 5-way and 2,000-way asked, but only 3 classes are evaluated"
    )
