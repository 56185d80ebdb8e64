"""One refusal of rows a gallery cannot rank or store, whichever way they come in.

The store's sentence (rows named, "NaN or infinite" told from "too large for float32", no numpy
warning) lived only in ``GalleryStore._add``, which ``Gallery.enroll_embeddings`` never reached
with such rows: ``index.base.as_float32_matrix`` refused them first as "embeddings contain NaN
or infinite values", for a finite float64 row of 1e39 too, after numpy's "overflow encountered
in cast" warning; its size refusal was another sentence as well, and the service's /enroll
answered a 500 "Internal error" (reviewer s53_FB finding 1). All three now give the one
sentence of ``index.base``."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from _unrankable_rows import CASES, DIM, naive_refusal
from siamkit.index import Gallery, GalleryStore
from siamkit.index.base import UnrankableEmbeddingsError


def _refusal(add, rows) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning would raise here
        with pytest.raises(UnrankableEmbeddingsError) as info:
            add(rows)
    return str(info.value)


@pytest.fixture
def store_and_gallery(tmp_path) -> Iterator[tuple[GalleryStore, Gallery]]:
    """A bare store and a gallery, each recording embeddings of ``DIM`` values."""
    store = GalleryStore(tmp_path / "s.db")
    store.init_meta({"embedding_dim": str(DIM)})
    with Gallery.open(tmp_path / "g.db", embedding_dim=DIM) as gallery:
        yield store, gallery


def _refused_under_tracemalloc(rows: np.ndarray) -> tuple[str, int]:
    """``finite_float32``'s refusal of ``rows``, and the peak bytes it allocated (numpy reports
    its buffers to tracemalloc)."""
    import tracemalloc

    from siamkit.index.base import finite_float32

    tracemalloc.start()
    try:
        with pytest.raises(UnrankableEmbeddingsError) as info:
            finite_float32(rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return str(info.value), peak


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_gallery_and_its_store_refuse_unrankable_rows_in_one_sentence(store_and_gallery, case):
    rows = np.array(CASES[case], np.float64)
    expected = naive_refusal(rows, "; nothing was stored")
    store, gallery = store_and_gallery
    said = {
        "store": _refusal(lambda r: store.add("a", r), rows),
        "store add_new": _refusal(lambda r: store.add_new("a", r), rows),
        "gallery": _refusal(lambda r: gallery.enroll_embeddings("a", r), rows),
        "gallery, a float64 tensor": _refusal(
            lambda r: gallery.enroll_embeddings("a", torch.from_numpy(r)), rows
        ),
        "gallery skipping repeats": _refusal(
            lambda r: gallery.enroll_embeddings("a", r, skip_repeats=True), rows
        ),
    }
    assert len(gallery) == 0
    assert said == dict.fromkeys(said, expected)
    assert store.count() == (0, 0)


def test_the_gallery_and_its_store_refuse_another_size_in_one_sentence(store_and_gallery):
    store, gallery = store_and_gallery
    rows = np.ones((2, DIM + 1), np.float32)
    said = []
    for where, add in (
        (store.path, lambda: store.add("a", rows)),
        (gallery._store.path, lambda: gallery.enroll_embeddings("a", rows)),
    ):
        with pytest.raises(ValueError) as info:
            add()
        said.append((where, str(info.value)))
    for where, text in said:
        assert text == (
            f"the embeddings have {DIM + 1} values each, but the gallery {where} records "
            f"embeddings of {DIM}; nothing was stored: embed them with the model the gallery "
            "records, or enroll them into a new gallery file"
        )


def test_the_refusal_of_a_few_rows_reads_only_those_rows_again(tmp_path):
    """The refusal cast the whole input to float64 before it picked the refused rows: 615 MB to
    word the refusal of one NaN row in 200,000 x 384 float32 (s54_R2 finding 4). Only the refused
    rows are read again now; the check itself needs no more than a bool per value (numpy reports
    its buffers to tracemalloc)."""
    rows = np.ones((20_000, 64), np.float32)
    rows[7, 3] = np.nan
    said, peak = _refused_under_tracemalloc(rows)
    assert said == naive_refusal(rows, "")
    assert peak < rows.nbytes // 2, f"{peak} bytes to refuse {rows.nbytes} bytes of rows"


@pytest.mark.parametrize(
    ("dtype", "value", "kind"),
    [
        (np.float32, np.nan, "NaN or infinite values"),
        (np.float64, 1e39, "values too large for float32"),
    ],
)
def test_the_refusal_of_every_row_copies_none_of_them(dtype, value, kind):
    """A broken model makes every row NaN, and the refusal read every refused row again as
    float64 to tell NaN from too large: 929 MB over 200,000 x 384 float32 and 8-20 s, which
    ``siamkit enroll`` now pays once every chunk is embedded (s55_R2 finding 1). The rows are
    read in blocks, in their own dtype, now: beyond the float32 result (the input itself when
    it is float32), a fraction of the input."""
    rows = np.full((4_000, 384), value, dtype)  # a text model's width
    rows[5:, 1:] = 1.0  # a value in every row: the first five as given, the others as well
    result = 0 if dtype == np.float32 else rows.size * 4
    said, peak = _refused_under_tracemalloc(rows)
    assert said == (
        f"4000 of the 4000 embeddings hold {kind} (rows 0, 1, 2, 3, 4 and 3,995 more), "
        "which no search can rank"
    )
    assert naive_refusal(rows[:6], "").startswith(f"6 of the 6 embeddings hold {kind} (rows")
    assert peak - result < rows.nbytes // 4, f"{peak} bytes to refuse {rows.nbytes} bytes of rows"


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("before", [0, 7])
def test_the_refusal_of_every_row_makes_no_python_object_per_row(named, before):
    """A broken model's refusal of 200,000 rows made a Python int per row twice over (the rows
    refused, then numbered after ``before``) and a string per row to show five (s56_R4 finding
    4): 28.7 MB over 200,000 x 384. Beyond numpy's arrays of a few bytes per row, it makes none
    now; the sentence is the same."""
    import tracemalloc

    from siamkit.index.base import finite_float32

    n = 200_000
    rows = np.full((n, 4), np.nan, np.float32)
    names = [f"img{i}.png" for i in range(before + n)] if named else None
    first = [before + i for i in range(5)]
    shown = ", ".join(f"img{i}.png" if named else str(i) for i in first)
    shown = shown if named else f"rows {shown}"
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        with pytest.raises(UnrankableEmbeddingsError) as info:
            finite_float32(rows, names=names, before=before)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"{n} of the {before + n} embeddings hold NaN or infinite values ({shown} and "
        f"{n - 5:,} more), which no search can rank"
    )
    assert peak < 16 * n, f"{peak} bytes to refuse {n} rows"  # a Python int per row: 36 bytes


def test_the_refusals_of_an_empty_gallery_and_of_one_query_read_as_sentences(tmp_path):
    """An empty gallery's size refusal said it "holds embeddings of 4", though it holds none
    (it records the size), and verify's refusal of a NaN query read "1 of the 1 the query
    embedding hold" (s54_R2 finding 5)."""
    with Gallery.open(tmp_path / "g.db", embedding_dim=4) as gallery:
        assert len(gallery) == 0
        with pytest.raises(ValueError) as size:
            gallery.enroll_embeddings("a", np.ones((1, 5), np.float32))
        gallery.enroll_embeddings("a", np.ones((1, 4), np.float32))
        with pytest.raises(UnrankableEmbeddingsError) as nan:
            gallery.verify_embedding(np.array([np.nan, 0, 0, 0]), "a")
    assert str(size.value).startswith(
        f"the embeddings have 5 values each, but the gallery {tmp_path / 'g.db'} records "
        "embeddings of 4; nothing was stored"
    )
    assert str(nan.value) == (
        "1 of the 1 query embeddings hold NaN or infinite values (rows 0), which no search can rank"
    )


