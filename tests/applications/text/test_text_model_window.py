"""A text model's window is its own, as sentence-transformers reads it (sentence_bert_config.json's
max_seq_length, else the tokenizer's limit capped at the position table), not 256 tokens for
every model: a model of 128 positions was refused unless told a window, and one trained at 128
embedded 256 tokens at once, unlike sentence-transformers' own encode of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from _tiny_bert import TOKENIZER_FILES
from siamkit.applications.text import TextSiameseNetwork
from siamkit.encoders.text import default_text_model_path

st = pytest.importorskip("sentence_transformers")


def _bert(folder: Path, positions: int, max_seq_length: int | None = None) -> Path:
    """A one-layer BERT of ``positions`` positions with MiniLM's tokenizer; a
    sentence-transformers folder (modules.json, mean pooling) whose sentence_bert_config.json
    says ``max_seq_length`` when given."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=positions,
    )
    BertModel(config).save_pretrained(str(folder))
    for name in TOKENIZER_FILES:
        shutil.copy(default_text_model_path() / name, folder / name)
    if max_seq_length is not None:
        (folder / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
        )
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
        ]
        (folder / "modules.json").write_text(json.dumps(modules))
        (folder / "1_Pooling").mkdir()
        (folder / "1_Pooling" / "config.json").write_text(
            json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
        )
    return folder


@pytest.mark.parametrize(
    ("positions", "max_seq_length"), [(128, None), (512, None), (512, 64), (128, 1000)]
)
def test_the_window_is_the_models_own_as_sentence_transformers_reads_it(
    tmp_path, positions, max_seq_length
) -> None:
    folder = _bert(tmp_path / "m", positions, max_seq_length)
    model = TextSiameseNetwork.pretrained(folder)
    ref = st.SentenceTransformer(str(folder), device="cpu")
    # never past the position table, where sentence-transformers itself would fail
    assert model.max_length == min(ref.max_seq_length, positions)
    text = " ".join(f"word{i}" for i in range(400))  # past every window here
    windows, _ = model.encoder.chunk([text])
    assert len(windows) > 1 and max(len(w) for w in windows) == model.max_length
    model.embed([text])  # runs: no window past the positions
    fits = " ".join(f"word{i}" for i in range(10))  # within every window: one pass, as ST
    want = torch.from_numpy(ref.encode([fits], normalize_embeddings=True))
    torch.testing.assert_close(model.embed([fits]), want, atol=1e-5, rtol=0)


def test_a_window_given_is_kept_and_the_default_models_stays_256(tmp_path) -> None:
    folder = _bert(tmp_path / "m", 512, 64)
    assert TextSiameseNetwork.pretrained(folder, max_length=100, overlap=8).max_length == 100
    assert TextSiameseNetwork.pretrained().max_length == 256  # its sentence_bert_config's
    own = TextSiameseNetwork.pretrained(folder)  # a window of 64 takes no overlap of 32
    assert (own.max_length, own.overlap) == (64, 8)


def test_training_without_model_max_length_keeps_the_start_models_window(tmp_path) -> None:
    from siamkit.applications.text.train_config import ModelSection
    from siamkit.applications.text.train_resume import _setup

    folder = _bert(tmp_path / "m", 128)
    cfg = type("Cfg", (), {})()
    cfg.model = ModelSection(path=str(folder))
    cfg.train = type("Train", (), {"gradient_checkpointing": False})()
    assert _setup(cfg, torch.device("cpu")).max_length == 128  # was refused: 256 > 128
