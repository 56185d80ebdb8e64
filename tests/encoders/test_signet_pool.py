"""SigNet's grid pool: nn.AdaptiveAvgPool2d's numbers in PyTorch, an ONNX-exportable form in export."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.encoders.convnet import cell_means
from siamkit.encoders.signet import GridAvgPool2d, SigNet

# odd maps the grid does not divide, ones it does, and maps smaller than the grid
SHAPES = [(8, 12, 3, 4), (7, 9, 3, 4), (13, 5, 4, 3), (2, 3, 3, 4), (1, 1, 3, 4), (9, 12, 3, 4)]


@pytest.mark.parametrize(("h", "w", "rows", "cols"), SHAPES)
def test_grid_pool_is_adaptive_average_pooling_exactly_in_eager(h, w, rows, cols):
    x = torch.randn(3, 5, h, w, generator=torch.Generator().manual_seed(h * 31 + w))
    got = GridAvgPool2d((rows, cols))(x)
    assert torch.equal(got, F.adaptive_avg_pool2d(x, (rows, cols)))
    assert torch.equal(got, nn.AdaptiveAvgPool2d((rows, cols))(x))


@pytest.mark.parametrize(("h", "w", "rows", "cols"), SHAPES)
def test_cell_means_are_the_same_cells(h, w, rows, cols):
    x = torch.randn(2, 4, h, w, generator=torch.Generator().manual_seed(h + 7 * w))
    torch.testing.assert_close(
        cell_means(x, rows, cols), F.adaptive_avg_pool2d(x, (rows, cols)), rtol=0, atol=1e-6
    )


def test_signet_saved_with_the_plain_pool_loads_and_embeds_exactly_as_before():
    torch.manual_seed(0)
    old = SigNet(stem_stride=3).eval()  # as saved before: nn.AdaptiveAvgPool2d in features[15]
    old.features[15] = nn.AdaptiveAvgPool2d((3, 4))
    with torch.no_grad():  # batch norm statistics that are not the identity
        for bn in (m for m in old.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    new = SigNet(stem_stride=3).eval()
    assert isinstance(new.features[15], GridAvgPool2d)
    assert list(new.state_dict()) == list(old.state_dict())
    new.load_state_dict(old.state_dict(), strict=True)
    x = torch.rand(4, 1, 78, 110, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(new(x), old(x))
