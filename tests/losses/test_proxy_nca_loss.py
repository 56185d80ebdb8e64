"""ProxyNCA against naive loops of its two forms (PML's softmax over every proxy; the paper's
eq. 4 without the own proxy) and against pytorch-metric-learning's ProxyNCALoss; and as a run's
``loss.kind``, its proxies optimised and resumed with the network."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import tiny_trainer, trains
from _pml import (
    assert_finite_nonzero,
    assert_grads_close,
    assert_same_as_peer,
    batch,
    value_and_grads,
)

from siamkit.losses import ProxyNCALoss, proxy_nca_loss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


def naive_proxy_nca(z, t, proxies, scale, exclude_positive):
    z, p = F.normalize(z, dim=1), F.normalize(proxies, dim=1)
    total = 0.0
    for i in range(z.shape[0]):
        d = [float((z[i] - p[c]).pow(2).sum()) for c in range(p.shape[0])]
        own = math.exp(-scale * d[int(t[i])])
        rest = sum(math.exp(-scale * d[c]) for c in range(len(d)) if c != int(t[i]))
        total += -math.log(own / (rest if exclude_positive else own + rest))
    return total / z.shape[0]


@pytest.mark.parametrize("exclude_positive", [False, True])
def test_proxy_nca_matches_a_naive_loop(exclude_positive: bool) -> None:
    g = torch.Generator().manual_seed(0)
    z, proxies = torch.randn(7, 3, generator=g), torch.randn(4, 3, generator=g)
    t = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    got = proxy_nca_loss(z, t, proxies, scale=3.0, exclude_positive=exclude_positive)
    want = naive_proxy_nca(z, t, proxies, 3.0, exclude_positive)
    assert float(got) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("scale", [1.0, 9.0])
def test_proxy_nca_equals_pml_in_value_and_gradients(scale: float) -> None:
    z, labels = batch(1)
    ours = ProxyNCALoss(classes=range(5), embedding_dim=8, scale=scale)
    peer = pml_losses.ProxyNCALoss(num_classes=5, embedding_size=8, softmax_scale=scale)
    with torch.no_grad():
        peer.proxies.copy_(ours.proxies)
    got, got_z, got_p = value_and_grads(ours, z, labels, normalize=False, params=[ours.proxies])
    want, want_z, want_p = value_and_grads(peer, z, labels, normalize=False, params=[peer.proxies])
    assert_same_as_peer(got, got_z, want, want_z)
    assert_grads_close(got_p, want_p)


def test_proxy_nca_gives_finite_nonzero_gradients_and_checks_its_scale() -> None:
    z = torch.randn(6, 4, requires_grad=True)
    loss = ProxyNCALoss(classes=[2, 5, 7], embedding_dim=4, scale=9.0)
    loss(z, torch.tensor([2, 2, 5, 5, 7, 7])).backward()
    assert_finite_nonzero(z.grad, loss.proxies.grad)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        ProxyNCALoss(classes=[0, 1], embedding_dim=4, scale=0.0)
    with pytest.raises(ValueError, match="label 3 has no proxy"):
        loss(z, torch.tensor([2, 3, 5, 5, 7, 7]))


def test_a_run_config_builds_proxy_nca_with_its_parameters() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict
    from siamkit.training.preflight import needs_positives

    params = {"scale": 9.0, "exclude_positive": True}
    cfg = config_from_dict({"loss": {"kind": "proxy_nca", "params": params}})
    loss = build_objective(cfg.loss, cfg.model.distance, classes=[1, 4, 6], embedding_dim=5)
    assert isinstance(loss, ProxyNCALoss) and loss.proxies.shape == (3, 5)
    assert (loss.scale, loss.exclude_positive) == (9.0, True)
    assert not needs_positives("proxy_nca")  # trains on classes of a single image


def test_loss_kind_proxy_nca_trains_its_proxies_and_resumes_them(tmp_path: Path) -> None:
    """Through Trainer.from_config: the proxies move with the network, and a run stopped after
    one epoch and resumed ends with the same proxies and weights as a straight two-epoch run."""
    sets = ["loss.kind=proxy_nca", "loss.mining=null", "loss.params={scale: 9}"]
    trains(sets)
    straight = tiny_trainer([*sets, "train.epochs=2"], tmp_path / "a")
    straight.fit()
    tiny_trainer([*sets, "train.epochs=1"], tmp_path / "b").fit()
    resumed = tiny_trainer([*sets, "train.epochs=2"], tmp_path / "b")
    resumed.fit(resume=True)
    assert torch.equal(resumed.objective.proxies, straight.objective.proxies)
    for p, q in zip(resumed.net.parameters(), straight.net.parameters(), strict=True):
        assert torch.equal(p, q)
