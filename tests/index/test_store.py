"""GalleryStore: SQLite schema, transactions, validation and safe SQL."""

from __future__ import annotations

import sqlite3
import warnings

import numpy as np
import pytest

from siamkit.index import GalleryStore, LabelInfo
from siamkit.index.store import GalleryDamagedError


def new_store(path, dim=4) -> GalleryStore:
    store = GalleryStore(path)
    store.init_meta({"embedding_dim": str(dim)})
    return store


def test_round_trip_and_ids_never_reused(tmp_path):
    store = new_store(tmp_path / "g.db")
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    ids_a = store.add("alice", a, {"team": "ops"})
    ids_b = store.add("bob", a[:1] + 100)
    assert ids_a == [1, 2] and ids_b == [3]
    items = store.load()
    assert items.ids.tolist() == [1, 2, 3] and items.labels == ["alice", "alice", "bob"]
    np.testing.assert_array_equal(items.embeddings[:2], a)
    np.testing.assert_array_equal(store.embeddings_of([3, 1]), np.stack([a[0] + 100, a[0]]))
    assert store.labels() == [LabelInfo("alice", 2, {"team": "ops"}), LabelInfo("bob", 1, None)]
    assert store.remove_label("bob") == [3] and store.remove_label("bob") == []
    assert store.add("carol", a[:1]) == [4]  # AUTOINCREMENT: a removed id is never handed out again
    assert store.count() == (3, 2)
    with pytest.raises(KeyError, match="3"):
        store.embeddings_of([3])


def test_write_ahead_log_and_full_sync(tmp_path):
    store = new_store(tmp_path / "g.db")
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.integrity_check() == "ok"


