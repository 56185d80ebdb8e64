"""``Gallery.remove_items``: single items removed by id, not only a whole label. All or none in
one transaction (unknown ids named, nothing removed), their thumbnails with them, a label left
without items gone, and every search index (exact, LSH, FAISS) in step, so that no search ever
returns a removed item again, also in another process's gallery on the same file."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery, UnknownLabelError
from siamkit.index.gallery_search import UnknownItemError
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for
from siamkit.index.thumbnail_store import remove_item_thumbnails as real_remove_thumbnails

KINDS = ["exact", "lsh", "faiss-flat", "faiss-hnsw", "faiss-ivf"]


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


Z = _vectors(6)  # alice: rows 0-2 (ids 1-3), bob: rows 3-4 (ids 4-5), carol: row 5 (id 6)


def _open(path: Path, kind: str = "exact") -> Gallery:
    if kind.startswith("faiss"):
        pytest.importorskip("faiss")
    options = {"nlist": 2, "train_size": 4} if kind == "faiss-ivf" else None
    return Gallery.open(
        path, index=kind, embedding_dim=8, distance="euclidean", index_options=options,
        threshold=1.0,
    )  # fmt: skip


@pytest.fixture
def gallery_path(tmp_path: Path) -> Path:
    path = tmp_path / "g.db"
    with _open(path) as g:
        assert g.enroll_embeddings("alice", Z[:3]) == [1, 2, 3]
        assert g.enroll_embeddings("bob", Z[3:5]) == [4, 5]
        assert g.enroll_embeddings("carol", Z[5:]) == [6]
    thumbs = ThumbnailStore(thumbnails_path_for(path))
    thumbs.put("alice", [1, 2, 3], [b"a1", b"a2", b"a3"])
    thumbs.put("bob", [4, 5], [b"b4", b"b5"])
    thumbs.close()
    return path


def _thumbnail_ids(path: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(thumbnails_path_for(path))) as conn:
        return [r[0] for r in conn.execute("SELECT item_id FROM thumbnails ORDER BY item_id")]


def _everything_found(g: Gallery, query: np.ndarray) -> list[int]:
    """The ids of every item the index finds for ``query``: identify's best per label and
    recommend's every other item from one liked item."""
    found = [m.item_id for m in g.identify_embeddings(query[None], k=10)[0].matches]
    liked = 6 if 6 in g._label_of else 1
    found += [m.item_id for m in g.recommend([liked], k=10)]
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_a_removed_item_is_never_found_again(gallery_path, kind):
    with _open(gallery_path, kind) as g:
        assert g.identify_embeddings(Z[1][None], k=3)[0].matches[0].item_id == 2  # index built
        assert g.remove_items([2]) == {2: "alice"}
        assert 2 not in _everything_found(g, Z[1])
        assert g.items("alice").ids.tolist() == [1, 3] and len(g) == 5
        assert g.remove_items([4, 5]) == {4: "bob", 5: "bob"}
        assert "bob" not in g and [i.label for i in g.labels()] == ["alice", "carol"]
        assert not {2, 4, 5} & set(_everything_found(g, Z[4]))
    with _open(gallery_path, kind) as again:  # reopened: the removal was committed
        assert again.items().ids.tolist() == [1, 3, 6]


@pytest.mark.parametrize("kind", ["exact", "lsh"])
def test_another_process_removal_reaches_a_loaded_index(gallery_path, kind):
    with _open(gallery_path, kind) as serving, _open(gallery_path) as other:
        assert serving.identify_embeddings(Z[1][None], k=1)[0].matches[0].item_id == 2
        other.remove_items([2])
        assert 2 not in _everything_found(serving, Z[1])


def test_thumbnails_of_the_removed_items_go_with_them(gallery_path):
    with _open(gallery_path) as g:
        g.remove_items([2, 4])
    assert _thumbnail_ids(gallery_path) == [1, 3, 5]
    store = ThumbnailStore(thumbnails_path_for(gallery_path))
    assert store.of_label("alice") == [(1, b"a1"), (3, b"a3")]
    store.close()


def test_unknown_ids_are_named_and_nothing_is_removed(gallery_path):
    with _open(gallery_path) as g:
        with pytest.raises(UnknownItemError) as err:
            g.remove_items([2, 99, 0, 2**64, -1])
        assert err.value.item_ids == [-1, 0, 99, 2**64]
        assert str(err.value).startswith(
            f"item ids not in the gallery: -1, 0, 99, {2**64}; nothing was removed"
        )
        assert isinstance(err.value, UnknownLabelError)  # what the CLI and service catch
        assert len(g) == 6 and g.identify_embeddings(Z[1][None])[0].matches[0].item_id == 2
    assert _thumbnail_ids(gallery_path) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("bad", [0, -3, 2**63, 2**64])
def test_an_id_no_item_can_have_beside_stored_ones_removes_nothing(gallery_path, bad):
    # ids outside 1..2**63-1 are not looked up in SQLite: the stored ones beside them must not
    # be deleted (with their thumbnails) before the refusal, leaving the loaded index stale
    with _open(gallery_path) as g:
        assert g.identify_embeddings(Z[0][None])[0].matches[0].item_id == 1  # index loaded
        with pytest.raises(UnknownItemError, match="nothing was removed") as err:
            g.remove_items([1, bad])
        assert err.value.item_ids == [bad]
        assert g.items("alice").ids.tolist() == [1, 2, 3]
        assert g.identify_embeddings(Z[0][None])[0].matches[0].item_id == 1
    assert _thumbnail_ids(gallery_path) == [1, 2, 3, 4, 5]


def test_a_failure_removing_the_thumbnails_removes_no_item(gallery_path, monkeypatch):
    import siamkit.index.gallery as gallery_module

    def broken(path: object, ids: list[int]) -> int:
        real_remove_thumbnails(path, ids)  # deleted in the side file, then the disk fails
        raise OSError("disk full")

    monkeypatch.setattr(gallery_module, "remove_item_thumbnails", broken)
    with _open(gallery_path) as g:
        with pytest.raises(OSError):
            g.remove_items([2])
        assert g.items("alice").ids.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("ids", "error", "words"),
    [
        ("alice", TypeError, "remove_items takes item ids"),
        ([True], TypeError, "remove_items takes item ids"),
        ([], ValueError, "at least one item id"),
    ],
)
def test_what_is_no_item_id_is_refused(gallery_path, ids, error, words):
    with _open(gallery_path) as g:
        with pytest.raises(error, match=words):
            g.remove_items(ids)
        assert len(g) == 6
