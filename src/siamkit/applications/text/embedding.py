"""Embedding many texts with a progress bar: length-sorted batches, results in input order."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from siamkit.applications.text.model import TextSiameseNetwork, check_texts


@dataclass(frozen=True)
class Embedded:
    """``vectors``: ``(N, D)`` float32 unit rows in input order; ``chunked``: how many texts were
    longer than the model's window and were embedded as overlapping windows averaged."""

    vectors: np.ndarray
    chunked: int


def embed_texts(
    model: TextSiameseNetwork,
    texts: Sequence[str],
    role: str = "query",
    batch_size: int = 64,
    progress: bool | None = None,
    desc: str = "embedding",
) -> Embedded:
    """Embed ``texts`` in batches of ``batch_size`` (longest first, so padding stays small).

    >>> embed_texts(load_text_model(), ["a", "b"]).vectors.shape  # doctest: +SKIP
    (2, 384)
    """
    items = check_texts(texts)
    show = sys.stderr.isatty() if progress is None else progress
    order = np.argsort([-len(t) for t in items], kind="stable")
    out = np.empty((len(items), model.embedding_dim), dtype=np.float32)
    chunked = 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), tqdm(total=len(items), desc=desc, disable=not show) as bar:
            for s in range(0, len(items), batch_size):
                idx = order[s : s + batch_size]
                z = model.embed([items[i] for i in idx], role=role)  # (B, D)
                out[idx] = z.float().cpu().numpy()
                chunked += model.last_chunked
                bar.update(len(idx))
    finally:
        model.train(was_training)
    return Embedded(out, chunked)
