""":func:`siamkit.cli._enroll.checked_chunk` worded a chunk's refusal by joining every chunk made
before it and checking them all again (final35 "Work on the refusal path only"): a copy of all
the embeddings made so far, on the path of a broken model. It words it over the chunk alone,
counted and named over all: the same sentence as the whole's check, byte for byte."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from siamkit.cli._enroll import checked_chunk
from siamkit.index.base import UnrankableEmbeddingsError
from siamkit.index.embedding import model_embeddings


def _refusal(call) -> str:
    with pytest.raises(UnrankableEmbeddingsError) as err:
        call()
    return str(err.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("photo", [False, True])
@pytest.mark.parametrize(
    ("given", "bad"),  # rows of the third chunk of four, and what each holds
    [(12, {1: np.nan}), (20, {0: np.inf, 3: -np.inf}), (40, {0: np.nan, 1: 1e39, 2: 1e39})],
)
def test_a_chunks_refusal_is_the_sentence_of_all_the_chunks_checked_at_once(
    dtype, photo, given, bad
):
    rng = np.random.default_rng(0)
    chunks = [rng.normal(size=(4, 3)) for _ in range(3)]
    for row, value in bad.items():
        chunks[2][row, row % 3] = value
    with np.errstate(over="ignore"):  # 1e39 is inf in float16 and float32
        chunks = [c.astype(dtype) for c in chunks]
    names = [repr(f"img{i:02d}.png") for i in range(given)]
    parts = [model_embeddings(c) for c in chunks[:2]]
    got = _refusal(lambda: checked_chunk(parts, chunks[2], names, photo, "; nothing was enrolled"))
    # the reference: every chunk joined and checked at once, in checked_chunk's former words
    noun = "photos" if photo else "images"
    of = f"the {noun}" if given == 12 else f"the first 12 of the {given} {noun}"
    if photo:
        of = "the photos' largest faces" if given == 12 else f"the largest faces of {of}"
    whole = np.concatenate([*parts, chunks[2]])
    wanted = _refusal(lambda: model_embeddings(whole, of, names[:12], "; nothing was enrolled"))
    assert got == wanted
    named = ", ".join(names[8 + row] for row in sorted(bad))
    assert got.startswith(f"{len(bad)} of the 12 ") and f"({named})" in got, got


def test_a_chunks_refusal_copies_none_of_the_chunks_before_it():
    parts = [np.zeros((25_000, 384), np.float32) for _ in range(4)]  # 153 MB checked before
    part = np.zeros((8, 384), np.float32)
    part[3, 7] = np.nan
    names = [repr(f"img{i}.png") for i in range(100_008)]
    tracemalloc.start()
    try:
        said = _refusal(lambda: checked_chunk(parts, part, names, photo=False))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert said.startswith("1 of the 100008 embeddings the model made of the images hold NaN")
    assert "'img100003.png'" in said
    assert peak < 20e6, peak  # the join alone was 153 MB
