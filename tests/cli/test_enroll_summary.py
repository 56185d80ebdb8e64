"""The `siamkit enroll` summary line counts in proper English (1 item, 2 items)."""

from __future__ import annotations

from siamkit.cli._enroll import enrollment_summary


def test_singular_and_plural_counts() -> None:
    assert enrollment_summary({"alice": [1]}, "g.db", 1) == (
        "enrolled 1 image of 1 label into g.db (now 1 item): alice 1"
    )
    assert enrollment_summary({"alice": [1, 2], "bob": [3]}, "g.db", 7) == (
        "enrolled 3 images of 2 labels into g.db (now 7 items): alice 2, bob 1"
    )


def test_labels_beyond_those_shown() -> None:
    ids = {f"p{i}": [i] for i in range(12)}
    assert enrollment_summary(ids, "g.db", 12, shown=11).endswith("p10 1, ... and 1 more label")
    assert enrollment_summary(ids, "g.db", 12, shown=10).endswith("p9 1, ... and 2 more labels")
