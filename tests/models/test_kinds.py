"""The model-kind registry lets applications add bundle kinds that load_model rebuilds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.models import kinds
from siamkit.models.kinds import model_class, model_kinds, register_model_kind


class TinyKind(siamkit.SiameseNetwork):
    kind = "tiny-test"


def test_a_registered_kind_round_trips_through_a_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(kinds._KINDS, "tiny-test", f"{__name__}:TinyKind")
    net = TinyKind(siamkit.encoders.create_encoder("mlp", in_features=4), embedding_dim=3)
    siamkit.save_model(net, tmp_path / "m")
    back = siamkit.load_model(tmp_path / "m")
    assert type(back) is TinyKind
    x = torch.rand(5, 4)
    assert torch.allclose(back.embed(x), net.eval().embed(x))


def test_unknown_kind_is_named() -> None:
    with pytest.raises(ValueError, match="unknown model kind 'zzz'"):
        model_class("zzz")
    with pytest.raises(ValueError, match="already registered"):
        register_model_kind("siamese", TinyKind)
    assert {"siamese", "half_twin"} <= set(model_kinds())


def test_save_refuses_an_unregistered_module(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="registered kind"):
        siamkit.save_model(torch.nn.Linear(2, 2), tmp_path / "m")  # type: ignore[arg-type]
    assert not (tmp_path / "m").exists()
