"""Registries: names, signature-checked parameters, and the config sections that use them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.losses import SoftMarginTripletLoss
from siamkit.registry import Registry
from siamkit.training import LossConfig, RunConfig, apply_overrides, build_objective
from siamkit.training.config_checks import registered_choices


def _scale(x: float, factor: float = 2.0) -> float:
    return x * factor


def test_registry_builds_checks_parameters_and_lists_names() -> None:
    reg: Registry[float] = Registry("scaler")
    reg.register("scale", _scale)
    assert reg.build("scale", x=3.0, factor=0.5) == 1.5
    with pytest.raises(
        TypeError, match=r"scaler 'scale' has no parameter factr; it accepts: x, factor"
    ):
        reg.build("scale", x=1.0, factr=3)
    with pytest.raises(TypeError, match=r"has no parameters factr, y; it accepts: x, factor"):
        reg.build("scale", x=1.0, factr=3, y=1)  # two unknown: "parameters", not "parameter(s)"
    with pytest.raises(TypeError, match="cannot build scaler 'scale'"):
        reg.build("scale")  # x missing
    with pytest.raises(ValueError, match="unknown scaler 'shift'; choose one of scale"):
        reg.build("shift")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("scale", _scale)
    reg.register("scale", lambda x: x, overwrite=True)
    assert reg.build("scale", x=4.0) == 4.0 and "scale" in reg and list(reg) == ["scale"]


def test_a_loss_named_only_by_the_registry_trains_from_loss_params() -> None:
    """``soft_margin_triplet`` has no flat config keys: kind + params build it, with the
    model's distance; its value is the batch-hard soft-margin formula computed by a loop."""
    cfg = apply_overrides(
        RunConfig(),
        ["loss.kind=soft_margin_triplet", 'loss.params={"mining": "batch_hard"}'],
    )
    loss = build_objective(cfg.loss, "euclidean")
    assert isinstance(loss, SoftMarginTripletLoss) and loss.mining == "batch_hard"
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(12, 4, generator=g), torch.arange(12) % 3
    d = torch.cdist(z, z)
    want = torch.stack(
        [
            F.softplus(
                max(d[a, p] for p in range(12) if p != a and y[p] == y[a])
                - min(d[a, n] for n in range(12) if y[n] != y[a])
            )
            for a in range(12)
        ]
    ).mean()
    assert torch.allclose(loss(z, y), want, atol=1e-5)


def test_loss_params_override_flat_keys_and_bad_ones_are_named() -> None:
    loss = build_objective(LossConfig(kind="triplet", margin=0.2, params={"margin": 0.7}), "cosine")
    assert loss.margin == 0.7
    with pytest.raises(
        ValueError, match=r"loss.params: loss 'triplet' has no parameter.*temprature"
    ):
        apply_overrides(RunConfig(), ["loss.kind=triplet", 'loss.params={"temprature": 0.1}'])


def test_config_choices_come_from_the_registries() -> None:
    names = registered_choices()
    assert {"triplet", "multi_similarity", "soft_margin_triplet"} <= set(names["loss.kind"])
    assert {"fashion-mnist", "digits", "image-folder", "synthetic-glyphs"} == set(
        names["data.dataset"]
    )
    with pytest.raises(
        ValueError, match=r"loss.kind = 'arcface' is not valid; choose one of .*soft_margin_triplet"
    ):
        apply_overrides(RunConfig(), ["loss.kind=arcface"])
