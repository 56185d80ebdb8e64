"""Takeovers of a gallery that holds no item, timed by hooks to fall between two reads of a
Gallery: its open (the meta, then the store's data version), its index's sync and ``items()``
(the rows, then the count), and ``stats()`` while its own takeover is pending."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _index_helpers import emptied, taken_over_while_opened

from siamkit.index import Gallery, GalleryMismatchError
from siamkit.index.store import GalleryStore


def test_a_takeover_between_the_opens_meta_and_its_version_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the 4-d model takes the empty gallery over and enrolls after the 2-d open read the meta:
    # the version read afterwards counted it as checked, so the 2-d Gallery listed the 4-d
    # model's items as its own and removed them. The takeover lands right after the open's
    # meta() read: landed later (while it built its index), both reads came before it, and
    # the test passed with the version read after the meta (s56_R8 finding 1)
    path = tmp_path / "g.db"
    emptied(path, 2)
    taken_over_while_opened(monkeypatch, path, emptied_again=False, right_after_meta=True)
    with Gallery.open(path, embedding_dim=2) as mine:
        with pytest.raises(GalleryMismatchError):
            mine.labels()
        with pytest.raises(GalleryMismatchError):
            mine.items()
        with pytest.raises(GalleryMismatchError):
            mine.remove("b")
    with Gallery.open(path, embedding_dim=4) as g:
        assert len(g) == 1


def _then_removed(monkeypatch: pytest.MonkeyPatch, path: Path, method: str) -> None:
    """After the next ``GalleryStore.<method>`` read, the recorded (2-d) model removes label a,
    so that the count read after the rows finds the gallery empty again."""
    real = getattr(GalleryStore, method)

    def read_then_removed(self, *args, **kwargs):
        monkeypatch.setattr(GalleryStore, method, real)
        found = real(self, *args, **kwargs)
        with Gallery.open(path, embedding_dim=2) as old:
            old.remove("a")
        return found

    monkeypatch.setattr(GalleryStore, method, read_then_removed)


@pytest.mark.parametrize("read", ["sync", "items"])
def test_the_recorded_models_rows_read_before_their_removal_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    # a 4-d Gallery opened the empty 2-d gallery (its takeover pending); the 2-d model
    # enrolls, and removes after the 4-d Gallery read its rows: counted after them, the gallery held none, and the 2-d rows reached the
    # 4-d Gallery's index (a failure deep in it) or its items
    path = tmp_path / "g.db"
    emptied(path, 2)
    with Gallery.open(path, embedding_dim=4, threshold=1.0) as taker:
        with Gallery.open(path, embedding_dim=2) as old:
            old.enroll_embeddings("a", np.ones((1, 2), np.float32))
        _then_removed(monkeypatch, path, "ids" if read == "sync" else "load")
        with pytest.raises(GalleryMismatchError, match="enrolled items since"):
            if read == "sync":
                taker.identify_embeddings(np.ones((1, 4), np.float32))
            else:
                taker.items()
        assert len(taker._index) == 0


def test_a_pending_takeovers_search_says_the_recorded_model_enrolled(tmp_path: Path) -> None:
    # it said the gallery "was taken over by another model", though it still records the model
    # it recorded: that model enrolled before this one took it over
    path = tmp_path / "g.db"
    emptied(path, 2)
    with Gallery.open(path, embedding_dim=4, threshold=1.0) as taker:
        with Gallery.open(path, embedding_dim=2) as old:
            old.enroll_embeddings("a", np.ones((1, 2), np.float32))
        for call in (lambda: taker.identify_embeddings(np.ones((1, 4), np.float32)), taker.labels):
            with pytest.raises(GalleryMismatchError) as err:
                call()
            said = str(err.value)
            assert "held no item when this model opened it, but the model it records" in said
            assert "taken over" not in said and "nothing was searched or changed" in said


def test_stats_of_a_pending_takeover_describe_its_model(tmp_path: Path) -> None:
    # stats() described the gallery the 2-d model records, though this 4-d Gallery searches
    # and enrolls 4-d embeddings, and its first enrollment records the 4-d model
    path = tmp_path / "g.db"
    emptied(path, 2)
    with Gallery.open(path, embedding_dim=4, distance="cosine") as taker:
        stats = taker.stats()
        assert (
            (stats.embedding_dim, stats.distance)
            == (4, "cosine")
            == (
                taker.embedding_dim,
                "cosine",
            )
        )
        assert stats.num_items == 0
    with Gallery.open(path, embedding_dim=2) as old:  # nothing was written: still the 2-d one's
        assert old.stats().embedding_dim == 2


def test_a_pending_model_path_is_recorded_after_another_gallery_of_its_model_took_over(
    tmp_path: Path,
) -> None:
    # the model folder remember_model_path kept for this Gallery's takeover was lost when
    # another Gallery of the same model took the gallery over first (recording none)
    path = tmp_path / "g.db"
    emptied(path, 2)
    with Gallery.open(path, embedding_dim=4) as mine, Gallery.open(path, embedding_dim=4) as first:
        mine.remember_model_path(tmp_path / "model")
        first.enroll_embeddings("a", np.ones((1, 4), np.float32))
        mine.enroll_embeddings("b", np.ones((1, 4), np.float32))
        assert mine.stats().model_path == str((tmp_path / "model").resolve())
