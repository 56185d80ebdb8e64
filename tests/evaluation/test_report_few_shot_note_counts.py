"""The HTML report's few-shot notes count as its header does (siamkit.clauses.counted's
thousands separator): "drawn from 1,200 of 1,500 classes", "1,001-way asked, but only 1,000
classes are evaluated"."""

from __future__ import annotations

import re

import numpy as np

from siamkit.evaluation.evaluate import EvaluationReport
from siamkit.evaluation.few_shot import FewShotReport
from siamkit.evaluation.report import _asked_note, _drawn_note, ablation_table, metrics_tables


def _row(classes_drawn: int, k_shot: int = 1, n_query: int = 1) -> FewShotReport:
    return FewShotReport(
        accuracy=0.5,
        ci95=0.1,
        n_way=5,
        k_shot=k_shot,
        n_query=n_query,
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
    # the classes short and the items a class needs (k_shot + n_query) are grouped too (s62_LR
    # 5: the cases above pass with either bare): 1,000-shot, 15 queries, 1,800 classes short
    assert _drawn_note(_row(1200, 1000, 15), 3000) == (
        "; drawn from 1,200 of 3,000 classes: 1,800 have fewer than 1,015 items"
    )


def test_the_asked_note_groups_thousands() -> None:
    assert _asked_note([1001], 1000) == "; 1,001-way asked, but only 1,000 classes are evaluated"
    assert (
        _asked_note([5, 2000], 3) == "; 5-way and 2,000-way asked, but only 3 classes are evaluated"
    )


def test_the_asked_note_lists_three_ways_in_one_list() -> None:
    # it said "5-way and 20-way and 50-way asked"
    assert _asked_note([5, 20, 50], 3) == (
        "; 5-way, 20-way and 50-way asked, but only 3 classes are evaluated"
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
