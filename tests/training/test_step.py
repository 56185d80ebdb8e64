"""train_step against a hand-written optimisation step; clear error on a non-finite loss."""

from __future__ import annotations

import copy

import pytest
import torch

import siamkit
from siamkit.losses import triplet_margin_loss
from siamkit.training import train_step


def _net() -> siamkit.SiameseNetwork:
    enc = siamkit.encoders.create_encoder("mlp", in_features=6, hidden=(12,))
    return siamkit.SiameseNetwork(enc, embedding_dim=4)


def test_one_step_equals_a_manual_forward_backward_step() -> None:
    torch.manual_seed(0)
    net = _net()
    ref = copy.deepcopy(net)
    x, y = torch.randn(8, 6), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    a, p, n = torch.tensor([0, 2, 4]), torch.tensor([1, 3, 5]), torch.tensor([2, 4, 6])

    def loss_fn(z: torch.Tensor, labels: torch.Tensor, triplets: tuple) -> torch.Tensor:
        ta, tp, tn = triplets
        d = torch.cdist(z, z)
        return triplet_margin_loss(d[ta, tp], d[ta, tn], 0.5)

    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    value = train_step(net, (x, y, (a, p, n)), loss_fn, opt)

    ref.train()
    z = ref.embed(x)
    ref_loss = torch.relu((z[a] - z[p]).norm(dim=1) - (z[a] - z[n]).norm(dim=1) + 0.5).mean()
    ref_loss.backward()
    with torch.no_grad():
        for q in ref.parameters():
            if q.grad is not None:
                q -= 0.1 * q.grad
    assert value == pytest.approx(float(ref_loss.detach()), abs=1e-6)
    for got, want in zip(net.state_dict().values(), ref.state_dict().values()):
        assert torch.allclose(got, want, atol=1e-6)


def test_scheduler_steps_and_grad_clip_limits_the_norm() -> None:
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = torch.randn(8, 6), torch.arange(8) % 2
    loss_fn = siamkit.losses.SupConLoss()
    train_step(
        net, (x, y), lambda z, lab: 1000 * loss_fn(z, lab), opt, scheduler=sched, grad_clip=0.01
    )
    total = torch.sqrt(sum(q.grad.pow(2).sum() for q in net.parameters() if q.grad is not None))
    assert float(total) <= 0.01 + 1e-6
    assert opt.param_groups[0]["lr"] == 0.5


def test_non_finite_loss_is_a_clear_error() -> None:
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match=r"lower optim\.lr"):
        train_step(
            net, (torch.randn(4, 6), torch.arange(4)), lambda z, y: z.sum() * float("nan"), opt
        )


def test_grad_clip_covers_the_losses_own_parameters_as_a_hand_loop_does() -> None:
    """A loss with class proxies: the clipped norm is that of every parameter the optimiser
    steps, as ``clip_grad_norm_`` over all of them in a hand-written step; clipping the network
    alone left the proxies' gradient (norm ~16 here) unclipped at a bound of 0.01."""
    torch.manual_seed(0)
    net = _net()
    loss_fn = siamkit.losses.ProxyAnchorLoss([0, 1, 2, 3], embedding_dim=4)
    ref_net, ref_loss = copy.deepcopy(net), copy.deepcopy(loss_fn)
    x, y = torch.randn(8, 6), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    opt = torch.optim.SGD([*net.parameters(), *loss_fn.parameters()], lr=0.5)
    train_step(net, (x, y), loss_fn, opt, grad_clip=0.01)

    params = [*ref_net.parameters(), *ref_loss.parameters()]
    ref_net.train()
    ref_loss(ref_net.embed(x), y).backward()
    norm = torch.nn.utils.clip_grad_norm_(params, 0.01)
    assert float(norm) > 1.0  # the bound bites, and the proxies hold most of the norm
    with torch.no_grad():
        for q in params:
            q -= 0.5 * q.grad
    total = torch.stack([q.grad.norm() for g in opt.param_groups for q in g["params"]]).norm()
    assert float(total) <= 0.01 + 1e-6
    for got, want in zip([*net.parameters(), *loss_fn.parameters()], params, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def test_the_grad_scaler_path_clips_the_unscaled_gradients_as_a_hand_loop() -> None:
    """float16's path (a CPU GradScaler here, scale 2**8): the gradients are unscaled before
    the clip, so five steps of Adam equal a hand loop without any scaler, clipping the network's
    and the proxies' gradients together; clipping the scaled ones would shrink every step by
    the scale."""
    torch.manual_seed(0)
    net = _net()
    loss_fn = siamkit.losses.ProxyAnchorLoss([0, 1, 2, 3], embedding_dim=4)
    ref_net, ref_loss = copy.deepcopy(net), copy.deepcopy(loss_fn)
    params, ref_params = (
        [*net.parameters(), *loss_fn.parameters()],
        [
            *ref_net.parameters(),
            *ref_loss.parameters(),
        ],
    )
    opt, ref_opt = torch.optim.Adam(params, 1e-2), torch.optim.Adam(ref_params, 1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for _ in range(5):
        x = torch.randn(8, 6)
        train_step(net, (x, y), loss_fn, opt, scaler=scaler, grad_clip=0.05)
        ref_net.train()
        ref_opt.zero_grad()
        ref_loss(ref_net.embed(x), y).backward()
        torch.nn.utils.clip_grad_norm_(ref_params, 0.05)
        ref_opt.step()
    assert scaler.get_scale() == 2.0**8  # no step skipped
    for got, want in zip(params, ref_params, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
