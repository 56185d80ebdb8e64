"""A Gallery open on a gallery that holds no item, taken over by another model meanwhile (a
gallery that holds no item takes any model): its searches and listings raise the
GalleryMismatchError its enrollment raises, instead of searching the other model's embeddings
with its own (the same size: wrong matches, no error) or failing deep in the index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _index_helpers import make_model

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
