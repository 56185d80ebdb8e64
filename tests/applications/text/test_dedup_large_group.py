"""The one large group that a low threshold chains up in a big corpus (the 200,000 texts an
editor dedups, searched through FAISS's k nearest neighbours): grouping it must neither build
its (G, G) similarity matrix nor scan the whole group once per leader, and still give the same
scores as a plain loop over the pairs."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from siamkit.applications.text.dedup import group_duplicates, similar_pairs


def _arc(n: int) -> tuple[np.ndarray, float]:
    """``n`` unit vectors along a curve (an arc of 6 radians in one plane, turning 30 times as
    fast in another: its ends do not meet), and a threshold at which each links to its 4 nearest
    on either side: all of them chain into one component, and no pair spans far. The second
    turn keeps the neighbours' cosines apart by far more than the 1e-5 within which a score
    meets its threshold (index.decision): on one plain arc of 6,000 they were 2e-6 apart, and
    each text linked to 6 on either side."""
    a = np.arange(n) * (6.0 / n)
    z = np.stack([np.cos(a), np.sin(a), np.cos(30 * a), np.sin(30 * a)], axis=1) / np.sqrt(2)
    half = 4.5 * 6.0 / n
    return z.astype(np.float32), float((np.cos(half) + np.cos(30 * half)) / 2)


def _naive(z: np.ndarray, pairs: np.ndarray, members: tuple[int, ...]) -> tuple[list[float], float]:
    """Each member's cosine to the first member, and the smallest cosine of a linked pair inside,
    one pair at a time."""
    inside = np.zeros(len(z), dtype=bool)
    inside[list(members)] = True
    within = pairs[inside[pairs[:, 0]] & inside[pairs[:, 1]]].tolist()
    lead = [float(np.dot(z[members[0]], z[m])) for m in members]
    return lead, min(float(np.dot(z[a], z[b])) for a, b in within)


def test_a_large_chained_group_is_scored_without_its_similarity_matrix() -> None:
    z, threshold = _arc(6000)  # its (G, G) float32 matrix: 144 MB
    pairs = similar_pairs(z, threshold)
    tracemalloc.start()
    try:
        (group,) = group_duplicates(z, pairs, "components")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(group.members) == 6000 and len(pairs) < 6000 * 5
    assert peak < 40e6, f"grouping 6,000 texts peaked at {peak / 1e6:.0f} MB"
    lead, weakest = _naive(z, pairs, group.members)
    assert group.scores == pytest.approx(lead, abs=1e-6)
    assert group.min_similarity == pytest.approx(weakest, abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["components", "centroid", "clique"])
def test_a_large_group_is_grouped_in_time(rule: str) -> None:
    z, threshold = _arc(20_000)
    pairs = similar_pairs(z, threshold)
    linked = {(a, b) for a, b in pairs.tolist()}
    start = time.perf_counter()
    groups = group_duplicates(z, pairs, rule)
    took = time.perf_counter() - start
    assert took < 3, f"{rule} took {took:.0f} s for 20,000 texts in one component"
    seen: set[int] = set()
    for g in groups:
        assert not seen & set(g.members)
        seen |= set(g.members)
        lead = g.members[0]
        others = g.members[1:]
        # centroid: every member linked to the leader; clique: every pair linked
        if rule != "components":
            assert all((min(lead, m), max(lead, m)) in linked for m in others)
        if rule == "clique":
            assert all(
                (min(a, b), max(a, b)) in linked for a in g.members for b in g.members if a != b
            )
    for g in groups[::25]:  # the scores of one group in 25, by the plain loop
        want_lead, want_weakest = _naive(z, pairs, g.members)
        assert g.scores == pytest.approx(want_lead, abs=1e-6)
        assert g.min_similarity == pytest.approx(want_weakest, abs=1e-6)
