"""sample_episodes' refusal counts as every message counts (siamkit.clauses.counted): "with 1
query", "only 1 has that many", "1,001-way"."""

from __future__ import annotations

import pytest

from siamkit.evaluation.few_shot import sample_episodes


def test_one_query_and_one_class_are_said_in_the_singular() -> None:
    with pytest.raises(ValueError) as err:
        sample_episodes([0] * 5 + [1], n_way=2, k_shot=1, n_query=1, episodes=1)
    assert str(err.value) == (
        "2-way 1-shot with 1 query needs 2 classes with at least 2 items each, but only 1 has "
        "that many; lower n_way, k_shot or n_query"
    )


def test_over_a_thousand_classes_carry_the_separator() -> None:
    labels = [c for c in range(1000) for _ in range(2)]  # 1,000 classes of 2 items
    with pytest.raises(ValueError) as err:
        sample_episodes(labels, n_way=1001, k_shot=1, n_query=1, episodes=1)
    assert str(err.value).startswith(
        "1,001-way 1-shot with 1 query needs 1,001 classes with at least 2 items each, but only "
        "1,000 have that many"
    )
