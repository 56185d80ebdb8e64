"""A tiny BERT with random weights and all-MiniLM-L6-v2's tokenizer, saved as a local Hugging
Face folder: the text tests' stand-in for a real model (seconds to load, not minutes)."""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)


def save_tiny_bert(folder: Path, layers: int = 2, seed: int = 0) -> Path:
    """Write a BERT of ``layers`` layers (hidden 32, 2 heads; weights drawn with ``seed``) and the
    shipped MiniLM tokenizer into ``folder``; returns ``folder``."""
    import torch
    from transformers import BertConfig, BertModel

    from siamkit.encoders.text import default_text_model_path

    torch.manual_seed(seed)
    cfg = BertConfig(
        hidden_size=32, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=64
    )
    BertModel(cfg).save_pretrained(str(folder))
    for name in TOKENIZER_FILES:
        shutil.copy(default_text_model_path() / name, folder / name)
    return folder
