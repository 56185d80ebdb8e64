"""benchmarks/val_rho.py (issue 20, round 13): the rho relabelling, what the tuplet margin loss
makes of a relabelled sample, and the spectral-decay measure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _bench_scripts import load_script
from _naive_losses import naive_tuplet
from scipy.stats import entropy

from siamkit.losses import TupletMarginLoss


@pytest.fixture(scope="module")
def rho():
    return load_script("val_rho")


def test_relabelling_gives_fresh_unique_labels_at_rate_p_from_its_own_generator(rho) -> None:
    labels = torch.arange(4).repeat_interleave(48)  # the rounds' batch: 4 classes x 48
    torch.manual_seed(123)
    before = torch.get_rng_state()
    draws = [rho.rho_relabel(labels, 0.2, torch.Generator().manual_seed(s)) for s in range(50)]
    assert torch.equal(torch.get_rng_state(), before)  # the global generator is left alone
    switched = 0
    for new in draws:
        moved = new != labels
        switched += int(moved.sum())
        # unkept labels are new, unique and no class id of the batch
        assert torch.equal(new[~moved], labels[~moved])
        assert len(set(new[moved].tolist())) == int(moved.sum())
        assert not set(new[moved].tolist()) & set(labels.tolist())
    assert abs(switched / (50 * len(labels)) - 0.2) < 0.02  # 9,600 draws: sd 0.004
    again = rho.rho_relabel(labels, 0.2, torch.Generator().manual_seed(0))
    assert torch.equal(again, draws[0])  # seeded: reproducible
    assert rho.rho_relabel(labels, 0.0, torch.Generator()) is labels
    with pytest.raises(ValueError, match="probability"):
        rho.rho_relabel(labels, 1.5, torch.Generator())


def test_a_relabelled_sample_is_no_anchor_but_its_classmates_negative(rho) -> None:
    torch.manual_seed(0)
    z = torch.randn(8, 5, requires_grad=True)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    relabelled = torch.tensor([0, 0, 3, 1, 1, 4, 2, 2])  # samples 2 and 5 alone this step
    loss_fn = TupletMarginLoss(margin=0.1, scale=4.0)
    loss = loss_fn(z, relabelled)
    loss.backward()
    loss = loss.detach()
    assert torch.isfinite(loss) and z.grad is not None and torch.isfinite(z.grad).all()
    # the loops skip anchors without a positive and hold samples 2 and 5 as their classmates'
    # negatives: the same figure
    want = naive_tuplet(z.detach().tolist(), relabelled.tolist(), 0.1, 4.0)
    assert float(loss) == pytest.approx(want, rel=1e-5)
    assert float(loss) != pytest.approx(
        naive_tuplet(z.detach().tolist(), labels.tolist(), 0.1, 4.0)
    )
    # the objective wrapper: p 0 is the recipe's loss itself
    obj = rho.RhoObjective(loss_fn, 0.0, seed=0)
    assert float(obj(z, labels).detach()) == float(loss_fn(z, labels).detach())
    assert (obj.switched, obj.seen) == (0, 8)


def test_spectral_kl_is_roths_rho_spectrum(rho) -> None:
    z = torch.randn(200, 16) * torch.linspace(3, 0.1, 16)  # a decaying spectrum
    s = np.linalg.svd(z.double().numpy(), compute_uv=False)
    want = entropy(np.full(len(s), 1 / len(s)), s / s.sum())  # KL(uniform || s)
    assert rho.spectral_kl(z) == pytest.approx(want, rel=1e-9)
    assert rho.spectral_kl(torch.eye(6)) == pytest.approx(0.0, abs=1e-12)  # flat: no decay
    assert rho.spectral_kl(z) > rho.spectral_kl(torch.randn(200, 16))
