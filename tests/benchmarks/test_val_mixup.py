"""benchmarks/val_mixup.py (issue 20, round 14, Metrix): the mixed pairs, their interpolated pair
weights, the tuplet margin loss with weights (against siamkit's loss and a hand-computed case),
and the objective's two mixes."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from siamkit.encoders import create_encoder
from siamkit.losses import TupletMarginLoss
from siamkit.losses.tuplet_margin import tuplet_margin_loss
from siamkit.models import SiameseNetwork

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "val_mixup.py"


@pytest.fixture(scope="module")
def mix():
    sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("val_mixup", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pairs_are_of_different_classes_seeded_and_leave_the_global_generator_alone(mix) -> None:
    labels = torch.arange(4).repeat_interleave(48)  # the rounds' batch: 4 classes x 48
    torch.manual_seed(5)
    before = torch.get_rng_state()
    rng = np.random.default_rng(0)
    draws = [mix.mix_pairs(labels, rng) for _ in range(20)]
    assert torch.equal(torch.get_rng_state(), before)
    kept = 0
    for i, j, lam in draws:
        assert (labels[i] != labels[j]).all()  # same-class pairs dropped
        assert len(set(i.tolist())) == len(i) and len(set(j.tolist())) == len(j)  # a permutation's
        assert ((lam > 0) & (lam < 1)).all() and lam.dtype == torch.float32
        kept += len(i)
    assert abs(kept / (20 * 192) - 0.75) < 0.03  # 3 of 4 partners are of another class
    lams = torch.cat([d[2] for d in draws]).double()
    assert (
        abs(float(lams.mean()) - 0.5) < 0.02 and abs(float(lams.var()) - 0.05) < 0.01
    )  # Beta(2, 2)
    again = mix.mix_pairs(labels, np.random.default_rng(0))
    assert all(torch.equal(a, b) for a, b in zip(again, draws[0], strict=True))


def test_mixed_weights_by_hand(mix) -> None:
    # mixes: 0.75 class 0 + 0.25 class 1; 0.5 class 1 + 0.5 class 2; anchors of class 0, 1, 3
    w_pos, w_neg = mix.mixed_weights(
        torch.tensor([0, 1, 3]),
        torch.tensor([0, 1]),
        torch.tensor([1, 2]),
        torch.tensor([0.75, 0.5]),
    )
    assert torch.equal(w_pos, torch.tensor([[0.75, 0.0], [0.25, 0.5], [0.0, 0.0]]))
    assert torch.equal(w_neg, torch.tensor([[0.25, 1.0], [0.75, 0.5], [1.0, 1.0]]))


def test_with_0_1_weights_it_is_the_recipes_tuplet_margin_loss(mix) -> None:
    torch.manual_seed(0)
    z = torch.randn(12, 6)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    same = y[:, None] == y[None]
    eye = torch.eye(12, dtype=torch.bool)
    w_pos, w_neg = (same & ~eye).float(), (~same).float()
    got = mix.soft_tuplet_margin(z, z, w_pos, w_neg, 0.1, 4.0)
    assert float(got) == pytest.approx(float(tuplet_margin_loss(z, y, 0.1, 4.0)), rel=1e-5)
    assert float(got) == pytest.approx(float(TupletMarginLoss(0.1, 4.0)(z, y)), rel=1e-5)


def test_the_mixed_loss_by_hand(mix) -> None:
    """Anchors (1, 0) of class 0 and (0, 1) of class 1; mixes (0.6, 0.8) = 0.75 class 0 + 0.25
    class 1 and (0, 1) = 0.5 class 1 + 0.5 class 2 (weights as in the test above)."""
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    mixes = torch.tensor([[0.6, 0.8], [0.0, 1.0]], requires_grad=True)
    w_pos, w_neg = mix.mixed_weights(
        torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([0.75, 0.5])
    )
    beta, s = 0.1, 2.0

    def pos(c: float) -> float:  # cos(theta - beta), theta clamped as the loss does
        return math.cos(math.acos(min(c, 1 - 1e-7)) - beta)

    # (anchor 0, mix 0): positive 0.75; its one other negative is mix 1 (weight 1, cos 0)
    t00 = math.log1p(1.0 * math.exp(s * (0.0 - pos(0.6))))
    # (anchor 1, mix 0): positive 0.25; negative mix 1 at weight 0.5, cos 1
    t10 = math.log1p(0.5 * math.exp(s * (1.0 - pos(0.8))))
    # (anchor 1, mix 1): positive 0.5; negative mix 0 at weight 0.75, cos 0.8
    t11 = math.log1p(0.75 * math.exp(s * (0.8 - pos(1.0))))
    want = (0.75 * t00 + 0.25 * t10 + 0.5 * t11) / 1.5
    got = mix.soft_tuplet_margin(anchors, mixes, w_pos, w_neg, beta, s)
    assert float(got.detach()) == pytest.approx(want, rel=1e-5)
    got.backward()
    assert anchors.grad is not None and torch.isfinite(anchors.grad).all()
    assert mixes.grad is not None and torch.isfinite(mixes.grad).all()
    # lam and 1 - lam swapped is another loss: the weights are not symmetric by accident
    swapped = mix.mixed_weights(
        torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([0.25, 0.5])
    )
    assert float(
        mix.soft_tuplet_margin(anchors, mixes, *swapped, beta, s).detach()
    ) != pytest.approx(want)
    # no positive weight at all: 0 with a gradient
    none = mix.soft_tuplet_margin(anchors, mixes, torch.zeros(2, 2), torch.ones(2, 2), beta, s)
    assert float(none.detach()) == 0.0 and none.requires_grad


def _net() -> SiameseNetwork:
    torch.manual_seed(0)
    enc = create_encoder(
        "convnet", widths=[4, 8], taps=[0], tap_grids=[2], tap_power=0.5, tap_train=False
    )
    net = SiameseNetwork(enc, 8)
    net.embed(torch.rand(2, 1, 12, 12))  # shapes the preprocess
    return net.train()


@pytest.mark.parametrize("mode", ["input", "manifold"])
def test_the_objective_adds_the_mixes_loss_to_the_recipes(mix, mode: str) -> None:
    net = _net()
    torch.manual_seed(1)
    x, y = torch.rand(16, 1, 12, 12), torch.arange(4).repeat_interleave(4)
    base = TupletMarginLoss(0.1, 64.0)
    fwd = mix.MixForward(net)
    obj = mix.MixObjective(base, fwd, mode, base.margin, base.scale, seed=3)
    z = fwd.embed(x)
    assert torch.equal(z, net.embed(x))  # the clean batch is embedded as the network does
    fwd.embed(x)
    loss = obj(z, y)
    i, j, lam = mix.mix_pairs(y, np.random.default_rng(3))  # the objective's first draws
    if mode == "input":
        lx = lam.view(-1, 1, 1, 1)
        zm = net.embed(lx * x[i] + (1 - lx) * x[j])
    else:  # the encoder's outputs mixed, then the head; taps are zeros in training
        h = net.encoder(net.preprocess(x))
        assert (h[:, -net.encoder.num_passthrough :] == 0).all()
        zm = net.head(lam[:, None] * h[i] + (1 - lam[:, None]) * h[j])
    wp, wn = mix.mixed_weights(y, y[i], y[j], lam)
    want = base(z, y) + mix.soft_tuplet_margin(z, zm, wp, wn, 0.1, 64.0)
    assert float(loss.detach()) == pytest.approx(float(want.detach()), rel=1e-5)
    assert obj.parts[0][2] == len(i) and float(loss.detach()) > obj.parts[0][0]
    loss.backward()
    assert all(p.grad is not None for p in net.head.parameters())
    with pytest.raises(ValueError, match="input or manifold"):
        mix.MixObjective(base, fwd, "none", 0.1, 64.0, seed=0)