def test_an_enrollment_is_all_or_nothing(tmp_path):
    store = new_store(tmp_path / "g.db")
    store.add("alice", np.zeros((2, 4), np.float32))
    # make the database itself fail on the 4th row, in the middle of the next enrollment
    store._conn.execute(
        "CREATE TRIGGER fail_late BEFORE INSERT ON items WHEN (SELECT COUNT(*) FROM items) >= 3 "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
        store.add("bob", np.ones((3, 4), np.float32))
    assert store.count() == (2, 1)
    assert [info.label for info in store.labels()] == ["alice"]


def test_add_new_takes_another_rule_and_writes_beside_in_its_transaction(tmp_path):
    """Texts' rule of repeats reads the label's stored ids and embeddings in the enrollment's
    transaction, and ``written`` records the new ids' previews before it commits (or undoes
    the enrollment by raising)."""
    store = new_store(tmp_path / "g.db")
    first = store.add("alice", np.ones((1, 4), np.float32))
    seen, written = [], []

    def rule(ids, embeddings):
        seen.append((ids.tolist(), embeddings.copy()))
        return np.array([True, False])

    ids, skip = store.add_new(
        "alice", np.eye(4, dtype=np.float32)[:2], repeats=rule, written=written.append
    )
    assert skip.tolist() == [True, False] and written == [ids] and len(ids) == 1
    assert seen[0][0] == first and seen[0][1].tolist() == [[1.0] * 4]

    def refuse(ids):
        raise RuntimeError("previews: disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.add_new(
            "bob",
            np.ones((1, 4), np.float32),
            repeats=lambda i, e: np.zeros(1, bool),
            written=refuse,
        )
    with pytest.raises(RuntimeError, match="disk full"):
        store.add("bob", np.ones((1, 4), np.float32), written=refuse)
    assert store.count() == (2, 1)


def test_embeddings_of_another_size_are_refused_not_called_the_gallerys_damage(tmp_path):
    """add_new read the label's stored embeddings at the caller's size: 3-value rows into a
    gallery recording 2 were answered "the gallery is damaged" (the service's 503), and add
    stored them in a new label for the next load to call damaged. A plain ValueError naming
    both sizes now, before anything is stored (reviewer s53_R4 finding 2)."""
    store = new_store(tmp_path / "g.db", dim=2)
    first = store.add_new("a", np.ones((1, 2), np.float32))[0]
    for add in (store.add_new, store.add):
        for label in ("a", "b"):  # of a label holding items, and of a new one
            with pytest.raises(ValueError) as info:
                add(label, np.ones((1, 3), np.float32))
            assert type(info.value) is ValueError  # not GalleryDamagedError, a subclass
            text = str(info.value)
            assert "have 3 values each" in text and "records embeddings of 2" in text
            assert "damaged" not in text and "nothing was stored" in text
    assert store.count() == (1, 1)
    loaded = store.load()  # the gallery is as sound as it was
    assert loaded.ids.tolist() == first and loaded.embeddings.tolist() == [[1.0, 1.0]]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_embeddings_with_nan_or_infinite_values_are_refused_before_they_are_stored(tmp_path, bad):
    """add stored a NaN row that the next load then called the gallery's damage "written by
    another program" (reviewer s53_R4 finding 2); it is refused, naming the rows."""
    store = new_store(tmp_path / "g.db", dim=2)
    rows = np.array([[0.5, 1.0], [bad, 1.0], [1.0, 1.0], [1.0, bad]], np.float32)
    for add in (store.add_new, store.add):
        with pytest.raises(ValueError) as info:
            add("a", rows)
        assert not isinstance(info.value, GalleryDamagedError)
        assert str(info.value) == (
            "2 of the 4 embeddings hold NaN or infinite values (rows 1, 3), which no search "
            "can rank; nothing was stored"
        )
    assert store.count() == (0, 0)
    store.add("a", rows[[0, 2]])
    assert store.load().embeddings.tolist() == [[0.5, 1.0], [1.0, 1.0]]


def test_float64_rows_past_float32s_range_are_refused_as_too_large_without_a_warning(tmp_path):
    """A finite float64 row of 1e39 was refused as holding "NaN or infinite values" (it only
    overflows in the float32 cast, with numpy's "overflow encountered in cast" warning on top;
    reviewer s53_RR4 finding 2a). The refusal says which of the two it is, and nothing else."""
    store = new_store(tmp_path / "g.db", dim=2)
    cases = [  # a row finite as given but past 3.4e38, one NaN/inf, then one of each
        ("1 of the 2", "values too large for float32 (rows 1)", [[0.5, 1.0], [1e39, 0.0]]),
        ("1 of the 2", "NaN or infinite values (rows 0)", [[np.nan, 1.0], [1e30, 1.0]]),
        (
            "2 of the 2",
            "NaN or infinite values, or values too large for float32 (rows 0, 1)",
            [[np.inf, 1.0], [1.0, -1e39]],
        ),
    ]
    for count, what, rows in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the cast's RuntimeWarning would raise here
            with pytest.raises(ValueError) as info:
                store.add("a", np.array(rows, np.float64))
        assert str(info.value) == (
            f"{count} embeddings hold {what}, which no search can rank; nothing was stored"
        )
    assert store.count() == (0, 0)


def test_a_store_that_records_no_embedding_size_refuses_rows_instead_of_storing_any_size(
    tmp_path,
):
    """A store made without init_meta took 2-value rows, then 3-value rows, with no check;
    add_new then called it damaged and load() said "not 0 float32 values (0 bytes), the size
    it records", false: it records none (reviewer s53_RR4 finding 1). The add is refused and
    says what to do; Gallery records the size when it opens, so its enrollments are unchanged."""
    path = tmp_path / "g.db"
    with GalleryStore(path) as store:
        for add in (store.add, store.add_new):
            with pytest.raises(ValueError) as info:
                add("a", np.ones((1, 2), np.float32))
            assert str(info.value) == (
                f"the gallery {path} records no embedding size; nothing was stored: "
                'call init_meta({"embedding_dim": ...}) on it before adding embeddings'
            )
        assert store.count() == (0, 0) and "embedding_dim" not in store.meta()
        store.init_meta({"embedding_dim": "2"})
        store.add("a", np.ones((1, 2), np.float32))
        with pytest.raises(ValueError, match="records embeddings of 2"):
            store.add("a", np.ones((1, 3), np.float32))
        assert store.load().embeddings.tolist() == [[1.0, 1.0]]


def test_a_store_holding_rows_but_no_recorded_size_says_so_when_read(tmp_path):
    """Rows written with no size recorded (another program, or an add before fab78129 refused
    it): load() read them with size 0 and said every item was "not 0 float32 values (0 bytes),
    the size it records", false, as it records none; embeddings_of raised a bare KeyError
    'embedding_dim'. Both say the size was never recorded and what to do; an empty store
    without a size still loads as empty."""
    path = tmp_path / "g.db"
    with GalleryStore(path) as store:
        assert len(store.load().ids) == 0
    with sqlite3.connect(path) as conn:  # what another program writes
        conn.execute(
            "INSERT INTO items (label, embedding, created) VALUES ('a', ?, 0)",
            (np.ones(2, "<f4").tobytes(),),
        )
    conn.close()
    expected = (
        f"the gallery {path} is damaged: it holds items but never recorded the size of their "
        "embeddings (its meta table has no embedding_dim), so none can be read; enroll them "
        "again into a new gallery file (`siamkit enroll MODEL --gallery NEW.db IMAGES`; texts: "
        "`siamkit text enroll CORPUS --gallery NEW.db`; faces: `siamkit face enroll --gallery "
        "NEW.db --label LABEL IMAGES`), or, from Python, record the size the model made them "
        "with: "
        f'GalleryStore({str(path)!r}).init_meta({{"embedding_dim": "N"}})'
    )
    with GalleryStore(path) as store:
        (item,) = store.ids().tolist()
        for read in (store.load, lambda: store.embeddings_of([item])):
            with pytest.raises(GalleryDamagedError) as info:
                read()
            assert str(info.value) == expected
        store.init_meta({"embedding_dim": "2"})  # what the sentence says mends it
        assert store.load().embeddings.tolist() == [[1.0, 1.0]]


def test_sql_text_in_labels_and_metadata_is_only_data(tmp_path):
    store = new_store(tmp_path / "g.db")
    evil = "x'); DROP TABLE items; --"
    store.add(evil, np.zeros((1, 4), np.float32), {"note": "'; DELETE FROM meta; --"})
    assert store.labels() == [LabelInfo(evil, 1, {"note": "'; DELETE FROM meta; --"})]
    assert store.remove_label("x' OR '1'='1") == []
    assert store.count() == (1, 1) and store.meta()["embedding_dim"] == "4"


@pytest.mark.parametrize(
    ("label", "error"),
    [
        ("", ValueError),
        ("a" * 257, ValueError),
        ("a\nb", ValueError),
        (" a", ValueError),
        (3, TypeError),
    ],
)
def test_labels_are_validated(tmp_path, label, error):
    store = new_store(tmp_path / "g.db")
    with pytest.raises(error):
        store.add(label, np.zeros((1, 4), np.float32))
    assert store.count() == (0, 0)


@pytest.mark.parametrize(
    "metadata",
    [{"x": object()}, {"x": float("nan")}, {"x": "a" * 70_000}, {1: "int key"}, ["list"]],
)
def test_metadata_is_validated(tmp_path, metadata):
    store = new_store(tmp_path / "g.db")
    with pytest.raises((ValueError, TypeError)):
        store.add("alice", np.zeros((1, 4), np.float32), metadata)
    assert store.count() == (0, 0)


def test_refuses_files_that_are_not_galleries(tmp_path):
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(ValueError, match="not a siamkit gallery"):
        GalleryStore(png)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(ValueError, match="not a siamkit gallery"):
        GalleryStore(other)
    with pytest.raises(FileNotFoundError, match="no gallery"):
        GalleryStore(tmp_path / "missing.db", create=False)
    with pytest.raises(ValueError, match="directory"):
        GalleryStore(tmp_path)
    assert not (tmp_path / "missing.db").exists()


def test_other_connections_see_commits_and_data_version_moves(tmp_path):
    first, second = new_store(tmp_path / "g.db"), GalleryStore(tmp_path / "g.db")
    before = first.data_version()
    second.add("bob", np.ones((1, 4), np.float32))
    assert first.data_version() != before
    assert first.load().labels == ["bob"]


class _CommitFails:
    """A store connection whose next ``COMMIT`` fails and leaves SQLite's transaction open
    (what a busy or full disk can do), delegating everything else to the real connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn, self.failed = conn, False

    def execute(self, sql: str, *args):
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


def test_a_failed_commit_stores_nothing_and_the_store_stays_usable(tmp_path):
    """A failed COMMIT was raised without a ROLLBACK: the open transaction then refused every
    later write ("cannot start a transaction within a transaction") until the process ended."""
    store = new_store(tmp_path / "g.db")
    store.add("alice", np.ones((1, 4), np.float32))
    real = store._conn
    store._conn = _CommitFails(real)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        store.add("bob", np.eye(4, dtype=np.float32)[:2])
    assert store._conn.failed and not real.in_transaction
    assert store.count() == (1, 1)
    ids = store.add("carol", np.ones((1, 4), np.float32))  # the next write works
    store._conn = real
    assert store.count() == (2, 2) and len(ids) == 1
