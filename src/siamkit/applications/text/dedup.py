"""Near-duplicate groups: pairs above a similarity, then components, cliques or centroid stars.

Pairs come from an exact blockwise search (``(B, N)`` similarity blocks, never ``N × N`` at once)
or, above ``faiss_above`` texts, from a FAISS HNSW k-nearest-neighbour graph (approximate: a
text with more than ``k`` duplicates keeps its ``k`` nearest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RULES = ("components", "clique", "centroid")


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
        rows, cols = np.nonzero(s_block >= sim)
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
        ok = (d >= sim) & (i >= 0) & (i != rows)
        a, b = rows[ok], i[ok]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], 1))
        tick(len(i))
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    return np.unique(pairs, axis=0)


def similar_pairs(
    z: np.ndarray,
    min_similarity: float,
    faiss_above: int = 50_000,
    k: int = 32,
    block: int | None = None,
    tick: Callable[[int], None] = lambda n: None,
) -> np.ndarray:
    """``(P, 2)`` index pairs ``i < j`` with ``z_i · z_j >= min_similarity``; ``z``: ``(N, D)`` unit rows."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    if len(z) > faiss_above:
        return _faiss_pairs(z, min_similarity, k, tick)
    rows = block or max(64, 25_000_000 // max(len(z), 1))  # a (B, N) block stays near 100 MB
    return _exact_pairs(z, min_similarity, rows, tick)


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
    left, out = set(members), []
    for lead in todo:
        if lead not in left:
            continue
        group = [lead]
        for j in todo:
            linked = j in left and j != lead and j in nbrs[lead]
            if linked and (rule == "centroid" or all(j in nbrs[m] for m in group)):
                group.append(j)
        left -= set(group)
        if len(group) > 1:
            out.append(group)
    return out


def group_duplicates(
    z: np.ndarray, pairs: np.ndarray, rule: str = "components"
) -> list[DuplicateGroup]:
    """Groups of ``rule`` over the linked ``pairs`` of unit embeddings ``z`` ``(N, D)``, largest first.

    >>> group_duplicates(z, similar_pairs(z, 0.9))  # doctest: +SKIP
    """
    if rule not in RULES:
        raise ValueError(f"the grouping rule is one of {', '.join(RULES)}, got {rule!r}")
    nbrs: dict[int, set[int]] = {}
    for a, b in pairs.tolist():
        nbrs.setdefault(a, set()).add(b)
        nbrs.setdefault(b, set()).add(a)
    groups = []
    for comp in _components(len(z), pairs):
        parts = [comp] if rule == "components" else _split(comp, nbrs, rule)
        for g in parts:
            g = sorted(g, key=lambda i: (-len(nbrs[i] & set(g)), i))
            sims = z[g] @ z[g].T  # (G, G)
            linked = [sims[x, y] for x in range(len(g)) for y in range(x) if g[y] in nbrs[g[x]]]
            groups.append(
                DuplicateGroup(
                    tuple(g),
                    tuple(float(s) for s in sims[0]),
                    float(min(linked)),
                )
            )
    return sorted(groups, key=lambda gr: (-len(gr.members), gr.members))
