"""identify answers the k nearest labels, each at its nearest item, against a naive loop over
every item, where one label's items crowd the query: the search widens past the first 4 k items
until k distinct labels are found (no test reached the widening before)."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.index import Gallery


@pytest.mark.parametrize("index", ["exact", "faiss-flat"])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_identify_widens_past_a_crowd_of_one_label(tmp_path, index, k):
    if index.startswith("faiss"):
        pytest.importorskip("faiss")
    rng = np.random.default_rng(k)
    query = np.zeros((1, 4), np.float32)
    with Gallery.open(
        tmp_path / "g.db", None, embedding_dim=4, distance="euclidean", index=index, threshold=1.0
    ) as g:
        g.enroll_embeddings("crowd", rng.normal(0, 0.05, (200, 4)).astype(np.float32))
        for c in range(8):
            g.enroll_embeddings(f"p{c}", rng.normal(0, 1 + c / 2, (3, 4)).astype(np.float32))
        items = g.items()
        got = g.identify_embeddings(np.concatenate([query, query + 0.01]), k=k)
    for row, q in zip(got, [query[0], query[0] + 0.01]):
        d = np.linalg.norm(items.embeddings - q, axis=1)
        best: dict[str, float] = {}
        for label, di in zip(items.labels, d.tolist()):
            best[label] = min(best.get(label, np.inf), di)
        want = sorted(best, key=best.__getitem__)[:k]
        assert [m.label for m in row.matches] == want
        np.testing.assert_allclose([m.distance for m in row.matches], [best[w] for w in want], 1e-5)
        assert row.label == "crowd" and all(
            m.accepted == (best[m.label] <= 1.0) for m in row.matches
        )
