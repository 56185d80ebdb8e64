"""The same sets as pytorch-metric-learning's miners for the strategies both libraries have.

PML's ``type_of_triplets`` uses ``0 < m <= margin`` for "semihard", ``m <= 0`` for "hard" and
``m <= margin`` for "all"; siamkit's inequalities are strict, so these sets agree on continuous
data without exact ties (checked below).
"""

from __future__ import annotations

import pytest
import torch
from naive_mining import as_set

from siamkit.miners import mine_triplets

pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


def _batch(b: int, seed: int, classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(torch.randn(b, 16, generator=g), dim=1)
    return z, torch.randint(0, classes, (b,), generator=g)


def _pml_dist():
    return pml_distances.LpDistance(normalize_embeddings=False)


def _no_near_ties(z: torch.Tensor, y: torch.Tensor, margin: float) -> bool:
    d = torch.cdist(z.double(), z.double())
    same = y[:, None] == y[None, :]
    m = d.unsqueeze(1) - d.unsqueeze(2)  # m[a, p, n] = d(a, n) - d(a, p); tiny batches only
    valid = (same & ~torch.eye(len(y), dtype=torch.bool)).unsqueeze(2) & (~same).unsqueeze(1)
    m = m[valid]
    return bool(((m.abs() > 2e-6) & ((m - margin).abs() > 2e-6)).all())


@pytest.mark.parametrize(
    "seed", [0, 2, 3]
)  # seed 1 has a triplet with |m| < 1e-6: a rounding coin-flip
@pytest.mark.parametrize(
    ("ours", "theirs"), [("semihard", "semihard"), ("hard", "hard"), ("easy", "easy")]
)
def test_triplet_margin_miner_sets(seed: int, ours: str, theirs: str) -> None:
    z, y = _batch(40, seed)
    assert _no_near_ties(z, y, 0.2)
    miner = pml_miners.TripletMarginMiner(margin=0.2, type_of_triplets=theirs, distance=_pml_dist())
    assert as_set(mine_triplets(z, y, ours, margin=0.2)) == as_set(miner(z, y))


def test_pml_all_is_our_hard_plus_semihard() -> None:
    z, y = _batch(40, 7)
    miner = pml_miners.TripletMarginMiner(margin=0.2, type_of_triplets="all", distance=_pml_dist())
    ours = as_set(mine_triplets(z, y, "hard", 0.2)) | as_set(mine_triplets(z, y, "semihard", 0.2))
    assert ours == as_set(miner(z, y))


def test_all_triplets_match_pml_indices() -> None:
    from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

    z, y = _batch(36, 3)
    assert as_set(mine_triplets(z, y, "all")) == as_set(lmu.get_all_triplets_indices(y))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_hard_miner(seed: int) -> None:
    z, y = _batch(50, seed, classes=6)
    theirs = pml_miners.BatchHardMiner(distance=_pml_dist())(z, y)
    assert as_set(mine_triplets(z, y, "batch_hard")) == as_set(theirs)