def test_a_gallerys_query_of_another_size_names_the_gallery_not_an_index(tmp_path):
    """identify_embeddings and verify_embedding refused a query of another size in the index's
    words, "this index holds embeddings of 4": an object the caller never met, and false of a
    gallery holding none. They name the gallery and the size it records, as enroll does."""
    path = tmp_path / "g.db"
    with Gallery.open(path, embedding_dim=4) as gallery:
        assert len(gallery) == 0
        with pytest.raises(ValueError) as identify:
            gallery.identify_embeddings(np.ones((1, 5), np.float32))
        gallery.enroll_embeddings("a", np.ones((1, 4), np.float32))
        with pytest.raises(ValueError) as verify:
            gallery.verify_embedding(np.ones(3, np.float32), "a")
    records = f"the gallery {path} records embeddings of 4"
    assert str(identify.value) == f"the queries have 5 values each, but {records}"
    assert str(verify.value) == f"the query embeddings have 3 values each, but {records}"


def test_a_refusal_carries_its_sentence_not_the_array_it_refused(tmp_path):
    """The refusal kept the whole array it refused (for siamkit enroll's chunks), so a pickle of
    it, which a process pool sends back to its caller, shipped 307 MB for one NaN row in
    200,000 x 384, and it held the array once its traceback was let go (reviewer s55_R2 finding
    5). It carries its sentence only; enroll embeds its chunks unchecked and refuses once."""
    import gc
    import pickle
    import tracemalloc

    from siamkit.index.embedding import embed_inputs

    def refusal(gallery):  # the array is made here, so only the exception could keep it
        rows = np.ones((20_000, DIM), np.float32)
        rows[15_000, 3] = np.nan
        with pytest.raises(UnrankableEmbeddingsError) as info:
            gallery.enroll_embeddings("a", rows)
        return info.value

    with Gallery.open(tmp_path / "g.db", embedding_dim=DIM) as gallery:
        tracemalloc.start()
        try:
            err = refusal(gallery)
            err.__traceback__ = None
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert held < 20_000 * DIM, f"{held} bytes held by the refusal of {20_000 * DIM * 4}"
    again = pickle.loads(pickle.dumps(err))
    assert len(pickle.dumps(err)) < 2_000
    assert type(again) is UnrankableEmbeddingsError and str(again) == str(err)
    assert "1 of the 20000 embeddings hold NaN or infinite values (rows 15000)" in str(err)

    photos = torch.zeros(3, 3, 4, 4)  # embed_inputs: refused by default, else as made
    with pytest.raises(UnrankableEmbeddingsError, match=r"\(rows 1\)"):
        embed_inputs(_NanForSecondPhoto(), photos)
    z = embed_inputs(_NanForSecondPhoto(), photos, refuse=False)
    assert z.dtype == np.float64 and np.isnan(z[1]).all() and (z[[0, 2]] == 1.0).all()


class _NanForSecondPhoto:
    """A face model's stand-in, whose embedding of a batch's second photo is NaN (float64)."""

    input_kind = "photo"

    def embed_photos(self, photos):  # type: ignore[no-untyped-def]
        z = np.ones((len(photos), DIM))
        z[1] = np.nan
        return z
