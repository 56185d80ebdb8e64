"""``encode`` skips the model's input checks by default (the library's own data is known to fit),
so a user's batch that does not fit failed deep inside torch: 'Given groups=1, weight of size
[32, 1, 3, 3], expected input ... to have 1 channels'. When the embedding fails, the model's
checks now name the problem; nothing changes for batches that fit."""

from __future__ import annotations

import pytest
import torch

import siamkit
from siamkit.encode import encode
from siamkit.encoders import create_encoder


@pytest.fixture(scope="module")
def net() -> siamkit.SiameseNetwork:
    torch.manual_seed(0)
    model = siamkit.SiameseNetwork(create_encoder("convnet", in_channels=1), embedding_dim=8)
    model.embed(torch.rand(2, 1, 28, 28))  # learns its input shape
    return model.eval()


def test_a_batch_of_other_channels_is_named(net: siamkit.SiameseNetwork) -> None:
    with pytest.raises(ValueError, match=r"^the model takes 1-channel images, got 3 channels$"):
        encode(net, torch.rand(4, 3, 28, 28))


def test_an_iterable_of_single_images_is_named(net: siamkit.SiameseNetwork) -> None:
    with pytest.raises(ValueError, match=r"expected a batch shaped \(N, C, H, W\)"):
        encode(net, [torch.rand(1, 28, 28), torch.rand(1, 28, 28)])


def test_batches_that_fit_embed_as_before(net: siamkit.SiameseNetwork) -> None:
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(encode(net, x, batch_size=2), net.embed(x))


def test_a_plain_function_keeps_its_own_error() -> None:
    def embed(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("the user's own failure")

    with pytest.raises(RuntimeError, match="the user's own failure"):
        encode(embed, torch.rand(2, 3))
