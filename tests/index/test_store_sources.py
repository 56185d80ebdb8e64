"""GalleryStore's ``items.source``: read without a ``PRAGMA table_info`` at every
``sources_of`` (the service asks at every /identify and /recommend), a column added by another
process is seen at once, and a gallery without the column reads and enrolls as before."""

from __future__ import annotations

import sqlite3

import numpy as np

from siamkit.index import GalleryStore


def _store(path) -> GalleryStore:
    store = GalleryStore(path)
    store.init_meta({"embedding_dim": "4"})
    return store


def _columns(path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[1] for r in conn.execute("PRAGMA table_info(items)")]


def _pragmas_during(store: GalleryStore, work) -> int:
    """How many PRAGMA statements ``store``'s connection ran during ``work()``."""
    ran: list[str] = []
    store._conn.set_trace_callback(ran.append)
    try:
        work()
    finally:
        store._conn.set_trace_callback(None)
    return sum(sql.lstrip().upper().startswith("PRAGMA") for sql in ran)


def test_sources_of_runs_no_pragma_per_call(tmp_path):
    store = _store(tmp_path / "g.db")
    ids = store.add("tiles", np.eye(4, dtype=np.float32)[:2], sources=["a.png", None])
    answers: list[dict[int, str]] = []
    assert (
        _pragmas_during(store, lambda: answers.extend(store.sources_of(ids) for _ in range(50)))
        == 0
    )
    assert answers == [{ids[0]: "a.png"}] * 50
    # enrolling more with sources does not ask again either: the column is never dropped
    more = _pragmas_during(
        store, lambda: store.add("tiles", np.ones((1, 4), np.float32), sources=["b.png"])
    )
    assert more == 0


def test_a_gallery_without_the_column_reads_as_before_without_pragmas(tmp_path):
    store = _store(tmp_path / "old.db")
    ids = store.add("alice", np.eye(4, dtype=np.float32)[:2], {"team": "ops"})  # no sources
    answers: list[dict[int, str]] = []
    assert (
        _pragmas_during(store, lambda: answers.extend(store.sources_of(ids) for _ in range(20)))
        == 0
    )
    assert answers == [{}] * 20
    assert "source" not in _columns(tmp_path / "old.db")  # reading adds nothing
    assert store.load().labels == ["alice", "alice"] and store.count() == (2, 1)
    assert store.add("alice", np.ones((1, 4), np.float32)) == [3]  # still enrolls without it
    assert store.sources_of([1, 2, 3]) == {} and "source" not in _columns(tmp_path / "old.db")


def test_a_column_added_by_another_process_is_seen_and_not_added_twice(tmp_path):
    path = tmp_path / "old.db"
    mine, other = _store(path), GalleryStore(path)
    first = mine.add("alice", np.eye(4, dtype=np.float32)[:1])
    assert mine.sources_of(first) == {}  # no column yet: nothing to say
    later = other.add("bob", np.ones((1, 4), np.float32), sources=["bob.png"])  # adds it
    assert mine.sources_of(first + later) == {later[0]: "bob.png"}
    # this store enrolls with sources too: the column is there, so it is not added again
    again = mine.add("carol", np.full((1, 4), 2, np.float32), sources=["carol.png"])
    assert other.sources_of(first + later + again) == {later[0]: "bob.png", again[0]: "carol.png"}
    assert _columns(path).count("source") == 1


def test_an_enrollment_rolled_back_takes_the_column_back_and_the_store_knows(tmp_path):
    """The first enrollment with sources into a gallery without the column adds it inside its
    transaction; when that transaction rolls back (here its ``written`` step fails, as a full
    disk or a failed thumbnail would), the column is gone again, and the store must not go on
    believing in it: sources_of still answers {} and the next enrollment adds the column."""
    store = _store(tmp_path / "old.db")
    old = store.add("alice", np.eye(4, dtype=np.float32)[:1])  # no sources: no column

    def fails(ids: list[int]) -> None:
        raise OSError(28, "No space left on device")

    try:
        store.add("bob", np.eye(4, dtype=np.float32)[1:2], written=fails, sources=["b.png"])
    except OSError:
        pass
    else:  # pragma: no cover - the failure is the point
        raise AssertionError("the failing step did not fail the enrollment")
    assert "source" not in _columns(tmp_path / "old.db")  # rolled back with the transaction
    assert store.sources_of(old) == {}
    ids = store.add("carol", np.eye(4, dtype=np.float32)[2:3], sources=["c.png"])
    assert store.sources_of(ids) == {ids[0]: "c.png"}
    assert "source" in _columns(tmp_path / "old.db")
