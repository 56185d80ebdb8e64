"""Proxy-Anchor and normalised-softmax / ArcFace / CosFace losses against naive loops and PML."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from siamkit.losses.proxies import (
    NormalizedSoftmaxLoss,
    ProxyAnchorLoss,
    normalized_softmax_loss,
    proxy_anchor_loss,
)


def naive_proxy_anchor(z, t, proxies, margin, alpha):
    z, p = F.normalize(z, dim=1), F.normalize(proxies, dim=1)
    pos_terms, neg_terms = [], []
    for c in range(p.shape[0]):
        s = [float(z[i] @ p[c]) for i in range(z.shape[0])]
        pos = [s[i] for i in range(len(s)) if int(t[i]) == c]
        neg = [s[i] for i in range(len(s)) if int(t[i]) != c]
        if pos:
            pos_terms.append(math.log(1 + sum(math.exp(-alpha * (v - margin)) for v in pos)))
        neg_terms.append(math.log(1 + sum(math.exp(alpha * (v + margin)) for v in neg)))
    return sum(pos_terms) / len(pos_terms) + sum(neg_terms) / len(neg_terms)


def test_proxy_anchor_matches_a_naive_loop() -> None:
    g = torch.Generator().manual_seed(0)
    z, proxies = torch.randn(10, 5, generator=g), torch.randn(4, 5, generator=g)
    t = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 1, 2])  # proxy 3 has no positives
    got = proxy_anchor_loss(z, t, proxies, margin=0.1, alpha=8.0)
    assert float(got) == pytest.approx(naive_proxy_anchor(z, t, proxies, 0.1, 8.0), rel=1e-5)


def test_proxy_anchor_equals_pml() -> None:
    from pytorch_metric_learning.losses import ProxyAnchorLoss as PMLProxyAnchor

    g = torch.Generator().manual_seed(1)
    z = torch.randn(16, 8, generator=g)
    labels = torch.randint(0, 5, (16,), generator=g)
    ours = ProxyAnchorLoss(classes=range(5), embedding_dim=8, margin=0.1, alpha=32)
    peer = PMLProxyAnchor(num_classes=5, embedding_size=8, margin=0.1, alpha=32)
    with torch.no_grad():
        peer.proxies.copy_(ours.proxies)
    assert float(ours(z, labels).detach()) == pytest.approx(
        float(peer(z, labels).detach()), rel=1e-4
    )


def test_class_ids_map_onto_proxies_and_unknown_ones_are_named() -> None:
    loss = ProxyAnchorLoss(classes=[7, 2, 9], embedding_dim=3)
    assert loss.targets(torch.tensor([2, 7, 9, 2])).tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="label 4 has no proxy"):
        loss(torch.randn(2, 3), torch.tensor([2, 4]))
    with pytest.raises(ValueError, match="at least 2"):
        ProxyAnchorLoss(classes=[1], embedding_dim=3)


def test_normalized_softmax_matches_cross_entropy_and_arcface_by_hand() -> None:
    g = torch.Generator().manual_seed(2)
    z, proxies = torch.randn(6, 4, generator=g), torch.randn(3, 4, generator=g)
    t = torch.tensor([0, 1, 2, 0, 1, 2])
    cos = F.normalize(z, dim=1) @ F.normalize(proxies, dim=1).T
    plain = F.cross_entropy(10.0 * cos, t)
    assert float(normalized_softmax_loss(z, t, proxies, scale=10.0)) == pytest.approx(float(plain))
    m = 0.3
    logits = 10.0 * cos.clone()
    for i in range(6):  # ArcFace: the target's angle + m
        logits[i, t[i]] = 10.0 * math.cos(math.acos(float(cos[i, t[i]])) + m)
    arc = F.cross_entropy(logits, t)
    got = normalized_softmax_loss(z, t, proxies, scale=10.0, margin=m)
    assert float(got) == pytest.approx(float(arc), rel=1e-5)
    assert float(got) > float(plain)  # a margin makes the same embedding pay more


def test_arcface_equals_pml() -> None:
    from pytorch_metric_learning.losses import ArcFaceLoss

    g = torch.Generator().manual_seed(3)
    z = torch.randn(12, 6, generator=g)
    labels = torch.randint(0, 4, (12,), generator=g)
    ours = NormalizedSoftmaxLoss(classes=range(4), embedding_dim=6, scale=64.0, margin=0.5)
    peer = ArcFaceLoss(num_classes=4, embedding_size=6, margin=math.degrees(0.5), scale=64.0)
    with torch.no_grad():
        peer.W.copy_(ours.proxies.T)
    assert float(ours(z, labels).detach()) == pytest.approx(
        float(peer(z, labels).detach()), rel=1e-4
    )


def test_cosface_matches_cross_entropy_by_hand() -> None:
    g = torch.Generator().manual_seed(4)
    z, proxies = torch.randn(6, 4, generator=g), torch.randn(3, 4, generator=g)
    t = torch.tensor([0, 1, 2, 0, 1, 2])
    cos = F.normalize(z, dim=1) @ F.normalize(proxies, dim=1).T
    logits = 10.0 * cos.clone()
    for i in range(6):  # CosFace: the target's cosine - m
        logits[i, t[i]] = 10.0 * (float(cos[i, t[i]]) - 0.35)
    got = normalized_softmax_loss(z, t, proxies, scale=10.0, margin=0.35, margin_type="cos")
    assert float(got) == pytest.approx(float(F.cross_entropy(logits, t)), rel=1e-6)
    arc = normalized_softmax_loss(z, t, proxies, scale=10.0, margin=0.35)
    assert float(got) != pytest.approx(float(arc), rel=1e-3)  # the default is still ArcFace


def _value_and_grads(loss_fn, z, labels, weights):
    z = z.clone().requires_grad_(True)
    loss = loss_fn(z, labels)
    gz, gw = torch.autograd.grad(loss, [z, weights])
    return float(loss.detach()), gz, gw


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("margin_type", ["arc", "cos"])
def test_margins_equal_pml_in_value_and_gradients(margin_type: str) -> None:
    """ArcFace and CosFace against PML with the same weights (PML's W is (D, C), normalised by its
    cosine distance; ArcFace's margin in degrees): the loss and its gradients with respect to the
    embeddings and the proxies."""
    from pytorch_metric_learning.losses import ArcFaceLoss, CosFaceLoss

    g = torch.Generator().manual_seed(5)
    z = torch.randn(24, 8, generator=g)
    labels = torch.randint(0, 5, (24,), generator=g)
    margin = 0.5 if margin_type == "arc" else 0.35
    ours = NormalizedSoftmaxLoss(range(5), 8, scale=64.0, margin=margin, margin_type=margin_type)
    if margin_type == "arc":
        peer = ArcFaceLoss(num_classes=5, embedding_size=8, margin=math.degrees(margin), scale=64)
    else:
        peer = CosFaceLoss(num_classes=5, embedding_size=8, margin=margin, scale=64)
    with torch.no_grad():
        peer.W.copy_(ours.proxies.T)
    if margin_type == "arc":  # some targets past theta = pi - m, where ArcFace switches to
        # cos(theta) - m sin(m) to stay monotonic: point them away from their proxy
        with torch.no_grad():
            z[:4] = -ours.proxies[labels[:4]] + 0.05 * z[:4]
        cos = F.normalize(z, dim=1) @ F.normalize(ours.proxies.detach(), dim=1).T
        assert float(cos.gather(1, labels[:, None])[:4].max()) < math.cos(math.pi - margin)
    got, got_z, got_w = _value_and_grads(ours, z, labels, ours.proxies)
    want, want_z, want_w = _value_and_grads(peer, z, labels, peer.W)
    assert got == pytest.approx(want, rel=1e-5)
    assert _max_rel(got_z, want_z) < 1e-5
    assert _max_rel(got_w, want_w.T) < 1e-5
    # the comparison can fail: the other margin type moves the gradient far past the tolerance
    other = NormalizedSoftmaxLoss(
        range(5), 8, 64.0, margin, margin_type="cos" if margin_type == "arc" else "arc"
    )
    with torch.no_grad():
        other.proxies.copy_(ours.proxies)
    _, other_z, _ = _value_and_grads(other, z, labels, other.proxies)
    assert _max_rel(other_z, want_z) > 1e-2


def test_margin_type_is_checked_and_a_run_config_selects_cosface() -> None:
    with pytest.raises(ValueError, match="margin_type must be one of"):
        NormalizedSoftmaxLoss(range(3), 4, margin=0.3, margin_type="add")  # type: ignore[arg-type]
    z, t = torch.randn(2, 4), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="margin_type must be one of"):
        normalized_softmax_loss(z, t, torch.randn(2, 4), 1.0, 0.1, "x")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"margin must be a number in \[0, 1\) \(a cosine, for margin_type 'cos'\)"
    ):
        NormalizedSoftmaxLoss(range(3), 4, margin=1.2, margin_type="cos")
    with pytest.raises(
        ValueError,
        match=r"margin must be a number in \[0, pi/2\) \(radians, for margin_type 'arc'\)",
    ):
        NormalizedSoftmaxLoss(range(3), 4, margin=1.6)
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict

    params = {"scale": 30, "margin": 0.35, "margin_type": "cos"}
    cfg = config_from_dict({"loss": {"kind": "normalized_softmax", "params": params}})
    loss = build_objective(cfg.loss, cfg.model.distance, classes=[2, 5, 7], embedding_dim=4)
    assert isinstance(loss, NormalizedSoftmaxLoss)
    assert (loss.scale, loss.margin, loss.margin_type) == (30.0, 0.35, "cos")


def test_training_on_proxies_separates_classes() -> None:
    """A few steps on fixed embeddings: the loss must fall and each point's nearest proxy
    become its own class's (fails if the proxies or gradients are not wired)."""
    torch.manual_seed(0)
    z = torch.nn.Parameter(torch.randn(30, 4))
    labels = torch.arange(3).repeat(10)
    loss_fn = ProxyAnchorLoss(classes=range(3), embedding_dim=4, alpha=8.0)
    opt = torch.optim.SGD([z, *loss_fn.parameters()], lr=0.5)
    first = None
    for _ in range(60):
        loss = loss_fn(z, labels)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    nearest = (F.normalize(z, dim=1) @ F.normalize(loss_fn.proxies, dim=1).T).argmax(dim=1)
    assert bool((nearest == labels).all())


def test_a_run_config_trains_proxies_and_resumes_them(tmp_path) -> None:
    """loss.kind: proxy_anchor through Trainer.from_config: the proxies are optimised with the
    network (they move) and saved in the checkpoint (a resumed run ends equal)."""
    from pathlib import Path

    from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data

    tiny = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
    cfg = apply_overrides(
        load_config(tiny),
        ["loss.kind=proxy_anchor", "loss.mining=null", "loss.params={alpha: 16}",
         "train.epochs=2", "train.steps_per_epoch=3", "train.val_metric=none",
         "optim.schedule=constant"],  # a schedule would differ between 1 and 2 planned epochs
    )  # fmt: skip
    data = load_run_data(cfg.data)

    def run(out: Path, stop_after: int | None = None):
        torch.manual_seed(0)
        mean, std = data.channel_stats()
        net = build_model(cfg.model, data.input_shape, mean, std)
        c = cfg if stop_after is None else apply_overrides(cfg, [f"train.epochs={stop_after}"])
        trainer = Trainer.from_config(net, c, data, out_dir=out, progress=False)
        return trainer

    first = run(tmp_path / "a")
    before = first.objective.proxies.detach().clone()
    first.fit()
    assert not torch.allclose(first.objective.proxies, before)  # optimised with the network
    assert first.objective.proxies.shape == (6, cfg.model.embedding_dim)
    # stop after one epoch, resume to two: the same proxies and weights as the straight run
    run(tmp_path / "b", stop_after=1).fit()
    resumed = run(tmp_path / "b")
    resumed.fit(resume=True)
    assert torch.equal(resumed.objective.proxies, first.objective.proxies)
    for p, q in zip(resumed.net.parameters(), first.net.parameters(), strict=True):
        assert torch.equal(p, q)
