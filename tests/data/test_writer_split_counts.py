"""The writer split's refusal counts its writers as every message counts (siamkit.clauses.counted)."""

from __future__ import annotations

import pytest

from siamkit.data.signature_set import writer_disjoint_split


def test_one_writer_and_over_a_thousand_are_counted() -> None:
    with pytest.raises(ValueError) as one:
        writer_disjoint_split(1, (0.6, 0.2, 0.2))
    assert str(one.value) == "1 writer cannot be split [0.6, 0.2, 0.2]: a group would be empty."
    with pytest.raises(ValueError) as many:  # 1,499 + 1 + 0: the last group empty
        writer_disjoint_split(1500, (0.9995, 0.0004, 0.0001))
    assert str(many.value).startswith("1,500 writers cannot be split [0.9995, 0.0004, 0.0001]")
