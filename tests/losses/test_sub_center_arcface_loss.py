"""Sub-center ArcFace (Deng et al., 2020) against a naive loop of its formula and against
pytorch-metric-learning's SubCenterArcFaceLoss (loss, gradients, dominant sub-centres and
outliers); and as a run's ``loss.kind``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import (
    assert_finite_nonzero,
    assert_grads_close,
    assert_same_as_peer,
    batch,
    value_and_grads,
)

from siamkit.losses import NormalizedSoftmaxLoss, SubCenterArcFaceLoss, sub_center_arcface_loss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


def naive_sub_center_arcface(z, t, centers, k, scale, margin):
    """-log softmax of scale * [cos(theta_y + m) for the target, cos theta_c otherwise], where
    cos theta_c is the largest cosine to class c's K sub-centres."""
    z, w = F.normalize(z, dim=1), F.normalize(centers, dim=1)
    total = 0.0
    for i in range(z.shape[0]):
        logits = []
        for c in range(w.shape[0] // k):
            cos = max(float(z[i] @ w[c * k + j]) for j in range(k))
            if c == int(t[i]):
                cos = math.cos(math.acos(cos) + margin)
            logits.append(scale * cos)
        total += -logits[int(t[i])] + math.log(sum(math.exp(v) for v in logits))
    return total / z.shape[0]


def test_sub_center_arcface_matches_a_naive_loop() -> None:
    g = torch.Generator().manual_seed(0)
    z, centers = torch.randn(7, 3, generator=g), torch.randn(3 * 4, 3, generator=g)
    t = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    got = sub_center_arcface_loss(z, t, centers, 4, scale=8.0, margin=0.3)
    assert float(got) == pytest.approx(
        naive_sub_center_arcface(z, t, centers, 4, 8.0, 0.3), rel=1e-5
    )


def _pair(k: int, margin: float = 0.5, scale: float = 64.0):
    ours = SubCenterArcFaceLoss(range(5), 8, sub_centers=k, scale=scale, margin=margin)
    peer = pml_losses.SubCenterArcFaceLoss(
        num_classes=5, embedding_size=8, sub_centers=k, margin=math.degrees(margin), scale=scale
    )
    with torch.no_grad():
        peer.W.copy_(ours.proxies.T)  # PML's W is (D, C * K), column c * K + j
    return ours, peer


@pytest.mark.parametrize(("k", "margin"), [(1, 0.5), (3, 0.5), (3, 0.2)])
def test_sub_center_arcface_equals_pml_in_value_and_gradients(k: int, margin: float) -> None:
    z, labels = batch(1)
    ours, peer = _pair(k, margin)
    got, got_z, got_w = value_and_grads(ours, z, labels, normalize=False, params=[ours.proxies])
    want, want_z, want_w = value_and_grads(peer, z, labels, normalize=False, params=[peer.W])
    assert_same_as_peer(got, got_z, want, want_z)
    assert_grads_close(got_w, want_w.T)


def test_one_sub_center_is_arcface() -> None:
    z, labels = torch.randn(12, 6), torch.arange(12) % 4
    ours = SubCenterArcFaceLoss(range(4), 6, sub_centers=1, scale=16, margin=0.3)
    arc = NormalizedSoftmaxLoss(range(4), 6, scale=16, margin=0.3)
    with torch.no_grad():
        arc.proxies.copy_(ours.proxies)
    with torch.no_grad():
        assert float(ours(z, labels)) == pytest.approx(float(arc(z, labels)), rel=1e-6)


def test_dominant_sub_centres_and_outliers_equal_pml() -> None:
    ours, peer = _pair(3)
    z, labels = batch(2, b=60)
    want_out, want_centres = peer.get_outliers(z, labels, threshold=80)
    got_out = ours.outliers(z, labels, max_angle=math.radians(80))
    assert 0 < got_out.numel() < 60
    assert got_out.tolist() == sorted(want_out.tolist())
    dom = ours.dominant(z, labels)
    for c in range(5):
        assert torch.equal(ours.proxies[c * 3 + int(dom[c])], want_centres[:, c])
    assert ours.dominant(z[labels != 4], labels[labels != 4])[4] == -1


def test_sub_center_arcface_gives_finite_nonzero_gradients_and_checks_its_settings() -> None:
    z = torch.randn(6, 4, requires_grad=True)
    loss = SubCenterArcFaceLoss(classes=[2, 5, 7], embedding_dim=4, sub_centers=3)
    assert loss.proxies.shape == (9, 4)
    loss(z, torch.tensor([2, 2, 5, 5, 7, 7])).backward()
    assert_finite_nonzero(z.grad, loss.proxies.grad)
    with pytest.raises(ValueError, match=r"margin must be a number in \[0, pi/2\) \(radians"):
        SubCenterArcFaceLoss(classes=[0, 1], embedding_dim=4, margin=28.6)  # PML's degrees
    with pytest.raises(ValueError, match="sub_centers must be a whole number >= 1"):
        SubCenterArcFaceLoss(classes=[0, 1], embedding_dim=4, sub_centers=0)
    with pytest.raises(ValueError, match="label 3 has no proxy"):
        loss(z, torch.tensor([2, 3, 5, 5, 7, 7]))


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("sub_centers", 0, "sub_centers must be a whole number >= 1 (the paper's 3), got 0."),
        ("scale", 0.0, "scale must be a finite number > 0 (the paper's 64), got 0.0."),
        ("scale", -64.0, "scale must be a finite number > 0 (the paper's 64), got -64.0."),
        (
            "margin",
            -0.1,
            "margin must be a number in [0, pi/2) (radians, for margin_type 'arc'), got -0.1.",
        ),
        (
            "margin",
            28.6,
            "margin must be a number in [0, pi/2) (radians, for margin_type 'arc'), got 28.6.",
        ),
    ],
)
def test_sub_center_arcface_refusal_names_only_the_wrong_setting(setting, value, words) -> None:
    with pytest.raises(ValueError) as refused:
        SubCenterArcFaceLoss(classes=[0, 1], embedding_dim=4, **{setting: value})
    assert str(refused.value) == words
    others = {"sub_centers", "scale", "margin"} - {setting}
    assert not any(other in str(refused.value).replace("margin_type", "") for other in others)


def test_sub_center_cosface_refuses_a_margin_of_one_or_more() -> None:
    with pytest.raises(ValueError) as refused:
        SubCenterArcFaceLoss(classes=[0, 1], embedding_dim=4, margin=1.0, margin_type="cos")
    assert (
        str(refused.value)
        == "margin must be a number in [0, 1) (a cosine, for margin_type 'cos'), got 1.0."
    )


def test_a_run_config_builds_and_trains_sub_center_arcface() -> None:
    from siamkit.training import build_objective
    from siamkit.training.config_io import config_from_dict
    from siamkit.training.preflight import needs_positives

    params = {"sub_centers": 2, "scale": 32, "margin": 0.3}
    cfg = config_from_dict({"loss": {"kind": "sub_center_arcface", "params": params}})
    loss = build_objective(cfg.loss, cfg.model.distance, classes=[1, 4, 6], embedding_dim=5)
    assert isinstance(loss, SubCenterArcFaceLoss) and loss.proxies.shape == (6, 5)
    assert (loss.scale, loss.margin) == (32.0, 0.3)
    assert not needs_positives("sub_center_arcface")
    trainer = trains(
        ["loss.kind=sub_center_arcface", "loss.mining=null", "loss.params={sub_centers: 2}"]
    )
    assert trainer.objective.proxies.shape == (6 * 2, 16)
