"""Each method's objective as :class:`SelfSupervised` wires it (which rows are which view, which
columns the projection, the prediction or the target, where the stop-gradient sits, which
constant of ``SSLHeadConfig`` reaches the loss) against the papers' formulas written out on the
module's own heads, and lightly's losses; BYOL's momentum schedule step by step.

The loss functions have their own tests (tests/losses/test_self_supervised_losses.py); these
would pass with SimSiam's stop-gradient on the predictor's side, BYOL's prediction and target
columns swapped, a view paired with itself or the config's temperature or lambda dropped, so
every value here is checked together with the gradients it gives the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from siamkit.applications.ssl.methods import SelfSupervised, SSLHeadConfig
from siamkit.applications.ssl.peer import lightly_modules
from siamkit.encoders import create_encoder
from siamkit.models import SiameseNetwork

# constants other than the losses' own defaults, so one the module drops shows
CFG = SSLHeadConfig(
    proj_dim=8, proj_hidden=16, pred_hidden=4, temperature=0.3, momentum=0.9, barlow_lambda=0.02
)
N = 6


def _model(method: str) -> SelfSupervised:
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 8)
    return SelfSupervised(net, method, CFG)


def _views() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(N, 1, 28, 28, generator=gen), torch.rand(N, 1, 28, 28, generator=gen)


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    x, y = a.tolist(), b.tolist()
    dot = sum(p * q for p, q in zip(x, y, strict=True))
    return dot / math.sqrt(sum(p * p for p in x)) / math.sqrt(sum(q * q for q in y))


def _grads(m: SelfSupervised, loss: torch.Tensor) -> dict[str, torch.Tensor | None]:
    m.zero_grad(set_to_none=True)
    loss.backward()
    return {k: None if p.grad is None else p.grad.clone() for k, p in m.named_parameters()}


def _same_grads(ours: dict[str, torch.Tensor | None], ref: dict[str, torch.Tensor | None]) -> None:
    """The same gradient for every parameter, to round-off of the largest one (a bias before a
    BatchNorm has none but round-off); none where the reference gives none."""
    assert ours.keys() == ref.keys()
    scale = max(float(g.abs().max()) for g in ref.values() if g is not None)
    for key, want in ref.items():
        got = ours[key]
        if want is None:
            assert got is None, key
        else:
            assert got is not None and torch.allclose(got, want, rtol=1e-4, atol=1e-5 * scale), key


Reference = Callable[[SelfSupervised, torch.Tensor], torch.Tensor]


def _check(m: SelfSupervised, reference: Reference) -> None:
    """``m.loss`` equals ``reference(m, x)`` (computed from the module's own heads, in the same
    mode, so BatchNorm sees the same batch) in value and in every parameter's gradient."""
    v1, v2 = _views()
    loss = m.loss(v1, v2)
    ours = _grads(m, loss)
    want = reference(m, torch.cat([v1, v2]))
    assert float(loss.detach()) == pytest.approx(float(want.detach()), abs=1e-5)
    _same_grads(ours, _grads(m, want))
    assert any(g is not None and bool(g.abs().sum() > 0) for g in ours.values())


def test_simclr_is_nt_xent_over_2n_views_in_a_loop() -> None:
    """Each of the 2N projections against the other 2N - 1: its other view the positive, itself
    left out, cosine / the config's temperature."""

    def reference(m: SelfSupervised, x: torch.Tensor) -> torch.Tensor:
        z = m.online(x)
        zn = F.normalize(z, dim=1)
        terms = []
        for i in range(2 * N):
            pos = (i + N) % (2 * N)
            logits = torch.stack([zn[i] @ zn[j] / CFG.temperature for j in range(2 * N) if j != i])
            at = pos if pos < i else pos - 1  # the positive's place once i is left out
            terms.append(torch.logsumexp(logits, 0) - logits[at])
        naive = torch.stack(terms).mean()
        lightly = lightly_modules()["NTXentLoss"](temperature=CFG.temperature)
        assert float(naive.detach()) == pytest.approx(
            float(lightly(z[:N], z[N:]).detach()), abs=1e-5
        )
        return naive

    _check(_model("simclr"), reference)


