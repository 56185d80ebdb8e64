"""A Gallery open on a gallery that holds no item, taken over by another model meanwhile (a
gallery that holds no item takes any model): its searches and listings raise the
GalleryMismatchError its enrollment raises, instead of searching the other model's embeddings
with its own (the same size: wrong matches, no error) or failing deep in the index."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from _index_helpers import emptied, make_model, taken_over_while_opened

from siamkit.index import Gallery, GalleryMismatchError


def _taken_over(tmp_path: Path, model, fmnist, dim: int) -> tuple[Gallery, Gallery]:
    """``model``'s open gallery, empty, and the other model's, which took it over with one item."""
    mine = Gallery.open(tmp_path / "g.db", model, threshold=1.0)
    mine.identify(fmnist[0][:1])  # its index built, empty: a later search syncs it
    other = Gallery.open(tmp_path / "g.db", make_model(seed=1, dim=dim), threshold=1.0)
    other.enroll("bob", fmnist[0][:3])
    return mine, other


@pytest.mark.parametrize("dim", [32, 8], ids=["same-size", "other-size"])
def test_a_search_after_another_model_took_the_gallery_over_is_refused(
    tmp_path: Path, model, fmnist, dim: int
) -> None:
    mine, other = _taken_over(tmp_path, model, fmnist, dim)
    x = fmnist[0]
    with mine, other:
        with pytest.raises(GalleryMismatchError, match="taken over by another model"):
            mine.identify(x[:1])
        with pytest.raises(GalleryMismatchError, match="nothing was searched or changed"):
            mine.verify(x[:1], "bob")
        with pytest.raises(GalleryMismatchError):
            mine.recommend(other.items("bob").ids.tolist())
        with pytest.raises(GalleryMismatchError):
            mine.labels()
        with pytest.raises(GalleryMismatchError):
            mine.items()
        with pytest.raises(GalleryMismatchError):  # nor removed: not this model's items
            mine.remove("bob")
        with pytest.raises(GalleryMismatchError):
            mine.remove_items(other.items("bob").ids.tolist())
        with pytest.raises(GalleryMismatchError):  # still, not searched once refused
            mine.identify(x[:1])
        assert len(other.items("bob").ids) == 3
        assert len(mine._index) == 0  # the other model's items never went into its index
        assert other.identify(x[:1]).label == "bob"  # the other model searches it


def _meta_reads(gallery: Gallery) -> list[str]:
    """The meta reads of ``gallery``'s connection from now on (SQLite's statement trace)."""
    said: list[str] = []
    conn: sqlite3.Connection = gallery._store._conn
    conn.set_trace_callback(lambda sql: said.append(sql) if "FROM meta" in sql else None)
    return said


def test_the_check_reads_the_meta_only_after_another_connection_committed(
    tmp_path: Path, model, fmnist
) -> None:
    x = fmnist[0]
    path = tmp_path / "g.db"
    with Gallery.open(path, model, threshold=1.0) as g, Gallery.open(path, model) as w:
        g.enroll("alice", x[:2])
        g.identify(x[:1])
        reads = _meta_reads(g)
        for _ in range(3):  # the steady state: no meta read for the check
            g.identify(x[:1])
            g.labels()
        assert reads == []
        w.enroll("carol", x[5:7])  # another connection commits: the next search checks
        assert g.identify(x[5:6]).matches[0].label == "carol"
        assert reads  # (the check's read, and the loading of carol's rows reads the size)
        reads.clear()
        g.identify(x[:1])
        g.labels()
        assert reads == []
        assert len(g.items("carol").ids) == 2  # the same model's rows read as before


def _meta_of(path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def test_an_enrollment_checks_the_model_before_it_reads_the_labels_rows(tmp_path: Path) -> None:
    # a 4-d Gallery open on the empty gallery; a 2-d one takes it over with a row of label a:
    # that row, read as 4-d before the check, was a ValueError (the service's 500)
    path = tmp_path / "g.db"
    emptied(path, 4)
    with Gallery.open(path, embedding_dim=4) as mine, Gallery.open(path, embedding_dim=2) as other:
        other.enroll_embeddings("a", np.ones((1, 2), np.float32))
        with pytest.raises(GalleryMismatchError, match="taken over by another model"):
            mine.enroll_embeddings("a", np.ones((1, 4), np.float32), skip_repeats=True)
        assert len(other) == 1


def test_an_enrollment_of_repeats_only_is_refused_after_a_takeover(tmp_path: Path) -> None:
    # every row a repeat of the other model's items stored nothing: the check, made only when
    # a row was written, never ran, and the old model was told they were enrolled already
    path = tmp_path / "g.db"
    emptied(path, 2)
    z = np.array([[1.0, 2.0]], np.float32)
    with Gallery.open(path, embedding_dim=2) as mine:
        with Gallery.open(path, embedding_dim=2, distance="cosine") as other:
            other.enroll_embeddings("a", z)
        with pytest.raises(GalleryMismatchError, match="nothing was enrolled"):
            mine.enroll_embeddings("a", z, skip_repeats=True)


def test_a_gallery_keeps_the_meta_its_open_checked(tmp_path: Path, monkeypatch) -> None:
    # another process takes the empty gallery over (4-d) after the open checked its 2-d meta:
    # the Gallery adopted the meta it read again, and stored 2-d rows under the 4-d meta
    path = tmp_path / "g.db"
    emptied(path, 2)
    taken_over_while_opened(monkeypatch, path, emptied_again=True)
    with Gallery.open(path, embedding_dim=2) as mine, pytest.raises(GalleryMismatchError):
        mine.enroll_embeddings("a", np.ones((1, 2), np.float32))
    assert _meta_of(path)["embedding_dim"] == "4"
    with Gallery.open(path, embedding_dim=4) as g:
        assert len(g) == 0


def test_an_open_to_search_takes_nothing_over(tmp_path: Path) -> None:
    # Gallery.open with another model rewrote an empty gallery's meta: a search or a listing
    # (siamkit identify, text identify) evicted the model that serves it
    path = tmp_path / "g.db"
    emptied(path, 2)
    before = _meta_of(path)
    with Gallery.open(path, embedding_dim=2, threshold=1.0) as served:
        with Gallery.open(path, embedding_dim=4, threshold=1.0) as reader:
            assert reader.identify_embeddings(np.ones((1, 4), np.float32))[0].matches == []
            assert reader.labels() == [] and len(reader) == 0
            reader.remember_model_path(tmp_path)  # kept for its enrollment: none came
        assert _meta_of(path) == before
        assert served.enroll_embeddings("a", np.ones((1, 2), np.float32)) == [2]
        assert served.identify_embeddings(np.ones((1, 2), np.float32))[0].matches[0].label == "a"


def test_an_enrollment_takes_over_an_empty_gallery_opened_with_another_model(
    tmp_path: Path,
) -> None:
    path = tmp_path / "g.db"
    emptied(path, 2)
    with (
        Gallery.open(path, embedding_dim=4, threshold=1.0) as taker,
        Gallery.open(path, embedding_dim=2, threshold=1.0) as old,
    ):
        taker.remember_model_path(tmp_path)
        assert taker.enroll_embeddings("a", np.ones((1, 4), np.float32)) == [2]
        meta = _meta_of(path)
        assert meta["embedding_dim"] == "4" and meta["model_path"] == str(tmp_path.resolve())
        with pytest.raises(GalleryMismatchError):  # the old model's searches are refused
            old.identify_embeddings(np.ones((1, 2), np.float32))
        assert taker.identify_embeddings(np.ones((1, 4), np.float32))[0].matches[0].label == "a"


def test_the_recorded_models_items_first_refuse_a_takeover(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    emptied(path, 2)
    with (
        Gallery.open(path, embedding_dim=4, threshold=1.0) as taker,
        Gallery.open(path, embedding_dim=2, threshold=1.0) as old,
    ):
        old.enroll_embeddings("a", np.ones((1, 2), np.float32))
        with pytest.raises(GalleryMismatchError):  # nothing of another size to search
            taker.identify_embeddings(np.ones((1, 4), np.float32))
        with pytest.raises(GalleryMismatchError, match="enrolled items since"):
            taker.enroll_embeddings("b", np.ones((1, 4), np.float32))
    assert _meta_of(path)["embedding_dim"] == "2"
