"""The text twin against sentence-transformers' encode of the same model, bundles, bad input."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import torch

import siamkit
from siamkit.applications.text import TextSiameseNetwork
from siamkit.encoders import create_encoder
from siamkit.encoders.text import default_text_model_path, mean_pool

TEXTS = [
    "A man is playing guitar.",
    "Someone plays a guitar.",
    "The central bank raised interest rates by a quarter point on Tuesday.",
    "Ünïcödé text, with punctuation; and numbers 12345!",
    "short",
]


def test_embeddings_equal_sentence_transformers_encode(text_model) -> None:
    st = pytest.importorskip("sentence_transformers")
    ref = st.SentenceTransformer(str(default_text_model_path()), device="cpu")
    expected = ref.encode(TEXTS, batch_size=2, normalize_embeddings=True)  # (5, 384)
    got = text_model.embed(TEXTS).numpy()
    assert got.shape == (5, 384)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert text_model.last_chunked == 0


def test_twins_share_weights_and_distance_is_cosine(text_model) -> None:
    za, zb = text_model.embed(TEXTS[:2]), text_model.embed(TEXTS[2:4])
    d = text_model(TEXTS[:2], TEXTS[2:4])
    torch.testing.assert_close(d, 1 - (za * zb).sum(1))
    assert text_model.share_weights and text_model.doc_encoder is None


def test_long_text_is_windowed_and_windows_averaged_by_tokens(text_model) -> None:
    long = " ".join(f"word{i % 37} sentence number {i}." for i in range(200))
    enc = text_model.encoder
    ids = enc.tokenizer(long, add_special_tokens=False)["input_ids"]
    z = text_model.embed([long])
    assert text_model.last_chunked == 1
    # naive reference: windows of 254 content tokens stepping 222, each [CLS] w [SEP], mean-pooled
    size, step = 254, 254 - 32
    vecs, weights = [], []
    for s in range(0, len(ids) - 32, step):
        w = [enc.tokenizer.cls_token_id, *ids[s : s + size], enc.tokenizer.sep_token_id]
        x = torch.tensor([w])
        with torch.no_grad():
            h = enc.transformer(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state
        vecs.append(mean_pool(h, torch.ones_like(x))[0])
        weights.append(len(w))
    ref = sum(v * w for v, w in zip(vecs, weights)) / sum(weights)
    torch.testing.assert_close(z[0], torch.nn.functional.normalize(ref, dim=0), atol=1e-5, rtol=0)
    assert len(vecs) > 1


def test_bundle_round_trip_carries_the_tokenizer(text_model, tmp_path) -> None:
    try:
        siamkit.save_model(text_model, tmp_path / "m", threshold=0.3)
        assert text_model.threshold == 0.3  # the model in memory decides as the saved one
    finally:  # the session's shared model keeps no threshold (later tests use the default's)
        text_model.threshold = None
    assert (tmp_path / "m" / "tokenizer" / "tokenizer.json").is_file()
    back = siamkit.load_model(tmp_path / "m")
    assert isinstance(back, TextSiameseNetwork) and back.threshold == 0.3
    torch.testing.assert_close(back.embed(TEXTS), text_model.embed(TEXTS))
    shutil.rmtree(tmp_path / "m" / "tokenizer")
    with pytest.raises(ValueError, match="has no tokenizer/ folder"):
        siamkit.load_model(tmp_path / "m")


def test_encoder_is_registered() -> None:
    enc = create_encoder("text", path=str(default_text_model_path()))
    assert enc.num_features == 384


def test_bad_input_gets_one_sentence(text_model, tmp_path) -> None:
    with pytest.raises(ValueError, match="text 1 is empty"):
        text_model.embed(["fine", "   "])
    with pytest.raises(TypeError, match="image"):
        text_model.embed(torch.rand(2, 1, 28, 28))
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="has no tokenizer"):
        TextSiameseNetwork.pretrained(tmp_path / "hf")


def test_a_folder_that_is_no_model_is_named_as_such(tmp_path) -> None:
    """A folder holding no model file (the model's parent, a data folder) given as the model,
    to the library, `model.path` or --model, is said to be no model folder, with what one holds;
    one missing a part names that part (weights: transformers' OSError was a traceback)."""
    from click.testing import CliRunner

    from siamkit.applications.text import load_text_model
    from siamkit.cli.main import cli

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("not a model")
    said = "notes is not a model folder: it has no siamkit.json, config.json, tokenizer or weights"
    with pytest.raises(ValueError, match=re.escape(said + "; give a siamkit text model folder")):
        load_text_model(tmp_path / "notes")
    res = CliRunner().invoke(cli, ["text", "similarity", "a", "b", "--model",
                                   str(tmp_path / "notes")])  # fmt: skip
    assert res.exit_code == 1 and "is not a model folder" in res.output, res.output
    assert "config.json, a tokenizer such as tokenizer.json" in res.output
    assert "has no tokenizer" not in res.output and "Traceback" not in res.output
    (tmp_path / "run" / "model").mkdir(parents=True)  # `siamkit train --out run` writes run/model
    (tmp_path / "run" / "model" / "siamkit.json").write_text("{}")
    with pytest.raises(ValueError, match="run is a training run's folder, not a model folder"):
        load_text_model(tmp_path / "run")
    half = tmp_path / "no-weights"
    half.mkdir()
    for name in ("config.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json"):
        shutil.copy(default_text_model_path() / name, half / name)
    with pytest.raises(ValueError, match="no-weights has no weights, which a Hugging Face"):
        load_text_model(half)


def test_image_model_given_text_says_so() -> None:
    net = siamkit.SiameseNetwork(create_encoder("mlp", in_features=4, hidden=(8,)), embedding_dim=2)
    with pytest.raises(TypeError, match="got text; use a text model"):
        net.embed(["a text"])  # type: ignore[arg-type]


def test_gallery_enrolls_and_identifies_texts(text_model, tmp_path) -> None:
    from siamkit.index import Gallery

    with Gallery.open(tmp_path / "g.db", text_model, create=True) as g:
        g.enroll("printer", ["The printer is out of toner.", "Printer toner is empty."])
        g.enroll("vpn", ["I cannot connect to the VPN."])
        top = g.identify("The printer needs new toner.", k=1).matches[0]
        assert top.label == "printer"
        expected = 1 - float(
            (
                text_model.embed(["The printer needs new toner."])
                @ text_model.embed(["Printer toner is empty.", "The printer is out of toner."]).T
            ).max()
        )
        assert top.distance == pytest.approx(expected, abs=1e-5)
