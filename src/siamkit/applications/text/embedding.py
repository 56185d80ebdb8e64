"""Embedding many texts with a progress bar: length-sorted batches, results in input order."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from siamkit.applications.text.dedup import PassageVectors
from siamkit.applications.text.model import TextSiameseNetwork, check_texts
from siamkit.applications.text.passages import split_sentences
from siamkit.index.embedding import model_embeddings
from siamkit.progress import Progress, is_enabled

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
    dim: int | None = None,
    unit: str = "texts",
    names: Sequence[str] | None = None,
    which: str = "no search can rank",
) -> Embedded:
    """Embed ``texts`` in batches of ``batch_size`` (longest first, so padding stays small;
    the ONNX runtime sorts the token windows of all texts at once).

    ``model`` is a text model or its exported ONNX runtime
    (:func:`~siamkit.applications.text.onnx.open_text_runtime`); both split long texts into the
    same windows, and embed a half-twin's ``role="document"`` texts with its document tower.

    ``progress``: report it (:func:`progress_ticks`: a bar on a terminal, a few lines in a log);
    ``None`` as :func:`siamkit.progress.set_enabled` says: off in the library, on in the
    ``siamkit`` command unless ``--no-progress`` is given.

    ``dim``: keep each vector's first ``dim`` dimensions, re-normalised (:func:`truncate_rows`;
    a model fine-tuned with loss matryoshka embeds at its trained sizes). ``unit``: what the
    progress counts ``texts`` as (``"sentences"`` where they are a text's sentences).

    Embeddings that hold NaN or infinite values (a broken model) are refused in the gallery's
    sentence and class (:func:`~siamkit.index.embedding.model_embeddings`), naming their rows,
    or their ``names`` (one per text, as the user knows it: an id, a file) where given: text
    dedup and plagiarism passed them on, and linked, matched or missed texts by NaN (s54_RR1);
    ``which`` says what the caller cannot do with them (``"no threshold can be fitted on"``).

    >>> embed_texts(load_text_model(), ["a", "b"]).vectors.shape  # doctest: +SKIP
    (2, 384)
    """
    items = check_texts(texts)
    if not isinstance(model, TextSiameseNetwork):  # the ONNX runtime sorts all windows itself
        with progress_ticks(desc, "windows", progress) as tick:
            vectors = model.embed(items, batch_size=batch_size, progress=tick, role=role)
        vectors = model_embeddings(vectors, f"the {unit}", names, which=which)
        return Embedded(truncate_rows(vectors, dim), model.last_chunked)
    order = np.argsort([-len(t) for t in items], kind="stable")
    out = np.empty((len(items), model.embedding_dim), dtype=np.float32)
    chunked = 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), progress_ticks(desc, unit, progress) as tick:
            for s in range(0, len(items), batch_size):
                idx = order[s : s + batch_size]
                z = model.embed([items[i] for i in idx], role=role)  # (B, D)
                out[idx] = z.float().cpu().numpy()
                chunked += model.last_chunked
                tick(s + len(idx), len(items))
    finally:
        model.train(was_training)
    return Embedded(
        truncate_rows(model_embeddings(out, f"the {unit}", names, which=which), dim), chunked
    )


def truncate_rows(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    """``vectors`` ``(N, D)`` cut to their first ``dim`` dimensions and L2-normalised again
    (float32); unchanged for ``None`` or ``D``."""
    if dim is None or dim >= vectors.shape[1]:
        return vectors
    cut = np.ascontiguousarray(vectors[:, :dim], dtype=np.float32)
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return cut / np.maximum(norms, 1e-12)


@contextlib.contextmanager
def progress_ticks(
    desc: str, unit: str = "it", show: bool | None = None
) -> Iterator[Callable[[int, int], None]]:
    """``tick(done, total)`` reporting a loop's progress as :class:`~siamkit.progress.Progress`
    does (a bar on a terminal, a few plain lines in a log), opened at the first tick (the total
    may be known only then) and closed on leaving, an interrupt too. ``show``: ``None`` follows
    :func:`~siamkit.progress.is_enabled` (the ``siamkit`` command turns it on, ``--no-progress``
    off)."""
    on = is_enabled() if show is None else show
    opened: list[Progress] = []

    def tick(done: int, total: int) -> None:
        if not on:
            return
        if not opened:
            opened.append(Progress(total, desc, unit))
        opened[0].update(done - opened[0].done)

    try:
        yield tick
    finally:
        for bar in opened:
            bar.close()


def embed_passages(
    model: TextSiameseNetwork | TextOnnxEmbedder,
    texts: Sequence[str],
    batch_size: int = 64,
    progress: bool | None = None,
    dim: int | None = None,
    role: str = "query",
    names: Sequence[str] | None = None,
) -> tuple[PassageVectors, int]:
    """Split each text into sentences (:func:`~siamkit.applications.text.passages.split_sentences`)
    and embed them all, for passage-coverage dedup; also returns how many sentences were longer
    than the model's window. ``dim`` and ``role``: as :func:`embed_texts`; ``names``: one per
    text, a refused sentence is named by its text's (``'a.txt' sentence 2``).

    >>> embed_passages(load_text_model(), ["One two three four. Five six seven eight."])[0].offsets  # doctest: +SKIP
    array([0, 2])
    """
    items = check_texts(texts)
    parts = [[p.text for p in split_sentences(t)] or [t] for t in items]
    flat = [s for ps in parts for s in ps]
    emb = embed_texts(
        model,
        flat,
        role=role,
        batch_size=batch_size,
        progress=progress,
        desc="embedding sentences",
        dim=dim,
        unit="sentences",
        names=None if names is None else sentence_names(names, [len(ps) for ps in parts]),
    )
    return PassageVectors.from_rows(emb.vectors, [len(ps) for ps in parts]), emb.chunked


def sentence_names(names: Sequence[str], counts: Sequence[int]) -> list[str]:
    """``'a.txt' sentence 2``: each sentence by its text's name (``counts``: each text's number
    of sentences), for a refusal that names them."""
    return [f"{name!r} sentence {k + 1}" for name, n in zip(names, counts) for k in range(n)]
