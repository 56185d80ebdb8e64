"""ThumbnailStore.of_label and first_per_label with ``gallery``: only the thumbnails of items the
gallery file holds under that label, against a plain loop over the gallery's items."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from siamkit.index import Gallery
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for


def test_only_thumbnails_of_items_held_under_their_label_are_read(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    rng = np.random.default_rng(0)
    with Gallery.open(path, embedding_dim=4, distance="euclidean") as g:
        for label in ["a", "b", "a", "c", "b", "a", "c"]:
            g.enroll_embeddings(label, rng.normal(size=(3, 4)))
        g.remove("c")  # every item of c: its thumbnails below are written after, as orphans
        g.remove_items([1, 2, 5, 17])  # a's first two, b's second and a later one of a
        items = g.items()
    store = ThumbnailStore(thumbnails_path_for(path))
    try:
        # every id handed out (1..21), under its enrolled label; one kept under another label
        # than its item's, and previews above the last id (an enrollment not committed)
        enrolled = {i: ["a", "b", "a", "c", "b", "a", "c"][(i - 1) // 3] for i in range(1, 22)}
        enrolled[7] = "b"  # item 7 is a's
        enrolled.update({22: "a", 23: "d"})
        for i, label in enrolled.items():
            store.put(label, [i], [f"png{i}".encode()])
        held = dict(zip(items.ids.tolist(), items.labels))
        live = sorted(i for i, lab in enrolled.items() if held.get(i) == lab)
        for label in "abcd":
            want = [(i, f"png{i}".encode()) for i in live if enrolled[i] == label]
            assert store.of_label(label, gallery=path) == want
            assert store.of_label(label, limit=2, gallery=path) == want[:2]
        first = {}
        for i in live:
            first.setdefault(enrolled[i], f"png{i}".encode())
        assert first == {"a": b"png3", "b": b"png4"}  # the loop's, spelled out
        assert store.first_per_label(gallery=path) == first
        assert store.first_per_label(max_item_id=3, gallery=path) == {"a": b"png3"}
        # without a gallery, as before: every thumbnail of the label, up to max_item_id
        assert [i for i, _ in store.of_label("a", max_item_id=21)] == [1, 2, 3, 8, 9, 16, 17, 18]
        assert store.first_per_label(max_item_id=21) == {
            "a": b"png1",
            "b": b"png4",
            "c": b"png10",
        }
        assert store.first_per_label() == {"a": b"png1", "b": b"png4", "c": b"png10", "d": b"png23"}
    finally:
        store.close()


def test_labels_of_names_the_ids_held_now(tmp_path: Path) -> None:
    """Gallery.labels_of, which the service asks after keeping an enrollment's thumbnails,
    against the gallery's items: removed ids, ids never handed out and ids no item can have
    (0, negative, past SQLite's integers) are left out."""
    with Gallery.open(tmp_path / "g.db", embedding_dim=2, distance="euclidean") as g:
        g.enroll_embeddings("a", np.eye(2))
        g.enroll_embeddings("b", np.ones((1, 2)))
        g.remove_items([1])
        asked = [3, 1, 2, 0, -4, 99, 2**70, *range(100, 1200)]
        items = g.items()
        want = {i: lab for i, lab in zip(items.ids.tolist(), items.labels) if i in asked}
        assert g.labels_of(asked) == want == {2: "a", 3: "b"}
        assert g.labels_of([]) == {}