def test_simsiam_stops_the_gradient_on_the_projection_of_the_other_view() -> None:
    """``D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2``, ``D = -cos``: the gradient reaches the
    projector only through the predictor."""

    def reference(m: SelfSupervised, x: torch.Tensor) -> torch.Tensor:
        z = m.online(x)
        assert m.predictor is not None
        p = m.predictor(z)
        naive = sum(-_cos(p[i], z[N + i]) / 2 - _cos(p[N + i], z[i]) / 2 for i in range(N)) / N
        ref = 0.5 * (-F.cosine_similarity(p[:N], z[N:].detach()).mean()) + 0.5 * (
            -F.cosine_similarity(p[N:], z[:N].detach()).mean()
        )
        assert float(ref.detach()) == pytest.approx(naive, abs=1e-6)
        return ref

    _check(_model("simsiam"), reference)


def test_byol_predicts_the_momentum_targets_projection_of_the_other_view() -> None:
    """``mean(2 - 2 cos(q1, t2)) + mean(2 - 2 cos(q2, t1))`` with ``t`` the target network's
    projection (no gradient) and ``q`` the online prediction; the target made different from
    the online network first, so a target taken from the online branch shows."""

    def reference(m: SelfSupervised, x: torch.Tensor) -> torch.Tensor:
        assert m.predictor is not None and m.target is not None
        q = m.predictor(m.online(x))
        with torch.no_grad():
            t = m.target(x)
        naive = sum(
            (2 - 2 * _cos(q[i], t[N + i])) + (2 - 2 * _cos(q[N + i], t[i])) for i in range(N)
        )
        ref = (2 - 2 * F.cosine_similarity(q[:N], t[N:])).mean() + (
            2 - 2 * F.cosine_similarity(q[N:], t[:N])
        ).mean()
        assert float(ref.detach()) == pytest.approx(naive / N, abs=1e-5)
        return ref

    m = _model("byol")
    assert m.target is not None
    with torch.no_grad():
        for p in m.target.parameters():
            p.add_(0.3 * torch.randn_like(p))
    _check(m, reference)


@pytest.mark.parametrize("method", ["vicreg", "barlow_twins"])
def test_vicreg_and_barlow_twins_take_both_views_and_the_configs_lambda(method: str) -> None:
    peer = lightly_modules()
    loss = (
        peer["VICRegLoss"]()
        if method == "vicreg"
        else peer["BarlowTwinsLoss"](lambda_param=CFG.barlow_lambda)
    )

    def reference(m: SelfSupervised, x: torch.Tensor) -> torch.Tensor:
        z = m.online(x)
        return loss(z[:N], z[N:])  # type: ignore[no-any-return]

    _check(_model(method), reference)


def test_byol_momentum_follows_the_cosine_schedule_at_every_step() -> None:
    """``tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2`` after the k-th of K steps, and the
    target ``tau_k * target + (1 - tau_k) * online`` (batch-norm statistics too), from the
    online network's initial weights: a naive recursion over a whole run."""
    m = _model("byol")
    assert m.target is not None
    steps = 7
    want = {k: v.clone().double() for k, v in m.online.state_dict().items()}
    gen = torch.Generator().manual_seed(2)
    for k in range(1, steps + 1):
        with torch.no_grad():
            for p in m.online.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
            for b in m.online.buffers():
                if b.is_floating_point():
                    b.add_(0.1 * torch.randn(b.shape, generator=gen))
        tau = 1 - (1 - CFG.momentum) * (math.cos(math.pi * k / steps) + 1) / 2
        online = m.online.state_dict()
        for key, value in online.items():
            if value.is_floating_point():
                want[key] = tau * want[key] + (1 - tau) * value.double()
            else:
                want[key] = value.clone().double()
        m.after_step(k, steps)
        got = m.target.state_dict()
        for key, value in want.items():
            assert torch.allclose(got[key].double(), value, atol=1e-5), (k, key)
