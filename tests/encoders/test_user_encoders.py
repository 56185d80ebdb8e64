"""An encoder registered outside siamkit gets the data's input channels (images) or features
(vectors) from a run, as the built-in convnet, resnet and mlp do, when its factory names
``in_channels`` / ``in_features``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

from siamkit.encoders import register_encoder
from siamkit.encoders.registry import ENCODERS
from siamkit.training import build_model, config_from_dict


class PoolCNN(nn.Module):
    def __init__(self, in_channels: int, width: int = 4) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.num_features = width

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x).mean(dim=(2, 3))


class Linear(nn.Module):
    def __init__(self, in_features: int, width: int = 4) -> None:
        super().__init__()
        self.in_features = in_features
        self.fc = nn.Linear(in_features, width)
        self.num_features = width

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x)


@pytest.fixture
def user_encoders() -> Iterator[None]:
    register_encoder("pool_cnn", PoolCNN)
    register_encoder("user_linear", Linear)
    yield
    ENCODERS.unregister("pool_cnn")
    ENCODERS.unregister("user_linear")


@pytest.mark.parametrize(("kind", "shape"), [("pool_cnn", (3, 8, 8)), ("user_linear", (5,))])
def test_a_user_encoder_gets_the_datas_channels_or_features(user_encoders, kind, shape) -> None:
    cfg = config_from_dict({"model": {"encoder": {"kind": kind, "params": {}}, "embedding_dim": 4}})
    net = build_model(cfg.model, shape)
    assert net.embed(torch.rand(2, *shape)).shape == (2, 4)
    key = "in_channels" if len(shape) == 3 else "in_features"
    assert getattr(net.encoder, key) == shape[0]
    assert net.encoder.siamkit_spec["kwargs"][key] == shape[0]  # saved: the model rebuilds
