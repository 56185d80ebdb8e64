"""Near-duplicate groups: pairs above a similarity, then components, cliques or centroid stars.

Pairs come from an exact blockwise search (``(B, N)`` similarity blocks, never ``N × N`` at once)
or, above ``faiss_above`` texts, from a FAISS HNSW k-nearest-neighbour graph (approximate: a
text with more than ``k`` duplicates keeps its ``k`` nearest).

Two ways to score a pair of texts: the cosine of their whole-text embeddings (``documents``),
or their **passage coverage** (``passages``): each text is split into sentences, each sentence
takes its best cosine among the other text's sentences, a text's coverage is the mean of those,
and a pair scores the smaller of its two coverages. An edited copy keeps nearly every sentence
of its original; an article on the same story says the same things in other sentences, which
a whole-text embedding places close but coverage does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from siamkit.index.decision import ROUNDING as DECISION_ROUNDING
from siamkit.index.decision import reaches

RULES = ("components", "clique", "centroid")
# passage coverage at or above which two texts are near-duplicates (all-MiniLM-L6-v2): best
# F1 on synthetic edits of Lee background documents 0-149 (both edit mixtures chose it),
# benchmarks/bench_text.py calibrate; see BENCHMARKS.md
COVERAGE_SIMILARITY = 0.68
# pairs whose mean-passage vectors are below this cosine are not scored by coverage at all
CANDIDATE_SIMILARITY = 0.6
# how far under a threshold a float32 score may fall and still reach it: the rule every verdict
# shares (siamkit.index.decision), so that dedup links the pairs verify calls the same
ROUNDING = DECISION_ROUNDING


@dataclass(frozen=True)
class DuplicateGroup:
    """Indices of texts judged duplicates and, per member, its cosine similarity to the group's
    first member (the one with most duplicates); ``min_similarity`` over all linked pairs."""

    members: tuple[int, ...]
    scores: tuple[float, ...]
    min_similarity: float


def _exact_pairs(z: np.ndarray, sim: float, block: int, tick: Callable[[int], None]) -> np.ndarray:
    found = []
    for s in range(0, len(z), block):
        s_block = z[s : s + block] @ z.T  # (B, N)
        rows, cols = np.nonzero(reaches(s_block, sim))
        rows = rows + s
        keep = cols > rows
        found.append(np.stack([rows[keep], cols[keep]], 1))
        tick(min(block, len(z) - s))
    return np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)


def _faiss_pairs(z: np.ndarray, sim: float, k: int, tick: Callable[[int], None]) -> np.ndarray:
    import faiss

    index = faiss.IndexHNSWFlat(z.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = max(64, 2 * k)
    index.add(z)
    found = []
    for s in range(0, len(z), 8192):
        d, i = index.search(z[s : s + 8192], k + 1)  # (B, k+1) similarities, ids
        rows = np.repeat(np.arange(s, s + len(i)), i.shape[1]).reshape(i.shape)
        ok = reaches(d, sim) & (i >= 0) & (i != rows)
        a, b = rows[ok], i[ok]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], 1))
        tick(len(i))
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    return np.unique(pairs, axis=0)


def check_cosine(value: float, name: str) -> None:
    """Refuse a threshold outside ``[-1, 1]`` (a percentage such as 72 would find nothing)."""
    if not -1.0 <= value <= 1.0:
        raise ValueError(
            f"{name} is a cosine similarity in [-1, 1], got {value}; e.g. 0.72, not 72"
        )


def similar_pairs(
    z: np.ndarray,
    min_similarity: float,
    faiss_above: int = 50_000,
    k: int = 32,
    block: int | None = None,
    tick: Callable[[int], None] = lambda n: None,
) -> np.ndarray:
    """``(P, 2)`` index pairs ``i < j`` with ``z_i · z_j >= min_similarity`` (a cosine in
    ``[-1, 1]``; within float32 rounding, :data:`ROUNDING`, so that copies reach 1.0); ``z``:
    ``(N, D)`` unit rows, e.g. ``model.embed(texts).numpy()``.

    >>> similar_pairs(np.eye(3, dtype=np.float32)[[0, 1, 0]], 0.9).tolist()
    [[0, 2]]
    """
    check_cosine(min_similarity, "min_similarity")
    z = np.ascontiguousarray(z, dtype=np.float32)
    if len(z) > faiss_above:
        return _faiss_pairs(z, min_similarity, k, tick)
    rows = block or max(64, 25_000_000 // max(len(z), 1))  # a (B, N) block stays near 100 MB
    return _exact_pairs(z, min_similarity, rows, tick)


@dataclass(frozen=True)
class PassageVectors:
    """Unit sentence embeddings of many texts: text ``t``'s rows are
    ``vectors[offsets[t]:offsets[t + 1]]``; ``means``: ``(N, D)`` the unit mean of each text's
    rows (for finding candidate pairs)."""

    vectors: np.ndarray
    offsets: np.ndarray
    means: np.ndarray

    @classmethod
    def from_rows(cls, vectors: np.ndarray, counts: Sequence[int]) -> PassageVectors:
        """``vectors``: ``(sum(counts), D)`` unit rows, text by text; ``counts[t] >= 1``."""
        counts_arr = np.asarray(counts, dtype=np.int64)
        if (counts_arr < 1).any():
            raise ValueError("every text needs at least one passage")
        if counts_arr.sum() != len(vectors):
            raise ValueError(f"{len(vectors)} passage vectors for {counts_arr.sum()} passages")
        offsets = np.concatenate([[0], np.cumsum(counts_arr)])
        vectors = np.ascontiguousarray(vectors, np.float32)
        means = np.add.reduceat(vectors, offsets[:-1], axis=0)  # (N, D) sums, text by text
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return cls(vectors, offsets, means)

    def rows(self, t: int) -> np.ndarray:
        return self.vectors[self.offsets[t] : self.offsets[t + 1]]

    def coverage(self, a: int, b: int) -> float:
        """The smaller of text ``a``'s and text ``b``'s mean best-match sentence cosine."""
        sims = self.rows(a) @ self.rows(b).T  # (Pa, Pb)
        return float(min(sims.max(1).mean(), sims.max(0).mean()))


def covered_pairs(
    passages: PassageVectors,
    min_coverage: float,
    min_single: float | None = None,
    faiss_above: int = 50_000,
    k: int = 32,
    tick: Callable[[int], None] = lambda n: None,
    score_tick: Callable[[int, int], None] = lambda done, total: None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(P, 2)`` index pairs ``i < j`` whose passage coverage is at least ``min_coverage``, and
    their ``(P,)`` coverages. Only pairs whose mean-passage vectors reach
    ``min(CANDIDATE_SIMILARITY, min_coverage, min_single)`` are scored (:func:`similar_pairs`,
    which calls ``tick``); ``score_tick(done, total)`` follows the candidate pairs scored sentence
    by sentence: ``(0, total)`` before the first, then after each.

    Two one-sentence texts: their coverage is their cosine, and nothing is missing from either,
    so they are held to ``min_single`` (default ``min_coverage``) — a near-duplicate sentence
    threshold, where ``min_coverage`` allows for the sentences an edited copy loses."""
    check_cosine(min_coverage, "min_coverage")
    if min_single is not None:
        check_cosine(min_single, "min_single")
    single_t = min_coverage if min_single is None else min_single
    floor = min(CANDIDATE_SIMILARITY, min_coverage, single_t)
    cand = similar_pairs(passages.means, floor, faiss_above=faiss_above, k=k, tick=tick)
    counts = np.diff(passages.offsets)
    single = (counts[cand[:, 0]] == 1) & (counts[cand[:, 1]] == 1)
    cov = np.empty(len(cand), dtype=np.float32)
    one = np.flatnonzero(single)
    for s in range(0, len(one), 65_536):  # one row each: the cosine, in bounded blocks
        blk = one[s : s + 65_536]
        cov[blk] = np.einsum("ij,ij->i", passages.means[cand[blk, 0]], passages.means[cand[blk, 1]])
    several = cand[~single].tolist()
    scores = np.empty(len(several), dtype=np.float32)
    score_tick(0, len(several))
    for n, (a, b) in enumerate(several):
        scores[n] = passages.coverage(a, b)
        score_tick(n + 1, len(several))
    cov[~single] = scores
    keep = np.where(single, reaches(cov, single_t), reaches(cov, min_coverage))
    return cand[keep], cov[keep]


