"""The triplet-margin miner: PML's TripletMarginMiner sets (ties included), a loop, and how they
relate to siamkit's own hard / semihard / easy / all strategies."""

from __future__ import annotations

import pytest
import torch
from naive_mining import as_list, as_set

from siamkit.distances import get_distance
from siamkit.miners import TRIPLET_MARGIN_TYPES, TripletMarginMiner, mine_triplets, windows
from siamkit.miners.registry import MINERS


def _batch(b: int = 40, seed: int = 0, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(torch.randn(b, 16, generator=g), dim=1)
    return z, torch.randint(0, classes, (b,), generator=g)


def _ties():
    g = torch.Generator().manual_seed(3)
    z = torch.randint(0, 3, (26, 3), generator=g).float()  # integer L1 distances: m == 0, == margin
    return z, torch.randint(0, 3, (26,), generator=g)


def naive_triplet_margin(dist, y, kind: str, margin: float) -> set[tuple[int, int, int]]:
    """PML's inequalities, one triplet at a time, on the matrix's own floats."""
    d, y = dist.numpy(), y.tolist()
    t = d.dtype.type(margin)
    out = set()
    for a in range(len(y)):
        for p in range(len(y)):
            if p == a or y[p] != y[a]:
                continue
            for n in range(len(y)):
                if y[n] == y[a]:
                    continue
                m = d[a, n] - d[a, p]
                keep = {"all": m <= t, "hard": m <= 0, "semihard": 0 < m <= t, "easy": m > t}[kind]
                if keep:
                    out.add((a, p, n))
    return out


@pytest.fixture(params=["compare", "binary_search"])
def count_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "binary_search":
        monkeypatch.setattr(windows, "COMPARE_MAX_WIDTH", 0)
    return str(request.param)


@pytest.mark.parametrize("kind", TRIPLET_MARGIN_TYPES)
@pytest.mark.parametrize("data", ["continuous", "ties"])
def test_matches_the_loop(kind: str, data: str, count_path: str) -> None:
    z, y = _batch(30, 1) if data == "continuous" else _ties()
    distance, margin = ("euclidean", 0.3) if data == "continuous" else ("manhattan", 1.0)
    got = TripletMarginMiner(margin, kind, distance)(z, y)
    want = naive_triplet_margin(get_distance(distance).matrix(z, z), y, kind, margin)
    assert len(as_list(got)) == len(want) and as_set(got) == want


def test_negative_margin_semihard_is_empty_and_all_is_hard_beyond_it() -> None:
    z, y = _batch(30, 2)
    assert TripletMarginMiner(-0.1, "semihard")(z, y).anchor.numel() == 0
    dist = get_distance("euclidean").matrix(z, z)
    assert as_set(TripletMarginMiner(-0.1, "all")(z, y)) == naive_triplet_margin(
        dist, y, "all", -0.1
    )


def test_relation_to_siamkits_own_strategies() -> None:
    # easy is the same set, ties included; hard and semihard differ only where m == 0 or margin
    z, y = _ties()
    ours = {k: as_set(TripletMarginMiner(1.0, k, "manhattan")(z, y)) for k in TRIPLET_MARGIN_TYPES}
    own = {
        k: as_set(mine_triplets(z, y, k, 1.0, "manhattan")) for k in ("hard", "semihard", "easy")
    }
    assert ours["easy"] == own["easy"]
    assert own["hard"] < ours["hard"] and own["semihard"] < ours["semihard"]  # PML's <= adds ties
    assert ours["all"] == ours["hard"] | ours["semihard"]
    z, y = _batch(40, 7)
    for k in ("hard", "semihard", "easy"):
        assert as_set(TripletMarginMiner(0.2, k)(z, y)) == as_set(mine_triplets(z, y, k, 0.2))


pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("kind", TRIPLET_MARGIN_TYPES)
@pytest.mark.parametrize("seed", [0, 2])
def test_same_triplets_as_pml(kind: str, seed: int) -> None:
    z, y = _batch(40, seed)
    pml = pml_miners.TripletMarginMiner(
        margin=0.2, type_of_triplets=kind,
        distance=pml_distances.LpDistance(normalize_embeddings=False),
    )  # fmt: skip
    assert as_set(TripletMarginMiner(0.2, kind)(z, y)) == as_set(pml(z, y))


@pytest.mark.parametrize("kind", TRIPLET_MARGIN_TYPES)
def test_ties_match_pml(kind: str) -> None:
    z, y = _ties()
    pml = pml_miners.TripletMarginMiner(
        margin=1.0, type_of_triplets=kind,
        distance=pml_distances.LpDistance(p=1, normalize_embeddings=False),
    )  # fmt: skip
    assert as_set(TripletMarginMiner(1.0, kind, "manhattan")(z, y)) == as_set(pml(z, y))


def test_cosine_distance_matches_pml_cosine_similarity() -> None:
    # m is the same number both ways: (1 - s_an) - (1 - s_ap) = s_ap - s_an
    z, y = _batch(40, 5)
    for kind in TRIPLET_MARGIN_TYPES:
        pml = pml_miners.TripletMarginMiner(
            margin=0.3, type_of_triplets=kind, distance=pml_distances.CosineSimilarity()
        )
        assert as_set(TripletMarginMiner(0.3, kind, "cosine")(z, y)) == as_set(pml(z, y))


def test_registered_and_bad_settings_are_named() -> None:
    assert MINERS.build("triplet_margin", type_of_triplets="hard") == TripletMarginMiner(
        0.2, "hard"
    )
    with pytest.raises(
        ValueError, match="type_of_triplets must be one of all, hard, semihard, easy, got 'hardest'"
    ):
        TripletMarginMiner(type_of_triplets="hardest")
    with pytest.raises(ValueError, match="margin must be a finite number"):
        TripletMarginMiner(margin=float("inf"))
