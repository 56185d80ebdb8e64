"""The encoder registry: names, output shapes, clear errors for unknown names and arguments."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from siamkit.encoders import create_encoder, encoder_spec, list_encoders, register_encoder


@pytest.mark.parametrize(
    ("name", "kwargs", "x"),
    [
        ("convnet", {"in_channels": 1}, torch.rand(2, 1, 28, 28)),
        ("convnet", {"in_channels": 3, "widths": [8, 16]}, torch.rand(2, 3, 50, 37)),
        (
            "resnet",
            {"in_channels": 3, "layers": [1, 1], "widths": [8, 16]},
            torch.rand(2, 3, 96, 96),
        ),
        (
            "resnet",
            {"in_channels": 1, "stem": "small", "layers": [1, 1], "widths": [8, 16]},
            torch.rand(2, 1, 28, 28),
        ),
        ("mlp", {"in_features": 16, "hidden": [32, 24]}, torch.rand(3, 16)),
    ],
)
def test_encoders_give_n_by_num_features(name: str, kwargs: dict, x: torch.Tensor) -> None:
    enc = create_encoder(name, **kwargs).eval()
    out = enc(x)
    assert out.shape == (x.shape[0], enc.num_features)
    assert encoder_spec(enc) == {"name": name, "kwargs": kwargs}


def test_resnet18_has_the_resnet18_parameter_count() -> None:
    enc = create_encoder("resnet", in_channels=3)
    n_params = sum(p.numel() for p in enc.parameters())
    assert (
        n_params == 11_176_512
    )  # torchvision resnet18 without its fc layer (11,689,512 - 513,000)


def test_registry_lists_and_rejects_clearly() -> None:
    assert {"convnet", "resnet", "mlp"} <= set(list_encoders())
    with pytest.raises(ValueError, match="unknown encoder 'vgg'"):
        create_encoder("vgg")
    with pytest.raises(TypeError, match=r"no parameter.*widthz"):
        create_encoder("convnet", widthz=[1])
    with pytest.raises(TypeError, match="cannot build encoder 'mlp'"):
        create_encoder("mlp")  # in_features is required
    with pytest.raises(ValueError, match="not made by siamkit"):
        encoder_spec(nn.Linear(2, 2))


def test_register_encoder_explicitly() -> None:
    class Tiny(nn.Module):
        def __init__(self, width: int = 4) -> None:
            super().__init__()
            self.fc = nn.Linear(2, width)
            self.num_features = width

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    register_encoder("tiny-test", Tiny, overwrite=True)
    assert create_encoder("tiny-test", width=3)(torch.zeros(5, 2)).shape == (5, 3)
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("tiny-test", Tiny)
