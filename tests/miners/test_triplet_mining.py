"""Online triplet mining: every strategy returns exactly the set its definition gives."""

from __future__ import annotations

import pytest
import torch
from naive_mining import as_list, as_set, naive_batch_hard, naive_triplets

from siamkit.distances import get_distance
from siamkit.miners import (
    BatchHardMiner,
    SemiHardMiner,
    all_triplet_count,
    make_miner,
    mine_triplets,
    mine_triplets_from_matrix,
    windows,
)
from siamkit.miners.windows import PositiveSearch, SortedPositives
from siamkit.types import Triplets

WINDOW = ["hard", "semihard", "easy", "all"]


def _batch(b: int, seed: int, classes: int = 4, dim: int = 6, normalise: bool = True):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, dim, generator=g)
    if normalise:
        z = torch.nn.functional.normalize(z, dim=1)
    y = torch.randint(0, classes, (b,), generator=g)
    return z, y


@pytest.fixture(params=["compare", "binary_search"])
def count_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with both ways of counting positives (direct comparison / searchsorted)."""
    if request.param == "binary_search":
        monkeypatch.setattr(windows, "COMPARE_MAX_WIDTH", 0)
    return str(request.param)


@pytest.mark.parametrize("strategy", WINDOW)
@pytest.mark.parametrize("distance", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("seed", [0, 1])
def test_window_strategies_match_naive_loop(
    strategy: str, distance: str, seed: int, count_path: str
) -> None:
    z, y = _batch(30, seed)
    margin = 0.3 if distance != "manhattan" else 0.8
    got = mine_triplets(z, y, strategy, margin=margin, distance=distance)
    assert isinstance(got, Triplets) and got.anchor.dtype == torch.long
    dist = get_distance(distance).matrix(z, z)
    want = naive_triplets(dist, y, strategy, margin)
    assert len(as_list(got)) == len(want)  # no duplicates
    assert as_set(got) == want


@pytest.mark.parametrize("strategy", WINDOW)
def test_ties_and_boundaries_follow_the_strict_inequalities(strategy: str, count_path: str) -> None:
    # integer points under the L1 distance: many m == 0 and m == margin ties
    g = torch.Generator().manual_seed(3)
    z = torch.randint(0, 3, (28, 3), generator=g).float()
    y = torch.randint(0, 3, (28,), generator=g)
    got = mine_triplets(z, y, strategy, margin=1.0, distance="manhattan")
    dist = get_distance("manhattan").matrix(z, z)
    assert as_set(got) == naive_triplets(dist, y, strategy, 1.0)


def test_window_sets_partition_all_triplets() -> None:
    z, y = _batch(40, 5)
    sets = {s: as_set(mine_triplets(z, y, s, margin=0.25)) for s in WINDOW}
    assert len(sets["all"]) == all_triplet_count(y)
    union = sets["hard"] | sets["semihard"] | sets["easy"]
    assert union <= sets["all"]
    assert not (sets["hard"] & sets["semihard"]) and not (sets["semihard"] & sets["easy"])
    assert len(sets["all"] - union) == 0  # no exact ties in continuous data


def test_boundary_search_is_exact_in_float32() -> None:
    # positives within a few ulps of s - margin, where s - margin and s - x round differently
    g = torch.Generator().manual_seed(0)
    s = torch.rand(300, 8, generator=g) * 3 + 0.3  # (A, R) query distances
    margin = 0.2
    steps = torch.randint(-40, 41, (300, 64), generator=g).float()
    x = (s[:, :1] - margin) + steps * 2e-7 * (1 + s[:, :1])  # positives near row's first query
    x, _ = torch.sort(x, dim=1)
    sp = SortedPositives(x, torch.zeros(300, 64, dtype=torch.long), torch.full((300,), 64))
    search = PositiveSearch(sp)
    t = torch.tensor(margin, dtype=torch.float32)
    for strict in (True, False):
        got = search.count_prefix(s, margin, strict)
        diff = s.unsqueeze(2) - x.unsqueeze(1)  # (A, R, K)
        want = (diff > t if strict else diff >= t).sum(2)
        assert torch.equal(got.long(), want)
        naive_guess = torch.searchsorted(x, s - t, right=not strict)
        assert not torch.equal(naive_guess[:, 0], want[:, 0]), (
            "the data should exercise the correction"
        )


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_batch_hard_matches_naive_loop(distance: str) -> None:
    z, y = _batch(33, 2)
    y[0] = 99  # an anchor without a positive is skipped
    got = mine_triplets(z, y, "batch_hard", distance=distance)
    want = naive_batch_hard(get_distance(distance).matrix(z, z), y)
    assert as_set(got) == want and len(want) == 32


def test_random_is_reproducible_valid_and_covers_all_triplets() -> None:
    z, y = _batch(12, 4, classes=3)
    y[0] = 7
    g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    t1 = mine_triplets(z, y, "random", per_anchor=500, generator=g1)
    t2 = mine_triplets(z, y, "random", per_anchor=500, generator=g2)
    assert all(torch.equal(a, b) for a, b in zip(t1, t2))
    valid = naive_triplets(get_distance("euclidean").matrix(z, z), y, "all", 0.2)
    anchors_with_triplets = {a for a, _, _ in valid}
    assert len(t1.anchor) == 500 * len(anchors_with_triplets)
    assert as_set(t1) <= valid
    assert as_set(t1) == valid  # 500 draws per anchor cover every (p, n) of these tiny classes
    t3 = mine_triplets(z, y, "random", per_anchor=500, generator=torch.Generator().manual_seed(12))
    assert not torch.equal(t1.negative, t3.negative)


def test_no_valid_triplets_gives_empty_long_tensors() -> None:
    z = torch.randn(5, 3)
    for y in (torch.zeros(5, dtype=torch.long), torch.arange(5)):
        for s in [*WINDOW, "batch_hard", "random", "distance_weighted"]:
            t = mine_triplets(torch.nn.functional.normalize(z, dim=1), y, s)
            assert len(t.anchor) == 0 and t.anchor.dtype == torch.long


def test_miner_objects_match_functional_and_matrix_form() -> None:
    z, y = _batch(24, 6)
    assert as_set(SemiHardMiner(margin=0.3)(z, y)) == as_set(mine_triplets(z, y, "semihard", 0.3))
    assert as_set(BatchHardMiner("cosine")(z, y)) == as_set(
        mine_triplets(z, y, "batch_hard", distance="cosine")
    )
    dist = get_distance("euclidean").matrix(z, z)
    assert as_set(mine_triplets_from_matrix(dist, y, "hard")) == as_set(mine_triplets(z, y, "hard"))
    assert make_miner("easy", margin=0.1) == make_miner("easy", margin=0.1)
    with pytest.raises(TypeError, match="bad settings"):
        make_miner("semihard", per_anchor=3)


def test_bad_input_raises_clear_errors() -> None:
    z, y = _batch(8, 0)
    with pytest.raises(ValueError, match="unknown mining strategy"):
        mine_triplets(z, y, "semi-hard")
    with pytest.raises(ValueError, match="one label per embedding"):
        mine_triplets(z, y[:5], "hard")
    with pytest.raises(TypeError, match="integer class ids"):
        mine_triplets(z, y.float(), "hard")
    with pytest.raises(ValueError, match="NaN"):
        mine_triplets(z.masked_fill(torch.eye(8, 6, dtype=torch.bool), float("nan")), y, "hard")
    with pytest.raises(ValueError, match="margin"):
        mine_triplets(z, y, "semihard", margin=float("inf"))
    with pytest.raises(ValueError, match="per_anchor"):
        mine_triplets(z, y, "random", per_anchor=0)
    with pytest.raises(TypeError, match="unexpected"):
        mine_triplets(z, y, "hard", per_positive=2)
