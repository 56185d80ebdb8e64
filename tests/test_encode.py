"""encode: the same embeddings as the model's own embed, item by item, whatever the batching."""

from __future__ import annotations

import pytest
import torch

from siamkit import SiameseNetwork
from siamkit.encode import encode
from siamkit.encoders import create_encoder
from siamkit.model_protocol import EmbeddingModel
from siamkit.models import Preprocess


def _net() -> SiameseNetwork:
    torch.manual_seed(0)
    enc = create_encoder("convnet", in_channels=1, widths=[4, 8])
    prep = Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 12, 12))
    return SiameseNetwork(enc, 6, preprocess=prep)


def test_encode_matches_embedding_each_item_alone_and_restores_the_mode() -> None:
    net = _net().train()
    g = torch.Generator().manual_seed(1)
    x8 = torch.randint(0, 256, (11, 1, 12, 12), dtype=torch.uint8, generator=g)
    z = encode(net, x8, batch_size=4)
    assert net.training and z.dtype == torch.float32 and z.shape == (11, 6)
    net.eval()
    with torch.no_grad():
        want = torch.cat([net.embed(x8[i : i + 1].float() / 255.0) for i in range(11)])
    torch.testing.assert_close(z, want, rtol=1e-5, atol=1e-6)
    batches = [x8[:5].float() / 255.0, x8[5:].float() / 255.0]
    torch.testing.assert_close(encode(net, batches), want, rtol=1e-5, atol=1e-6)
    assert isinstance(net, EmbeddingModel)


def test_encode_a_function_and_bad_input() -> None:
    lin = torch.nn.Linear(3, 2)
    x = torch.randn(7, 3)
    torch.testing.assert_close(encode(lin, x, batch_size=2), lin(x).detach())
    with pytest.raises(ValueError, match="nothing to embed"):
        encode(lin, [])
    with pytest.raises(ValueError, match="batch_size must be positive"):
        encode(lin, x, batch_size=0)
    with pytest.raises(TypeError, match="has no embed"):
        encode(object(), x)  # type: ignore[arg-type]
