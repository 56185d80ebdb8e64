"""Dedup's thresholds from Python (issue 16): a similarity outside [-1, 1], such as a percentage,
is refused in one sentence instead of finding nothing."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.text.dedup import PassageVectors, covered_pairs, similar_pairs


@pytest.mark.parametrize("given", [72, -1.5, 1.01])
def test_a_similarity_outside_minus_one_to_one_is_refused(given: float) -> None:
    # 72 (a percentage) found no pair at all, without a word
    z = np.eye(3, dtype=np.float32)[[0, 1, 0]]
    with pytest.raises(
        ValueError, match=rf"^min_similarity is a cosine similarity in \[-1, 1\], got {given}"
    ):
        similar_pairs(z, given)
    passages = PassageVectors.from_rows(z, [1, 1, 1])
    with pytest.raises(ValueError, match=r"^min_coverage is a cosine similarity"):
        covered_pairs(passages, given)
    with pytest.raises(ValueError, match=r"^min_single is a cosine similarity"):
        covered_pairs(passages, 0.5, min_single=given)
    assert similar_pairs(z, 1.0).tolist() == [[0, 2]]
