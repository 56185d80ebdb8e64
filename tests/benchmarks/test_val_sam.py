"""benchmarks/val_sam.py (issue 20, round 15, SAM / ASAM): the step on quadratics whose SAM and ASAM
steps are known in closed form, batch norm's running statistics, and the wrapper inside Trainer."""

from __future__ import annotations

import math
from unittest import mock

import pytest
import torch
from _bench_scripts import load_script
from torch import nn

import siamkit.training.trainer as trainer_module
from siamkit.encoders import create_encoder
from siamkit.losses import TupletMarginLoss
from siamkit.models import SiameseNetwork
from siamkit.training import Trainer
from siamkit.training.batch_source import PKBatches


@pytest.fixture(scope="module")
def sam():
    return load_script("val_sam")


class Point(nn.Module):
    """A "network" whose embedding of any batch is its one parameter ``w`` (named ``name``)."""

    def __init__(self, w: list[float], name: str = "weight") -> None:
        super().__init__()
        self.name = name
        self.register_parameter(name, nn.Parameter(torch.tensor(w, dtype=torch.float64)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.name)[None].expand(len(x), -1)


def quadratic(a: list[float]):
    """``L(w) = 0.5 sum_i a_i w_i^2`` (its gradient ``a * w``)."""
    a_t = torch.tensor(a, dtype=torch.float64)
    return lambda z, labels: 0.5 * (a_t * z[0] ** 2).sum()


def _step(step, net: Point, a: list[float]) -> tuple[list[float], float]:
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    batch = (torch.zeros(2, 1), torch.tensor([0, 1]))
    loss = step(net, batch, quadratic(a), opt)
    return getattr(net, net.name).detach().tolist(), loss


def test_sam_step_on_a_quadratic_by_hand(sam) -> None:
    # (the loss is taken in float32, as train_step takes it: hence abs=1e-6)
    # L = 0.5 (w1^2 + 4 w2^2) at w = (3, 1): g = (3, 4), ||g|| = 5, e = 0.5 g / 5 = (0.3, 0.4);
    # the gradient at w + e = (3.3, 1.4) is (3.3, 5.6); SGD 0.1 from w: (2.67, 0.44).
    # Without the ascent it would be (2.7, 0.6); without the restore (3.3 - 0.33, 1.4 - 0.56).
    step = sam.SamStep(rho=0.5)
    w, loss = _step(step, Point([3.0, 1.0]), [1.0, 4.0])
    assert w == pytest.approx([2.67, 0.44], abs=1e-6)
    assert loss == pytest.approx(6.5)  # L(w) = 0.5 (9 + 4), the loss the trainer reports
    l_w, l_sharp, size = step.steps[-1]
    assert (l_w, l_sharp, size) == pytest.approx((6.5, 0.5 * (3.3**2 + 4 * 1.4**2), 0.5))


def test_asam_step_on_a_quadratic_by_hand(sam) -> None:
    # L = 0.5 (3 w1^2 + w2^2) at w = (1, 2), eta 0: g = (3, 2), T = |w| = (1, 2), T g = (3, 4),
    # ||T g|| = 5, e = 0.5 T^2 g / 5 = (0.3, 0.8); gradient at (1.3, 2.8): (3.9, 2.8);
    # SGD 0.1 from w: (0.61, 1.72). (SAM's e = 0.5 (3, 2) / sqrt(13) would give another w.)
    net = Point([1.0, 2.0])
    step = sam.SamStep(rho=0.5, adaptive=True, eta=0.0, scaled={id(net.weight)})
    w, loss = _step(step, net, [3.0, 1.0])
    assert w == pytest.approx([0.61, 1.72], abs=1e-6)
    assert loss == pytest.approx(0.5 * (3 + 4))


def test_asam_eta_and_unscaled_parameters(sam) -> None:
    # eta 0.01: T = (1.01, 2.01), computed here with math alone
    net = Point([1.0, 2.0])
    step = sam.SamStep(rho=0.5, adaptive=True, eta=0.01, scaled={id(net.weight)})
    w, _ = _step(step, net, [3.0, 1.0])
    t, g = (1.01, 2.01), (3.0, 2.0)
    norm = math.hypot(t[0] * g[0], t[1] * g[1])
    e = [0.5 * t[i] ** 2 * g[i] / norm for i in range(2)]
    want = [1.0 - 0.1 * 3.0 * (1.0 + e[0]), 2.0 - 0.1 * 1.0 * (2.0 + e[1])]
    assert w == pytest.approx(want, abs=1e-6)
    # a parameter ASAM does not scale (a bias: T = 1) takes SAM's step: the first case's
    bias = Point([3.0, 1.0], name="bias")
    w, _ = _step(sam.SamStep(rho=0.5, adaptive=True, eta=0.01, scaled=set()), bias, [1.0, 4.0])
    assert w == pytest.approx([2.67, 0.44], abs=1e-6)


def test_the_candidates_are_the_rules(sam) -> None:
    net = SiameseNetwork(create_encoder("mlp", in_features=4, hidden=(8,)), 3)
    s, a = sam.sam_step("sam", net), sam.sam_step("asam", net)
    assert (s.adaptive, s.rho) == (False, 0.05) and (a.adaptive, a.rho, a.eta) == (True, 0.5, 0.01)
    names = {id(p): n for n, p in net.named_parameters()}
    assert {names[i] for i in a.scaled} == {n for n in names.values() if "weight" in n}
    assert any("bias" in n for n in names.values())  # so the set above leaves something out
    with pytest.raises(ValueError, match="--sam must be one of sam, asam"):
        sam.sam_step("none", net)


def test_only_the_clean_pass_updates_batch_norms_running_statistics(sam) -> None:
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("mlp", in_features=4, hidden=(8,)), 3)
    assert any(isinstance(m, nn.BatchNorm1d) for m in net.modules())
    x, y = torch.randn(8, 4), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    clean = SiameseNetwork(create_encoder("mlp", in_features=4, hidden=(8,)), 3)
    clean.load_state_dict(net.state_dict())
    clean.train()
    clean.embed(x)  # one forward in training mode: what the buffers should hold after the step
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sam.SamStep(rho=0.5)(net, (x, y), TupletMarginLoss(0.1, 4.0), opt)
    for (name, got), (_, want) in zip(net.named_buffers(), clean.named_buffers(), strict=True):
        assert torch.equal(got, want), name


def test_inside_trainer_every_step_is_a_sam_step(sam) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.arange(4).repeat_interleave(16)

    def fit(step) -> tuple[SiameseNetwork, float]:
        torch.manual_seed(1)
        net = SiameseNetwork(create_encoder("mlp", in_features=4, hidden=(8,)), 3)
        opt = torch.optim.Adam(net.parameters(), 1e-2)
        batches = PKBatches(x, y, p=4, k=4, steps_per_epoch=3, seed=0)
        trainer = Trainer(net, TupletMarginLoss(0.1, 4.0), opt, batches, epochs=2, progress=False)
        if step is None:
            return net, trainer.fit().history[-1]["loss"]
        with mock.patch.object(trainer_module, "train_step", step):
            return net, trainer.fit().history[-1]["loss"]

    step = sam.SamStep(rho=0.05)
    net, _ = fit(step)
    plain, _ = fit(None)
    assert len(step.steps) == 6  # 2 epochs x 3 steps
    assert all(size == pytest.approx(0.05) for _, _, size in step.steps)  # ||e|| = rho
    assert any(
        not torch.equal(a, b) for a, b in zip(net.parameters(), plain.parameters(), strict=True)
    )
