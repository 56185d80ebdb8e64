"""Siamese transformers for text: similarity, near-duplicate groups, plagiarism reports, fine-tuning.

What ``siamkit text similarity``, ``text dedup`` and ``text plagiarism`` do, from Python:

>>> from siamkit.applications.text import (  # doctest: +SKIP
...     compare_texts, embed_texts, find_duplicates, group_duplicates, load_text_model,
...     similar_pairs)
>>> model = load_text_model()  # all-MiniLM-L6-v2; or a saved model's folder  # doctest: +SKIP
>>> compare_texts(model, "A man plays guitar.", "Someone plays a guitar.").same  # doctest: +SKIP
True
>>> find_duplicates(texts, model, threshold="auto").groups  # as `text dedup`  # doctest: +SKIP
>>> z = embed_texts(model, texts).vectors  # (N, 384) unit rows  # doctest: +SKIP
>>> group_duplicates(z, similar_pairs(z, 0.88))  # cosine >= 0.88: documents  # doctest: +SKIP

``find_plagiarism(model, Document("essay", text), load_corpus("sources/"), 0.75)`` reports the
matching spans, and ``siamkit.index.Gallery.open(path, model)`` enrolls and identifies texts.

Names are imported on first use: most import torch, and importing this package must not, so that
:class:`~siamkit.applications.text.onnx.TextOnnxEmbedder` (ONNX Runtime and ``tokenizers`` alone)
runs on a device without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siamkit.applications.text.corpus import load_corpus
    from siamkit.applications.text.dedup import DuplicateGroup, group_duplicates, similar_pairs
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.duplicates import DedupResult, find_duplicates
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.model import TextSiameseNetwork, load_text_model
    from siamkit.applications.text.plagiarism import find_plagiarism
    from siamkit.applications.text.similarity import SimilarityResult, compare_texts

_MODULES = {
    "DedupResult": "duplicates",
    "Document": "documents",
    "DuplicateGroup": "dedup",
    "SimilarityResult": "similarity",
    "TextSiameseNetwork": "model",
    "compare_texts": "similarity",
    "embed_texts": "embedding",
    "find_duplicates": "duplicates",
    "find_plagiarism": "plagiarism",
    "group_duplicates": "dedup",
    "load_corpus": "corpus",
    "load_text_model": "model",
    "similar_pairs": "dedup",
}

__all__ = [
    "DedupResult",
    "Document",
    "DuplicateGroup",
    "SimilarityResult",
    "TextSiameseNetwork",
    "compare_texts",
    "embed_texts",
    "find_duplicates",
    "find_plagiarism",
    "group_duplicates",
    "load_corpus",
    "load_text_model",
    "similar_pairs",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
