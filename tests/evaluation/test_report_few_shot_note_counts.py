"""The HTML report's few-shot notes count as its header does (siamkit.clauses.counted's
thousands separator): "drawn from 1,200 of 1,500 classes", "1,001-way asked, but only 1,000
classes are evaluated"."""

from __future__ import annotations

import re

import numpy as np

from siamkit.evaluation.evaluate import EvaluationReport
from siamkit.evaluation.few_shot import FewShotReport
from siamkit.evaluation.report import _asked_note, _drawn_note, ablation_table, metrics_tables


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


def test_the_row_and_the_column_group_thousands_as_their_notes() -> None:
    # s62_LR 2: the row said "1000-way 1-shot (...; 1,001-way asked, but only 1,000 classes are
    # evaluated; ...)": the same count bare and grouped in one cell
    row = FewShotReport(
        accuracy=0.5,
        ci95=0.1,
        n_way=1000,
        k_shot=1200,
        n_query=1,
        episodes=5,
        episode_accuracies=np.zeros(5),
        classes_drawn=1000,
    )
    rep = EvaluationReport(
        verification=None,
        few_shot={"1000way1200shot": row},
        retrieval=None,
        distance="cosine",
        n_items=2_500_000,
        n_classes=1500,
    )
    cell = re.findall(r"<td>(.*?)</td>", metrics_tables(rep, {"1000way1200shot": [1001]}))[0]
    assert cell.startswith("1,000-way 1,200-shot (5 episodes, 1 query/class; 1,001-way asked, ")
    assert "<th>1,000-way 1,200-shot</th>" in ablation_table(rep, {"part": rep})
