"""A distance registered outside siamkit: its factory needs neither ``dim`` nor ``hidden``, a
model built from a config naming it saves, and the saved model loads with the same distance
(parameters and learned weights included) once the user's registration is in place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

import siamkit
from siamkit.distances.registry import DISTANCES
from siamkit.training import build_model, config_from_dict


class Chebyshev:
    """A fixed distance with no parameters: the largest coordinate difference."""

    name = "chebyshev"

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        return (x - y).abs().amax(dim=1)

    def matrix(self, x: Tensor, y: Tensor) -> Tensor:
        return (x[:, None, :] - y[None, :, :]).abs().amax(dim=2)


class ScaledEuclidean(nn.Module):
    """A learned distance: a weight per embedding coordinate, and a parameter of its own."""

    name = "scaled_euclidean"

    def __init__(self, dim: int, power: float = 1.0) -> None:
        super().__init__()
        self.power = power
        self.scale = nn.Parameter(torch.ones(dim))

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        return ((x - y) * self.scale).norm(dim=1) ** self.power

    def matrix(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.cdist(x * self.scale, y * self.scale) ** self.power


@pytest.fixture
def user_distances() -> Iterator[None]:
    DISTANCES.register("chebyshev", Chebyshev)
    DISTANCES.register("scaled_euclidean", ScaledEuclidean)
    yield
    DISTANCES.unregister("chebyshev")
    DISTANCES.unregister("scaled_euclidean")


def _model(distance: object) -> nn.Module:
    cfg = config_from_dict(
        {
            "model": {
                "encoder": {"kind": "mlp", "params": {"hidden": [8]}},
                "embedding_dim": 4,
                "distance": distance,
            }
        }
    )
    torch.manual_seed(0)
    return build_model(cfg.model, (6,)).eval()


def test_a_fixed_user_distance_needs_no_dim_and_round_trips(user_distances, tmp_path) -> None:
    net = _model("chebyshev")
    x = torch.randn(5, 6)
    siamkit.save_model(net, tmp_path / "m")
    back = siamkit.load_model(tmp_path / "m")
    assert back.distance_name == "chebyshev" and isinstance(back.distance, Chebyshev)
    assert torch.allclose(back(x, x.flip(0)), net(x, x.flip(0)))
    assert siamkit.model_fingerprint(back) == siamkit.model_fingerprint(net)


def test_a_learned_user_distance_keeps_its_parameters_and_weights(user_distances, tmp_path) -> None:
    net = _model({"kind": "scaled_euclidean", "params": {"power": 2.0}})
    assert isinstance(net.distance, ScaledEuclidean) and net.distance.power == 2.0
    with torch.no_grad():
        net.distance.scale.copy_(torch.arange(1.0, 5.0))
    x = torch.randn(5, 6)
    siamkit.save_model(net, tmp_path / "m")
    back = siamkit.load_model(tmp_path / "m")
    assert isinstance(back.distance, ScaledEuclidean) and back.distance.power == 2.0
    assert torch.equal(back.distance.scale, net.distance.scale)
    assert torch.allclose(back(x, x.flip(0)), net(x, x.flip(0)))
