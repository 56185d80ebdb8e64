"""Embedding many texts with a progress bar: length-sorted batches, results in input order."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from siamkit.applications.text.dedup import PassageVectors
from siamkit.applications.text.model import TextSiameseNetwork, check_texts
from siamkit.applications.text.passages import split_sentences

if TYPE_CHECKING:
    from siamkit.applications.text.onnx import TextOnnxEmbedder


@dataclass(frozen=True)
class Embedded:
    """``vectors``: ``(N, D)`` float32 unit rows in input order; ``chunked``: how many texts were
    longer than the model's window and were embedded as overlapping windows averaged."""

    vectors: np.ndarray
    chunked: int


def embed_texts(
    model: TextSiameseNetwork | TextOnnxEmbedder,
    texts: Sequence[str],
    role: str = "query",
    batch_size: int = 64,
    progress: bool | None = None,
    desc: str = "embedding",
) -> Embedded:
    """Embed ``texts`` in batches of ``batch_size`` (longest first, so padding stays small;
    the ONNX runtime sorts the token windows of all texts at once).

    ``model`` is a text model or its exported ONNX runtime
    (:func:`~siamkit.applications.text.onnx.open_text_runtime`, shared-weight models only, so
    ``role`` does not matter there); both split long texts into the same windows.

    >>> embed_texts(load_text_model(), ["a", "b"]).vectors.shape  # doctest: +SKIP
    (2, 384)
    """
    items = check_texts(texts)
    show = sys.stderr.isatty() if progress is None else progress
    if not isinstance(model, TextSiameseNetwork):  # the ONNX runtime sorts all windows itself
        with tqdm(total=len(items), desc=desc, disable=not show, unit="window") as bar:

            def tick(done: int, total: int) -> None:
                bar.total, bar.n = total, done
                bar.refresh()

            vectors = model.embed(items, batch_size=batch_size, progress=tick)
        return Embedded(vectors, model.last_chunked)
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


def embed_passages(
    model: TextSiameseNetwork | TextOnnxEmbedder,
    texts: Sequence[str],
    batch_size: int = 64,
    progress: bool | None = None,
) -> tuple[PassageVectors, int]:
    """Split each text into sentences (:func:`~siamkit.applications.text.passages.split_sentences`)
    and embed them all, for passage-coverage dedup; also returns how many sentences were longer
    than the model's window.

    >>> embed_passages(load_text_model(), ["One two three four. Five six seven eight."])[0].offsets  # doctest: +SKIP
    array([0, 2])
    """
    items = check_texts(texts)
    parts = [[p.text for p in split_sentences(t)] or [t] for t in items]
    flat = [s for ps in parts for s in ps]
    emb = embed_texts(
        model, flat, batch_size=batch_size, progress=progress, desc="embedding sentences"
    )
    return PassageVectors.from_rows(emb.vectors, [len(ps) for ps in parts]), emb.chunked
