"""An item whose stored embedding is not the gallery's size (written by hand, or by another
program) made every search answer numpy's "cannot reshape array of size 95938 into shape
(1500,64)". The search now names the gallery, the item and the command that lists and removes
it, and once it is removed by id the gallery searches as before (checked against a NumPy
brute-force search of the items left)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery

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
        with pytest.raises(ValueError) as info:
            gallery.identify_embeddings(query)
        assert str(info.value) == (
            f"the gallery {path} has 1 item(s) whose embedding is not {DIM} float32 values, the "
            f"size it records (item ids {ids[2]}), so it cannot be searched; `siamkit gallery "
            f"{path} check` names them and how to remove them"
        )
        with pytest.raises(ValueError, match="item ids 3"):
            gallery.enroll_embeddings("L2", z[2:3], skip_repeats=True)  # its label's check
        assert gallery.remove_items([ids[2]]) == {ids[2]: "L2"}
        found = gallery.identify_embeddings(query, k=5)[0]
    kept = [i for i in range(6) if i != 2]
    d = np.linalg.norm(z[kept] - query, axis=1)
    want = [f"L{kept[j]}" for j in np.argsort(d)]
    assert [m.label for m in found.matches] == want
    np.testing.assert_allclose([m.distance for m in found.matches], np.sort(d), rtol=1e-5)
