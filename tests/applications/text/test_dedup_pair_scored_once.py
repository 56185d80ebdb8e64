"""A group of two near-duplicates has one linked pair, which its output scores twice: as the
second member's similarity to the first and as the group's min_similarity. They are one cosine
and must be one number: `siamkit text dedup` wrote {"min_similarity": 0.941904, ...,
"similarity": 0.941903} for the same two texts, the member's from a matrix product and the
weakest pair's from a row-wise sum, which round the last float32 bit differently."""

from __future__ import annotations

import numpy as np

from siamkit.applications.text.dedup import group_duplicates


def _near_pair(seed: int) -> np.ndarray:
    """Two unit float32 vectors of 384 dimensions (MiniLM's size) at a cosine of about 0.995."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, 384)).astype(np.float32)
    z[1] = z[0] + 0.1 * z[1]
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_a_group_of_two_shows_its_one_pair_as_one_score() -> None:
    differ = []
    for seed in range(100):
        z = _near_pair(seed)
        (group,) = group_duplicates(z, np.array([[0, 1]]))
        if group.scores[1] != group.min_similarity:
            differ.append((seed, group.scores[1], group.min_similarity))
    assert not differ, f"member score != min_similarity of the same pair: {differ[:3]}"


def test_a_member_scores_the_same_whichever_of_the_two_leads() -> None:
    """The linked pair (a, b) is summed as (b, a) when b leads: the same products, one sum."""
    z = _near_pair(7)
    (ab,) = group_duplicates(z, np.array([[0, 1]]))
    (ba,) = group_duplicates(z[::-1].copy(), np.array([[0, 1]]))
    assert ab.scores[1] == ba.scores[1] == ab.min_similarity == ba.min_similarity
