"""TripletMarginLoss / SoftMarginTripletLoss: the fused mined loss equals the explicit triplet form.

References: a loop over every (a, p, n) applying the seed formula, and pytorch-metric-learning's
TripletMarginLoss with a MeanReducer.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.distances import MahalanobisDistance, get_distance
from siamkit.losses.triplet import SoftMarginTripletLoss, TripletMarginLoss
from siamkit.miners import BatchHardMiner, SemiHardMiner, mine_triplets, windows
from siamkit.types import Triplets


def _batch(b: int = 20, seed: int = 0, classes: int = 4):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(b, 6, generator=g), dim=1)
    return z, torch.randint(0, classes, (b,), generator=g)


def _loop_loss(
    z: torch.Tensor,
    y: torch.Tensor,
    strategy: str,
    margin: float,
    distance: str,
    sel: float | None = None,
    nonzero: bool = False,
):
    """Seed formula summed triplet by triplet over the definition's set (a Python triple loop);
    ``nonzero`` averages over the triplets with a positive hinge only."""
    sel = margin if sel is None else sel
    dist = get_distance(distance).matrix(z, z)
    d = dist.detach()
    terms = []
    b = len(y)
    for a in range(b):
        for p in range(b):
            if p == a or y[p] != y[a]:
                continue
            for n in range(b):
                if y[n] == y[a]:
                    continue
                m = d[a, n] - d[a, p]
                keep = {"hard": m < 0, "semihard": 0 < m < sel, "easy": m > sel, "all": True}[
                    strategy
                ]
                if keep and (not nonzero or float(d[a, p] - d[a, n] + margin) > 0):
                    terms.append(F.relu(dist[a, p] - dist[a, n] + margin))
    return torch.stack(terms).mean() if terms else dist.sum() * 0


def _value_and_grad(fn, z0: torch.Tensor):
    z = z0.clone().requires_grad_(True)
    loss = fn(z)
    loss.backward()
    return loss.detach(), z.grad


@pytest.mark.parametrize("strategy", ["hard", "semihard", "easy", "all"])
@pytest.mark.parametrize("distance", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("search", [False, True])
def test_fused_loss_equals_triplet_loop(
    strategy: str, distance: str, search: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if search:  # count positives by binary search instead of direct comparison
        monkeypatch.setattr(windows, "COMPARE_MAX_WIDTH", 0)
    z0, y = _batch()
    margin = 0.2 if distance != "manhattan" else 0.6
    fused = TripletMarginLoss(margin, distance, mining=strategy)
    v1, g1 = _value_and_grad(lambda z: fused(z, y), z0)
    v2, g2 = _value_and_grad(lambda z: _loop_loss(z, y, strategy, margin, distance), z0)
    assert torch.allclose(v1, v2, rtol=1e-5, atol=1e-7)
    assert torch.allclose(g1, g2, rtol=1e-4, atol=1e-7)
    if strategy != "easy":
        assert float(v1) > 0 and g1.abs().sum() > 0


def test_no_mining_means_all_triplets_and_given_triplets_agree() -> None:
    z0, y = _batch(40, seed=1)
    loss = TripletMarginLoss(0.3)
    v_all, g_all = _value_and_grad(lambda z: loss(z, y), z0)
    v_fused, g_fused = _value_and_grad(lambda z: TripletMarginLoss(0.3, mining="all")(z, y), z0)
    t = mine_triplets(z0, y, "all")
    v_list, g_list = _value_and_grad(lambda z: loss(z, y, t), z0)
    assert torch.allclose(v_all, v_list, rtol=1e-5) and torch.allclose(
        g_all, g_list, rtol=1e-4, atol=1e-8
    )
    assert torch.equal(v_all, v_fused) and torch.equal(g_all, g_fused)


def test_miner_object_with_its_own_margin() -> None:
    z0, y = _batch(30, seed=2)
    loss = TripletMarginLoss(0.3, mining=SemiHardMiner(margin=0.1))
    v1, g1 = _value_and_grad(lambda z: loss(z, y), z0)
    v2, g2 = _value_and_grad(lambda z: _loop_loss(z, y, "semihard", 0.3, "euclidean", sel=0.1), z0)
    assert torch.allclose(v1, v2, rtol=1e-5) and torch.allclose(g1, g2, rtol=1e-4, atol=1e-8)
    # a miner on another distance is called, not fused
    other = TripletMarginLoss(0.3, mining=SemiHardMiner(margin=0.1, distance="cosine"))
    t = mine_triplets(z0, y, "semihard", 0.1, "cosine")
    assert torch.allclose(other(z0, y), TripletMarginLoss(0.3)(z0, y, t))


def test_larger_batch_value_and_gradient() -> None:
    z0, y = _batch(160, seed=3, classes=8)
    for strategy in ("semihard", "all"):
        v1, g1 = _value_and_grad(lambda z, s=strategy: TripletMarginLoss(0.2, mining=s)(z, y), z0)
        t = mine_triplets(z0, y, strategy, 0.2)
        v2, g2 = _value_and_grad(lambda z, t=t: TripletMarginLoss(0.2)(z, y, t), z0)
        assert torch.allclose(v1, v2, rtol=2e-5)
        assert torch.allclose(g1, g2, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize(
    "mining", ["semihard", "hard", "all", "easy", "batch_hard", "random", "distance_weighted"]
)
def test_empty_set_gives_zero_with_grad(mining: str) -> None:
    z = torch.randn(6, 4, requires_grad=True)
    for y in (torch.zeros(6, dtype=torch.long), torch.arange(6)):
        loss = TripletMarginLoss(0.2, mining=mining)(F.normalize(z, dim=1), y)
        assert float(loss.detach()) == 0.0 and loss.grad_fn is not None
        loss.backward()
        assert torch.isfinite(z.grad).all() and float(z.grad.abs().sum()) == 0.0
        z.grad = None


def test_non_window_strategies_through_the_loss() -> None:
    z0, y = _batch(24, seed=4)
    v, g = _value_and_grad(lambda z: TripletMarginLoss(0.2, mining="batch_hard")(z, y), z0)
    t = mine_triplets(z0, y, "batch_hard")
    dist = get_distance("euclidean").matrix(z0, z0)
    assert torch.allclose(
        v, F.relu(dist[t.anchor, t.positive] - dist[t.anchor, t.negative] + 0.2).mean()
    )
    assert torch.isfinite(g).all()
    for m in ("random", "distance_weighted", BatchHardMiner()):
        v, g = _value_and_grad(
            lambda z, m=m: TripletMarginLoss(0.2, mining=m)(F.normalize(z, dim=1), y), z0
        )
        assert torch.isfinite(v) and torch.isfinite(g).all()


def test_learned_distance_is_trained_through_the_fused_loss() -> None:
    z0, y = _batch(20, seed=5)
    maha = MahalanobisDistance(6)
    with torch.no_grad():
        maha.L.add_(0.1 * torch.randn(6, 6))
    fused = TripletMarginLoss(0.2, maha, mining="semihard")
    fused(z0, y).backward()
    g_fused = maha.L.grad.clone()
    maha.L.grad = None
    t = mine_triplets(z0, y, "semihard", 0.2, maha)
    TripletMarginLoss(0.2, maha)(z0, y, t).backward()
    assert torch.allclose(g_fused, maha.L.grad, rtol=1e-4, atol=1e-7)
    assert any(p is maha.L for p in fused.parameters())


def test_soft_margin_matches_formula() -> None:
    z0, y = _batch(24, seed=6)
    v, _ = _value_and_grad(lambda z: SoftMarginTripletLoss()(z, y), z0)  # default: batch_hard
    t = mine_triplets(z0, y, "batch_hard")
    dist = get_distance("euclidean").matrix(z0, z0)
    want = F.softplus(dist[t.anchor, t.positive] - dist[t.anchor, t.negative]).mean()
    assert torch.allclose(v, want)
    t2 = mine_triplets(z0, y, "semihard", 0.2)
    got = SoftMarginTripletLoss(mining=None)(z0, y, t2)
    assert torch.allclose(
        got, F.softplus(dist[t2.anchor, t2.positive] - dist[t2.anchor, t2.negative]).mean()
    )
    semi = SoftMarginTripletLoss(mining="semihard", mining_margin=0.2)(z0, y)
    assert torch.allclose(semi, got)


def test_bad_triplets_and_settings_raise() -> None:
    z, y = _batch(8)
    loss = TripletMarginLoss()
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        loss(z, y, Triplets(torch.tensor([0]), torch.tensor([1]), torch.tensor([8])))
    with pytest.raises(ValueError, match="differ in length"):
        loss(z, y, Triplets(torch.tensor([0, 1]), torch.tensor([1]), torch.tensor([2])))
    with pytest.raises(TypeError, match="integer"):
        loss(z, y, Triplets(torch.tensor([0.0]), torch.tensor([1]), torch.tensor([2])))
    with pytest.raises(ValueError, match="unknown mining strategy"):
        TripletMarginLoss(mining="semi")
    with pytest.raises(TypeError, match="mining must be"):
        TripletMarginLoss(mining=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="margin"):
        TripletMarginLoss(margin=float("nan"))


@pytest.mark.parametrize("strategy", ["hard", "semihard", "easy", "all"])
def test_nonzero_reduction_averages_over_violating_triplets(strategy: str) -> None:
    z0, y = _batch(24, seed=3)
    fused = TripletMarginLoss(0.3, mining=strategy, reduction="nonzero")
    v1, g1 = _value_and_grad(lambda z: fused(z, y), z0)
    v2, g2 = _value_and_grad(
        lambda z: _loop_loss(z, y, strategy, 0.3, "euclidean", nonzero=True), z0
    )
    assert torch.allclose(v1, v2, rtol=1e-5, atol=1e-7)
    assert torch.allclose(g1, g2, rtol=1e-4, atol=1e-7)
    mean = TripletMarginLoss(0.3, mining=strategy)(z0, y)
    if strategy == "all":  # some triplets are already satisfied, so the nonzero mean is larger
        assert float(v1) > float(mean) > 0
    # the listed form (mine first, then the loss) gives the same value
    listed = TripletMarginLoss(0.3, reduction="nonzero")(
        z0, y, mine_triplets(z0, y, strategy, margin=0.3)
    )
    assert torch.allclose(listed, v1, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="reduction must be one of mean, nonzero"):
        TripletMarginLoss(reduction="sum")


pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


@pytest.mark.parametrize("strategy", ["semihard", "all", "batch_hard"])
def test_same_value_and_gradient_as_pml(strategy: str) -> None:
    from pytorch_metric_learning import distances, miners, reducers

    z0, y = _batch(48, seed=0, classes=5)
    lp = distances.LpDistance(normalize_embeddings=False)
    pml_loss = pml_losses.TripletMarginLoss(margin=0.2, distance=lp, reducer=reducers.MeanReducer())
    miner = {
        "semihard": miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard", distance=lp),
        "all": None,
        "batch_hard": miners.BatchHardMiner(distance=lp),
    }[strategy]

    def theirs(z):
        return pml_loss(z, y, miner(z, y) if miner is not None else None)

    v1, g1 = _value_and_grad(lambda z: TripletMarginLoss(0.2, mining=strategy)(z, y), z0)
    v2, g2 = _value_and_grad(theirs, z0)
    assert torch.allclose(v1, v2, rtol=1e-5, atol=1e-6)
    assert torch.allclose(g1, g2, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("strategy", ["all", "batch_hard"])
def test_nonzero_reduction_is_pmls_default_reducer(strategy: str) -> None:
    from pytorch_metric_learning import distances, miners

    z0, y = _batch(48, seed=1, classes=5)
    lp = distances.LpDistance(normalize_embeddings=False)
    pml_loss = pml_losses.TripletMarginLoss(margin=0.2, distance=lp)  # AvgNonZeroReducer
    miner = miners.BatchHardMiner(distance=lp) if strategy == "batch_hard" else None
    ours = TripletMarginLoss(0.2, mining=strategy, reduction="nonzero")
    v1, g1 = _value_and_grad(lambda z: ours(z, y), z0)
    v2, g2 = _value_and_grad(lambda z: pml_loss(z, y, miner(z, y) if miner else None), z0)
    assert torch.allclose(v1, v2, rtol=1e-5, atol=1e-6)
    assert torch.allclose(g1, g2, rtol=1e-3, atol=1e-5)
