"""Two pair batches of different sizes (2 images against 3, as the edge walk gave them): each of
the four pair calls said "pair batches differ in size: 2 and 3" with no way on, and the image
runtime's ``verify`` said it only after running the graph on both batches. All four now say the
same sentence (pairs are a[i] with b[i]; what to give instead) before embedding anything."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from siamkit.encoders import create_encoder
from siamkit.export.onnx_model import OnnxModel
from siamkit.export.runtime import OnnxEmbedder
from siamkit.models import HalfTwinNetwork, SiameseNetwork
from siamkit.models.siamese import pair_sizes_message

SAID = pair_sizes_message(2, 3)


class _CountingSession:
    """An ONNX Runtime session that counts the graph runs it is asked for."""

    def __init__(self, session: Any) -> None:
        self.session, self.runs = session, 0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.runs += 1
        return self.session.run(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def _refusal(call: Any, *args: Any) -> str:
    with pytest.raises(ValueError) as err:
        call(*args)
    return str(err.value)


def test_the_sentence_says_how_pairs_go_and_what_to_give_instead() -> None:
    assert SAID.startswith("pair batches differ in size: 2 and 3; pairs are a[i] with b[i], ")
    assert "give as many second items as first" in SAID and "identify" in SAID
    assert "embed()" in SAID and SAID.count(";") == 1  # one sentence


def test_all_four_pair_calls_say_the_same_sentence_before_embedding(
    exported, fmnist_images
) -> None:
    a, b = fmnist_images[:2], fmnist_images[2:5]
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("mlp", in_features=8, hidden=(16,)), embedding_dim=4)
    half = HalfTwinNetwork(
        create_encoder("mlp", in_features=8, hidden=(16,)),
        create_encoder("mlp", in_features=5, hidden=(16,)),
        embedding_dim=4,
    )
    emb = OnnxEmbedder(exported)
    emb._session = counting = _CountingSession(emb._session)
    model = OnnxModel(exported)
    model.embedder._session = model_counting = _CountingSession(model.embedder._session)
    embedded: list[str] = []
    for m in (net, half):  # the torch models' embedding, spied on
        for name in ("embed", "embed_f", "embed_g"):
            if hasattr(m, name):
                real = getattr(m, name)
                setattr(m, name, lambda *x, _r=real, **k: embedded.append("x") or _r(*x, **k))
    said = [
        _refusal(net, torch.zeros(2, 8), torch.zeros(3, 8)),
        _refusal(half, torch.zeros(2, 8), torch.zeros(3, 5)),
        _refusal(model, torch.from_numpy(a), torch.from_numpy(b)),
        _refusal(emb.verify, a, b),  # runtime.py's own copy of the sentence
    ]
    assert said == [SAID] * 4, said
    assert counting.runs == 0 and model_counting.runs == 0 and embedded == []
    d, same = emb.verify(a, b[:2])  # equal sizes still run
    assert d.shape == same.shape == (2,) and counting.runs == 2
    np.testing.assert_allclose(d, emb.distance(emb.embed(a), emb.embed(b[:2])))
