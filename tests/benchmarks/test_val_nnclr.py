"""benchmarks/val_nnclr.py (issue 17's tenth SSL rule): the nearest-neighbour look-up, the support
queue's first-in first-out update, NNCLR's loss, the multi-crop loss and the rule's verdict, each
against hand-computed figures or a naive loop."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _bench_scripts import load_script


@pytest.fixture(scope="module")
def nn():
    return load_script("val_nnclr")


def _naive_nt_xent(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    """SimCLR's NT-Xent written as a loop over the 2N anchors."""
    z = [F.normalize(r, dim=0) for r in torch.cat([z1, z2])]
    n, total = z1.shape[0], 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        den = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[pos]) / t) / den)
    return total / (2 * n)


def _naive_infonce(q: torch.Tensor, k: torch.Tensor, t: float) -> float:
    qs = [F.normalize(r, dim=0) for r in q]
    ks = [F.normalize(r, dim=0) for r in k]
    total = 0.0
    for i, a in enumerate(qs):
        den = sum(math.exp(float(a @ b) / t) for b in ks)
        total += -math.log(math.exp(float(a @ ks[i]) / t) / den)
    return total / len(qs)


def test_nn_infonce_by_hand(nn) -> None:
    # unit rows, t = 1: logits [[1, 0], [0, 1]], each row -log(e / (e + 1)) = log(1 + 1/e)
    q = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert nn.nn_infonce(q, k, 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    # row i's positive is k's row i: swapping k's rows makes the positives the far ones
    swapped = nn.nn_infonce(q, k.flip(0), 1.0).item()
    assert swapped == pytest.approx(math.log(1 + math.e), abs=1e-6)


def test_nearest_is_by_cosine_not_dot_product(nn) -> None:
    obj = nn.NNMixObjective(1.0, 2, 2)
    obj.queue.bank.copy_(torch.tensor([[10.0, 0.0], [0.6, 0.8]]))
    # dot products 5.0 and 1.02 (the long row wins); cosines 0.486 and 0.99 (the second wins)
    got = obj.queue.nearest(torch.tensor([[0.5, 0.9]]))
    assert torch.equal(got, torch.tensor([[0.6, 0.8]]))


def test_the_queue_is_first_in_first_out_of_first_views(nn) -> None:
    obj = nn.NNMixObjective(0.2, 4, 2)
    a, b, c, d, e, f = (
        torch.tensor([[math.cos(x), math.sin(x)]]) for x in (0.1, 0.7, 1.3, 1.9, 2.5, 3.1)
    )
    for z1 in (torch.cat([a, b]), torch.cat([c, d]), torch.cat([e, f])):
        obj(torch.cat([z1, -z1]))  # second views differ: only first views are queued
    # four rows: the third push overwrote the oldest two (a, b), and c, d remain
    assert torch.allclose(obj.queue.bank, torch.cat([e, f, c, d]), atol=1e-6)
    assert int(obj.queue.position) == 2


def test_nnmix_loss_by_naive_loops(nn) -> None:
    torch.manual_seed(0)
    t = 0.5
    obj = nn.NNMixObjective(t, 3, 4)
    bank = F.normalize(torch.randn(3, 4), dim=1)
    obj.queue.bank.copy_(bank)
    z1, z2 = torch.randn(5, 4), torch.randn(5, 4)
    got = obj(torch.cat([z1, z2])).item()

    def naive_nn(z: torch.Tensor) -> torch.Tensor:  # argmax of cosine, row by row
        rows = []
        for r in z:
            sims = [float(F.normalize(r, dim=0) @ F.normalize(b, dim=0)) for b in bank]
            rows.append(bank[max(range(len(sims)), key=sims.__getitem__)])
        return torch.stack(rows)

    near = 0.5 * (_naive_infonce(naive_nn(z1), z2, t) + _naive_infonce(naive_nn(z2), z1, t))
    want = 0.5 * _naive_nt_xent(z1, z2, t) + 0.5 * near
    assert got == pytest.approx(want, rel=1e-5)
    # the neighbours were looked up before z1 joined the queue (FIFO: it replaced the oldest)
    assert torch.allclose(obj.queue.bank[:3], F.normalize(z1, dim=1)[:3], atol=1e-6)


def test_multicrop_loss_by_naive_loops(nn) -> None:
    torch.manual_seed(1)
    g1, g2, s1, s2 = (torch.randn(4, 3) for _ in range(4))
    got = nn.multicrop_loss(torch.cat([g1, g2, s1, s2]), 2, 0.2).item()
    want = (
        _naive_nt_xent(g1, g2, 0.2)
        + 0.5 * (_naive_nt_xent(g1, s1, 0.2) + _naive_nt_xent(g2, s1, 0.2))
        + 0.5 * (_naive_nt_xent(g1, s2, 0.2) + _naive_nt_xent(g2, s2, 0.2))
    ) / 3
    assert got == pytest.approx(want, rel=1e-5)


def test_with_originals_keeps_the_reference_views(nn) -> None:
    from siamkit.applications.ssl.trainer import ViewPairBatches
    from siamkit.applications.ssl.views import ViewConfig, ViewMaker

    x = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    views = ViewMaker(ViewConfig())
    ref = ViewPairBatches(x, 4, None, 3, views, torch.device("cpu"))
    ours = nn.WithOriginals(x, 4, None, 3, views, torch.device("cpu"))
    for (a, _), (b, labels) in zip(ref.epoch(1), ours.epoch(1)):
        assert torch.equal(b[:8], a) and labels.shape == (12,)
        # the originals ride along: each is one of the training images, in [0, 1]
        orig = b[8:]
        assert all(any(torch.equal(o, xi.float() / 255) for xi in x) for o in orig)


def test_multicrop_forward_projects_small_crops(nn) -> None:
    from siamkit.applications.ssl.methods import SelfSupervised, SSLHeadConfig
    from siamkit.applications.ssl.views import ViewConfig
    from siamkit.encoders import create_encoder
    from siamkit.models import SiameseNetwork

    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[8, 16]), 8)
    model = SelfSupervised(net, "simclr", SSLHeadConfig(proj_dim=6, proj_hidden=16))
    maker = nn.small_view_maker(ViewConfig(crop_scale=(0.5, 1.0)), (0.2, 0.5), 16)
    assert maker(torch.rand(3, 1, 28, 28), torch.Generator().manual_seed(0)).shape == (3, 1, 16, 16)
    fwd = nn.MultiCropForward(model, maker, 2, 0)
    assert fwd(torch.rand(12, 1, 28, 28)).shape == (16, 6)  # 2 full views + 2 crops of 4 images


@pytest.mark.parametrize(
    ("cand", "ref", "want"),
    [
        ([0.02, 0.02, 0.02], [0.01, 0.01, 0.01], True),  # mean lead 0.01 exactly passes
        ([0.019, 0.02, 0.02], [0.01, 0.01, 0.01], False),  # lead 0.0097: short of 0.01
        ([0.005, 0.04, 0.04], [0.01, 0.01, 0.01], True),  # fold 1 below ref by 0.005: allowed
        ([0.0049, 0.05, 0.05], [0.01, 0.01, 0.01], False),  # by 0.0051: that fold fails
    ],
)
def test_the_rule(nn, cand: list[float], ref: list[float], want: bool) -> None:
    assert nn.passes(cand, ref) is want


def test_fold_condition_and_gap(nn) -> None:
    assert not nn.fold_fails(0.005, 0.01)
    assert nn.fold_fails(0.0049, 0.01)
    rows = {"raw-pixels": {"val_2w1s": 0.80}, "nnmix": {"val_2w1s": 0.83}}
    assert nn.fold_gap(rows, "nnmix") == pytest.approx(0.03)
