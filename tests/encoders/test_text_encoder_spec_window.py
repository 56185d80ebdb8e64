"""A generic model over ``create_encoder("text", max_length=W)`` saved its encoder's arguments as
given, so a reload worked the window's overlap out again under the default rule of the day: a
model saved while a given 128 got overlap 16 reloaded at 128/32 with the same fingerprint, its
long-text embeddings changed and nothing noticed. The spec now records the window the encoder
ran at."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.encoders import create_encoder
from siamkit.models import SiameseNetwork

pytest.importorskip("transformers")


def test_a_saved_text_encoder_reloads_at_the_window_it_ran_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siamkit.encoders.text as text

    bert = save_tiny_bert(tmp_path / "bert", layers=1)
    net = SiameseNetwork(create_encoder("text", path=str(bert), max_length=128))
    assert (net.encoder.max_length, net.encoder.overlap) == (128, 32)
    long = [" ".join(["the pipe under the kitchen sink is leaking again"] * 40)]  # > 128 tokens
    with torch.no_grad():
        before = net.encoder.encode_texts(long)
    folder = siamkit.save_model(net, tmp_path / "model")
    # another default rule (as a given window under 256 got an eighth during one stop)
    monkeypatch.setattr(text, "default_overlap", lambda size, given=False: size // 8)
    reloaded = siamkit.load_model(folder)
    assert (reloaded.encoder.max_length, reloaded.encoder.overlap) == (128, 32)
    assert siamkit.model_fingerprint(reloaded) == siamkit.model_fingerprint(net)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.encoder.encode_texts(long), before)
