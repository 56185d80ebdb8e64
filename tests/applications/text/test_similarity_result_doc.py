"""help(SimilarityResult), what a notebook user reads after compare_texts, says what each field
is: ``threshold`` is a distance beside a ``similarity`` (0.28 next to 0.84 read as a bug)."""

from __future__ import annotations

import dataclasses

from siamkit.applications.text.similarity import SimilarityResult


def test_every_field_is_described_and_the_threshold_is_named_a_distance() -> None:
    doc = SimilarityResult.__doc__ or ""
    for field in dataclasses.fields(SimilarityResult):
        assert f"        {field.name}: " in doc, field.name
    assert "threshold: the *distance*" in doc
