"""A half-twin given a batch shaped as the other branch's inputs says so, naming both branches
(Preprocess said "resize them first", which would feed the second kind to the first tower)."""

from __future__ import annotations

import pytest
import torch

import siamkit
from siamkit.index import verify_pair
from siamkit.models import HalfTwinNetwork, Preprocess


def _net() -> HalfTwinNetwork:
    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(1, 12, 12)), Preprocess(input_shape=(1, 8, 8))
    return HalfTwinNetwork(conv(), conv(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()


def test_the_other_branchs_shape_is_named() -> None:
    net, f_img, g_img = _net(), torch.rand(1, 1, 12, 12), torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"^branch f \(the first kind of input, what is searched"):
        net.embed_f(g_img)
    with pytest.raises(ValueError, match=r"got \(1, 12, 12\), the shape of branch f's inputs"):
        net.embed(f_img, branch="g")
    with pytest.raises(ValueError, match=r"give inputs of the first kind here$"):
        verify_pair(net, g_img[0], f_img[0])  # swapped
    assert verify_pair(net, f_img[0], g_img[0]).distance > 0
    with pytest.raises(ValueError, match="resize them first"):  # neither branch's shape
        net.embed_f(torch.rand(1, 1, 10, 10))