def _components(n: int, pairs: np.ndarray) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in np.unique(pairs).tolist():
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _split(members: list[int], nbrs: dict[int, set[int]], rule: str) -> list[list[int]]:
    """Greedy leaders by degree; ``centroid``: a leader and its linked members; ``clique``: only
    members linked to every member already in the group."""
    todo = sorted(members, key=lambda i: (-len(nbrs[i]), i))
    rank = {m: r for r, m in enumerate(todo)}
    left, out = set(members), []
    for lead in todo:
        if lead not in left:
            continue
        group = [lead]
        # the lead's neighbours still left, in the order of todo: scanning all of todo for
        # each lead made a component of G texts cost G^2 steps (hours for 100,000)
        for j in sorted(nbrs[lead] & left, key=rank.__getitem__):
            if j != lead and (rule == "centroid" or all(j in nbrs[m] for m in group)):
                group.append(j)
        left -= set(group)
        if len(group) > 1:
            out.append(group)
    return out


def _lead_and_weakest(
    z: np.ndarray | PassageVectors, g: list[int], nbrs: dict[int, set[int]]
) -> tuple[list[float], float]:
    """Each member's score against ``g[0]``, and the smallest score of a linked pair in ``g``."""
    inside = set(g)
    linked = [(a, b) for a in g for b in nbrs[a] & inside if a < b]
    if isinstance(z, PassageVectors):  # coverage pair by pair: only the pairs needed
        lead = [z.coverage(g[0], m) for m in g]
        return lead, min(z.coverage(a, b) for a, b in linked)
    # the linked pairs' cosines, in blocks: never the (G, G) matrix, 40 GB for a group of
    # 100,000 texts (the chained group a low threshold makes of a FAISS-searched corpus)
    weakest = float(_pair_cosines(z, np.asarray(linked, dtype=np.int64).reshape(-1, 2)).min())
    # the members' scores by the same sum, so that a pair scored twice (the two of a group of
    # two) shows one number: a matrix product rounds another way in the last float32 bit
    scores = _pair_cosines(z, np.array([[g[0], m] for m in g], dtype=np.int64).reshape(-1, 2))
    return [float(s) for s in scores], weakest


