"""An item whose stored embedding is not the gallery's size (written by hand, or by another
program) made every search answer numpy's "cannot reshape array of size 95938 into shape
(1500,64)". The search now names the gallery, the item and the command that lists and removes
it, and once it is removed by id the gallery searches as before (checked against a NumPy
brute-force search of the items left). It is the gallery's damage (GalleryDamagedError, the
service's 503 GALLERY_DAMAGED), not a plain ValueError (the service's 500, a bug's answer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery
from siamkit.index.store import GalleryDamagedError

DIM = 8


def test_a_wrong_size_embedding_is_named_and_can_be_removed(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, DIM)).astype(np.float32)
    with Gallery.open(path, embedding_dim=DIM, distance="euclidean") as gallery:
        ids = [gallery.enroll_embeddings(f"L{i}", z[i : i + 1])[0] for i in range(6)]
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE items SET embedding = ? WHERE id = ?", (b"\0" * 12, ids[2]))
    conn.close()
    query = rng.normal(size=(1, DIM)).astype(np.float32)
    with Gallery.open(path, create=False, threshold=1.0) as gallery:
        with pytest.raises(GalleryDamagedError) as info:
            gallery.identify_embeddings(query)
        assert str(info.value) == (
            f"the gallery {path} is damaged: 1 item holds an embedding that is not {DIM} "
            f"float32 values ({4 * DIM} bytes), the size it records (item {ids[2]}: 12 bytes), "
            f"so it cannot be searched; `siamkit gallery {path} check` names them and how to "
            "remove them"
        )
        with pytest.raises(GalleryDamagedError, match="item 3: 12 bytes"):
            gallery.enroll_embeddings("L2", z[2:3], skip_repeats=True)  # its label's check
        assert gallery.remove_items([ids[2]]) == {ids[2]: "L2"}
        found = gallery.identify_embeddings(query, k=5)[0]
    kept = [i for i in range(6) if i != 2]
    d = np.linalg.norm(z[kept] - query, axis=1)
    want = [f"L{kept[j]}" for j in np.argsort(d)]
    assert [m.label for m in found.matches] == want
    np.testing.assert_allclose([m.distance for m in found.matches], np.sort(d), rtol=1e-5)


def test_each_wrong_size_is_named_and_the_check_names_the_items(tmp_path: Path) -> None:
    """Several items of the wrong size (one a TEXT value, not a blob): the first five named with
    their sizes, the rest counted; ``siamkit gallery check`` (check_gallery_file) names them."""
    from siamkit.index.store_files import check_gallery_file

    path = tmp_path / "g.db"
    z = np.random.default_rng(1).normal(size=(8, DIM)).astype(np.float32)
    with Gallery.open(path, embedding_dim=DIM, distance="euclidean") as gallery:
        ids = gallery.enroll_embeddings("L", z)
    stored = [b"\0" * 4, b"\0" * 36, "text", b"", b"\0" * 31, b"\0" * 12, b"\0" * 40]
    with sqlite3.connect(path) as conn:
        for item, blob in zip(ids, stored):
            conn.execute("UPDATE items SET embedding = ? WHERE id = ?", (blob, item))
    conn.close()
    with Gallery.open(path, create=False) as gallery, pytest.raises(GalleryDamagedError) as info:
        gallery.identify_embeddings(z[:1])
    sizes = (
        f"(item {ids[0]}: 4 bytes; item {ids[1]}: 36 bytes; item {ids[2]}: a TEXT value, not a "
        f"blob; item {ids[3]}: 0 bytes; item {ids[4]}: 31 bytes; and 2 more)"
    )
    assert f"damaged: 7 items hold an embedding that is not {DIM} float32 values" in str(info.value)
    assert sizes in str(info.value)
    report = check_gallery_file(path)
    assert sorted(report.bad_item_ids) == sorted(ids[:7])


def test_an_embedding_with_nan_is_named_as_the_check_names_it(tmp_path: Path) -> None:
    """An item of the right size holding NaN or infinite values (written by another program):
    the search index refused it in "embeddings contain NaN or infinite values", naming neither
    the gallery nor the item, a plain ValueError (the service's 500). It is the gallery's damage
    naming the items check_gallery_file names, and removed, the gallery searches as a NumPy
    brute-force search of the items left."""
    from siamkit.index.store_files import check_gallery_file

    path = tmp_path / "g.db"
    rng = np.random.default_rng(2)
    z = rng.normal(size=(5, DIM)).astype(np.float32)
    with Gallery.open(path, embedding_dim=DIM, distance="euclidean") as gallery:
        ids = [gallery.enroll_embeddings(f"L{i}", z[i : i + 1])[0] for i in range(5)]
    nan, inf = z[1].copy(), z[3].copy()
    nan[4], inf[0] = np.nan, -np.inf
    with sqlite3.connect(path) as conn:
        for item, x in ((ids[1], nan), (ids[3], inf)):
            conn.execute("UPDATE items SET embedding = ? WHERE id = ?", (x.tobytes(), item))
    conn.close()
    assert sorted(check_gallery_file(path).bad_item_ids) == [ids[1], ids[3]]
    query = rng.normal(size=(1, DIM)).astype(np.float32)
    with Gallery.open(path, create=False, threshold=1.0) as gallery:
        with pytest.raises(GalleryDamagedError) as info:
            gallery.identify_embeddings(query)
        assert str(info.value) == (
            f"the gallery {path} is damaged: 2 items hold an embedding with NaN or infinite "
            f"values, which no search can rank (item ids {ids[1]}, {ids[3]}); `siamkit gallery "
            f"{path} check` names them and how to remove them"
        )
        gallery.remove_items([ids[1], ids[3]])
        found = gallery.identify_embeddings(query, k=5)[0]
    kept = [0, 2, 4]
    d = np.linalg.norm(z[kept] - query, axis=1)
    assert [m.label for m in found.matches] == [f"L{kept[j]}" for j in np.argsort(d)]
