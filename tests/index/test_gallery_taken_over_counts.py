"""``len(gallery)``, ``label in gallery``, ``gallery.sources(ids)`` and ``gallery.stats()`` of a
Gallery open on a gallery that held no item, taken over meanwhile by another model: they
answered with that model's items (its count, its labels, its files, its fingerprint) where
every search, listing and removal raises GalleryMismatchError; they now raise it too, with the
same sentence, and still read the meta only when another connection committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery, GalleryMismatchError
from siamkit.index.results import RecordedModelEnrolledError


def _empty(path: Path, dim: int) -> None:
    """A gallery of raw ``dim``-d embeddings at ``path`` that holds no item."""
    Gallery.open(path, embedding_dim=dim).close()


def _meta_reads(gallery: Gallery) -> list[str]:
    """The meta reads of ``gallery``'s connection from now on (SQLite's statement trace)."""
    said: list[str] = []
    conn: sqlite3.Connection = gallery._store._conn
    conn.set_trace_callback(lambda sql: said.append(sql) if "FROM meta" in sql else None)
    return said


def test_counts_membership_sources_and_stats_are_refused_after_a_takeover(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    _empty(path, 4)
    with Gallery.open(path, embedding_dim=4) as mine:
        assert (len(mine), "bob" in mine, mine.sources([1])) == (0, False, {})
        assert mine.stats().embedding_dim == 4
        with Gallery.open(path, embedding_dim=2) as other:  # takes it over: one item of bob
            other.enroll_embeddings("bob", np.ones((1, 2), np.float32), sources=["bob.png"])
            assert (len(other), "bob" in other, other.sources([1])) == (1, True, {1: "bob.png"})
        with pytest.raises(GalleryMismatchError, match="taken over by another model") as said:
            mine.labels()  # the sentence every other call gives
        for call in (
            lambda: len(mine),
            lambda: "bob" in mine,
            lambda: "carol" in mine,  # not there: still not this model's gallery to say so
            lambda: mine.sources([1]),
            lambda: mine.sources([7]),
            mine.stats,
        ):
            with pytest.raises(GalleryMismatchError) as err:
                call()
            assert str(err.value) == str(said.value)


def test_they_are_refused_once_the_recorded_model_enrolled_before_a_pending_takeover(
    tmp_path: Path,
) -> None:
    # mine (2-d) opened the empty 4-d gallery to take it over at its first enrollment: until
    # the 4-d model enrolls it holds nothing; after, the 4-d model's item is not mine to count
    path = tmp_path / "g.db"
    _empty(path, 4)
    with Gallery.open(path, embedding_dim=2) as mine:
        assert (len(mine), "bob" in mine, mine.sources([1])) == (0, False, {})
        assert mine.stats().embedding_dim == 2  # the gallery it is to take over
        with Gallery.open(path, embedding_dim=4) as recorded:
            recorded.enroll_embeddings("bob", np.ones((1, 4), np.float32), sources=["b.png"])
        for call in (lambda: len(mine), lambda: "bob" in mine, lambda: mine.sources([1])):
            with pytest.raises(RecordedModelEnrolledError, match="enrolled items since"):
                call()
        with pytest.raises(RecordedModelEnrolledError):
            mine.stats()


def test_they_read_the_meta_only_after_another_connection_committed(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with Gallery.open(path, embedding_dim=2) as g, Gallery.open(path, embedding_dim=2) as w:
        g.enroll_embeddings("alice", np.ones((2, 2), np.float32), sources=["a.png", None])
        reads = _meta_reads(g)
        for _ in range(3):  # the steady state: no meta read for the check
            assert (len(g), "alice" in g, "bob" in g) == (2, True, False)
            assert g.sources([1, 2]) == {1: "a.png"}
        assert reads == []
        w.enroll_embeddings("bob", np.zeros((1, 2), np.float32))  # the next call checks
        assert len(g) == 3
        assert len(reads) == 1
        reads.clear()
        assert "bob" in g and g.sources([3]) == {}
        assert reads == []