def _pair_cosines(z: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``z_a · z_b`` of each row ``(a, b)`` of ``ends``, in blocks of 65,536 pairs, summed the
    same way whatever the block or the order of ``a`` and ``b``."""
    return np.concatenate(
        [
            np.einsum("ij,ij->i", z[blk[:, 0]], z[blk[:, 1]])
            for blk in np.array_split(ends, max(1, -(-len(ends) // 65_536)))
        ]
    )


def group_duplicates(
    z: np.ndarray | PassageVectors, pairs: np.ndarray, rule: str = "components"
) -> list[DuplicateGroup]:
    """Groups of ``rule`` over the linked ``pairs``, largest first; ``z``: ``(N, D)`` unit
    embeddings (scores are cosines) or :class:`PassageVectors` (scores are passage coverages).

    >>> group_duplicates(z, similar_pairs(z, 0.9))  # doctest: +SKIP
    """
    if rule not in RULES:
        raise ValueError(f"the grouping rule is one of {', '.join(RULES)}, got {rule!r}")
    nbrs: dict[int, set[int]] = {}
    for a, b in pairs.tolist():
        nbrs.setdefault(a, set()).add(b)
        nbrs.setdefault(b, set()).add(a)
    groups = []
    n = len(z.means) if isinstance(z, PassageVectors) else len(z)
    for comp in _components(n, pairs):
        parts = [comp] if rule == "components" else _split(comp, nbrs, rule)
        for g in parts:
            inside = set(g)  # once: built in the key, it cost G^2 for a group of G
            g = sorted(g, key=lambda i: (-len(nbrs[i] & inside), i))
            lead, weakest = _lead_and_weakest(z, g, nbrs)
            groups.append(DuplicateGroup(tuple(g), tuple(lead), weakest))
    return sorted(groups, key=lambda gr: (-len(gr.members), gr.members))
