"""Batch easy-hard mining: the same triplets as pytorch-metric-learning's BatchEasyHardMiner and as
a per-anchor loop over its definition, for every strategy pair both accept."""

from __future__ import annotations

import itertools

import pytest
import torch
from naive_mining import as_list, as_set

from siamkit.distances import get_distance
from siamkit.miners import EASY_HARD_STRATEGIES, BatchEasyHardMiner, batch_easy_hard_triplets
from siamkit.miners.registry import MINERS

COMBOS = [
    (p, n)
    for p, n in itertools.product(EASY_HARD_STRATEGIES, EASY_HARD_STRATEGIES)
    if not (p == n == "semihard") and {p, n} != {"semihard", "all"}
]


def _batch(b: int = 40, seed: int = 0, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(torch.randn(b, 8, generator=g), dim=1)
    return z, torch.randint(0, classes, (b,), generator=g)


def naive_easy_hard(dist, y, pos_s, neg_s, pos_range=None, neg_range=None):
    """The definition, one anchor at a time."""
    d = dist.tolist()
    y = y.tolist()
    b = len(y)

    def inside(v, r):
        return r is None or r[0] <= v <= r[1]

    out = set()
    for a in range(b):
        pos = [j for j in range(b) if j != a and y[j] == y[a] and inside(d[a][j], pos_range)]
        neg = [j for j in range(b) if y[j] != y[a] and inside(d[a][j], neg_range)]
        closest_p = min(pos, key=lambda j: d[a][j]) if pos else None
        farthest_p = max(pos, key=lambda j: d[a][j]) if pos else None
        closest_n = min(neg, key=lambda j: d[a][j]) if neg else None
        farthest_n = max(neg, key=lambda j: d[a][j]) if neg else None
        ps = {"easy": [closest_p], "hard": [farthest_p], "all": pos}.get(pos_s)
        ns = {"easy": [farthest_n], "hard": [closest_n], "all": neg}.get(neg_s)
        if pos_s == "semihard":
            n0 = ns[0]
            cand = [j for j in pos if n0 is not None and d[a][j] < d[a][n0]]
            ps = [max(cand, key=lambda j: d[a][j])] if cand else []
        if neg_s == "semihard":
            p0 = ps[0]
            cand = [j for j in neg if p0 is not None and d[a][j] > d[a][p0]]
            ns = [min(cand, key=lambda j: d[a][j])] if cand else []
        out |= {(a, p, n) for p in ps for n in ns if p is not None and n is not None}
    return out


def _pml_triplets(indices) -> set[tuple[int, int, int]]:
    a1, p, a2, n = (t.tolist() for t in indices)
    negs: dict[int, list[int]] = {}
    for a, j in zip(a2, n):
        negs.setdefault(a, []).append(j)
    return {(a, pp, nn) for a, pp in zip(a1, p) for nn in negs.get(a, [])}


@pytest.mark.parametrize(("pos_s", "neg_s"), COMBOS)
def test_every_combination_matches_the_loop(pos_s: str, neg_s: str) -> None:
    z, y = _batch(30, seed=1)
    y[4] = 99  # a singleton: no positive, skipped
    dist = get_distance("euclidean").matrix(z, z)
    got = batch_easy_hard_triplets(z, y, pos_s, neg_s)
    assert len(as_list(got)) == len(as_set(got))  # no duplicates
    assert as_set(got) == naive_easy_hard(dist, y, pos_s, neg_s)
    assert 4 not in got.anchor.tolist()


@pytest.mark.parametrize(
    ("pos_s", "neg_s"), [("easy", "semihard"), ("semihard", "hard"), ("hard", "easy")]
)
def test_ranges_match_the_loop(pos_s: str, neg_s: str) -> None:
    z, y = _batch(30, seed=2)
    dist = get_distance("euclidean").matrix(z, z)
    got = batch_easy_hard_triplets(z, y, pos_s, neg_s, pos_range=(0.3, 1.2), neg_range=[0.5, 1.3])
    want = naive_easy_hard(dist, y, pos_s, neg_s, (0.3, 1.2), (0.5, 1.3))
    assert want and as_set(got) == want


pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize(("pos_s", "neg_s"), COMBOS)
@pytest.mark.parametrize("seed", [0, 3])
def test_same_triplets_as_pml(pos_s: str, neg_s: str, seed: int) -> None:
    z, y = _batch(40, seed)
    pml = pml_miners.BatchEasyHardMiner(
        pos_strategy=pos_s, neg_strategy=neg_s,
        distance=pml_distances.LpDistance(normalize_embeddings=False),
    )  # fmt: skip
    assert as_set(BatchEasyHardMiner(pos_s, neg_s)(z, y)) == _pml_triplets(pml(z, y))


@pytest.mark.parametrize(
    ("pos_s", "neg_s"), [("easy", "semihard"), ("semihard", "hard"), ("hard", "hard")]
)
def test_cosine_with_ranges_matches_pml_cosine_similarity(pos_s: str, neg_s: str) -> None:
    # PML's cosine similarity runs the other way; siamkit's cosine distance is 1 - similarity
    z, y = _batch(40, 5)
    pml = pml_miners.BatchEasyHardMiner(
        pos_strategy=pos_s, neg_strategy=neg_s, distance=pml_distances.CosineSimilarity(),
        allowed_pos_range=(0.2, 0.9), allowed_neg_range=(-0.5, 0.6),
    )  # fmt: skip
    ours = BatchEasyHardMiner(
        pos_s, neg_s, distance="cosine", pos_range=(0.1, 0.8), neg_range=(0.4, 1.5)
    )
    got = as_set(ours(z, y))
    assert got and got == _pml_triplets(pml(z, y))


def test_registered_and_bad_settings_are_named() -> None:
    miner = MINERS.build("batch_easy_hard", neg_strategy="hard", pos_range=[0.0, 1.0])
    assert miner == BatchEasyHardMiner("easy", "hard", pos_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="cannot both be 'semihard'"):
        BatchEasyHardMiner("semihard", "semihard")
    with pytest.raises(ValueError, match="not 'all'"):
        BatchEasyHardMiner("all", "semihard")
    with pytest.raises(
        ValueError, match="neg_strategy must be one of easy, semihard, hard, all, got 'hardest'"
    ):
        BatchEasyHardMiner("easy", "hardest")
    with pytest.raises(ValueError, match=r"pos_range must be \[low, high\]"):
        BatchEasyHardMiner(pos_range=(1.0, 0.0))
    z, _ = _batch(6)
    empty = BatchEasyHardMiner()(z, torch.arange(6))  # no anchor has a positive
    assert empty.anchor.numel() == 0 and empty.anchor.dtype == torch.long


@pytest.mark.parametrize(
    "bad", [(1.0, 0.0), (0.0, float("inf")), [float("nan"), 1.0], (0.0, True), (0.1,), "01"]
)
def test_a_bad_range_is_one_sentence_that_says_finite(bad: object) -> None:
    """pos_range / neg_range: the finite test is siamkit.params.number's, the sentence names the
    whole pair (a NaN or infinite end was refused before without the word 'finite')."""
    for side in ("pos_range", "neg_range"):
        with pytest.raises(ValueError) as refused:
            BatchEasyHardMiner(**{side: bad})
        assert str(refused.value) == (
            f"{side} must be [low, high] of finite numbers with low <= high (distances), "
            f"got {bad!r}."
        )
    assert BatchEasyHardMiner(pos_range=[0, 2]).pos_range == (0.0, 2.0)
