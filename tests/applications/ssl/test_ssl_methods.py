"""The methods' training heads against lightly's (loaded without torchvision): the same layers,
shapes and, with lightly's weights copied in, the same outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from siamkit.applications.ssl.methods import SelfSupervised, SSLHeadConfig
from siamkit.applications.ssl.peer import lightly_modules
from siamkit.encoders import create_encoder
from siamkit.models import SiameseNetwork

CFG = SSLHeadConfig(proj_dim=24, proj_hidden=40, pred_hidden=12)


@pytest.fixture(scope="module")
def lightly() -> dict[str, object]:
    return lightly_modules()


def _layers(module: nn.Module) -> list[tuple[str, list[tuple[int, ...]], bool]]:
    """Each layer's kind, parameter shapes and (BatchNorm) affinity."""
    return [
        (type(m).__name__, [tuple(p.shape) for p in m.parameters()], getattr(m, "affine", True))
        for m in module.modules()
        if not isinstance(m, nn.Sequential) and not list(m.children())
    ]


def _model(method: str) -> SelfSupervised:
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 16)
    return SelfSupervised(net, method, CFG)


def _same_outputs(ours: nn.Module, theirs: nn.Module, dim: int) -> None:
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values(), strict=True)))
    x = torch.randn(10, dim)
    for mode in (True, False):
        ours.train(mode)
        theirs.train(mode)
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), atol=1e-6), mode  # type: ignore[operator]


def test_barlow_twins_projector_is_lightlys(lightly: dict[str, object]) -> None:
    ours = _model("barlow_twins").online.projector
    head = lightly["BarlowTwinsProjectionHead"](16, 40, 24)  # type: ignore[operator]
    assert _layers(ours) == _layers(head)
    _same_outputs(ours, head, 16)
