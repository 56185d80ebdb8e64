"""Items at an equal distance from a query (the same image enrolled under two labels, or twice)
are found and ordered by when they were added, whatever the batch of queries or the chunk size:
``torch.topk`` took any of the tied items, and which ones followed the chunk size, which
follows the number of queries searched together."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from siamkit.index import ExactIndex, Gallery

NAIVE = {
    "euclidean": lambda q, g: float(np.sqrt(((q - g) ** 2).sum())),
    "sqeuclidean": lambda q, g: float(((q - g) ** 2).sum()),
    "manhattan": lambda q, g: float(np.abs(q - g).sum()),
    "cosine": lambda q, g: float(1 - q @ g / np.sqrt((q @ q) * (g @ g))),
}


def naive_knn(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int, name: str):
    """k nearest by a loop over every pair in float64, rounded to float32's 1e-6 (the copies
    of one vector are one distance); ties broken by id."""
    out_d, out_i = [], []
    for row in q.astype(np.float64):
        d = sorted(
            (round(NAIVE[name](row, g), 6), int(i)) for g, i in zip(x.astype(np.float64), ids)
        )[:k]
        out_d.append([t[0] for t in d])
        out_i.append([t[1] for t in d])
    return np.array(out_d), np.array(out_i)


def tied_gallery(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows drawn from 4 distinct vectors (small integers: exact float32 distances)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(-3, 4, size=(4, 6)).astype(np.float32)
    base[np.abs(base).sum(1) == 0] = 1.0  # no zero vector (cosine)
    return base[rng.integers(0, 4, size=n)], base


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("chunk_size", [None, 5, 64])
def test_ties_go_to_the_item_added_first(name, chunk_size):
    x, base = tied_gallery(300)
    ids = np.arange(300) * 2 + 10  # grow with insertion: the naive loop's id order is theirs
    index = ExactIndex(6, name, chunk_size=chunk_size)
    index.add(x[:120], ids[:120])
    index.add(x[120:], ids[120:])
    others = np.random.default_rng(1).standard_normal((700, 6)).astype(np.float32)
    for k in (1, 7, 40, 130):
        ref_d, ref_i = naive_knn(x, ids, base, k, name)
        for queries in (base, np.concatenate([base, others])):  # the chunk follows the batch
            got = index.search(queries, k)
            np.testing.assert_array_equal(got.ids[:4], ref_i)
            np.testing.assert_allclose(got.distances[:4], ref_d, rtol=1e-5, atol=1e-5)


def test_identify_answers_a_query_alone_as_in_a_batch(tmp_path):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((1, 8)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = Gallery.open(tmp_path / "g.db", embedding_dim=8, distance="cosine", threshold=0.3)
        for i in range(300):  # the same photo enrolled under 300 labels, with one other each
            other = rng.standard_normal((1, 8)).astype(np.float32)
            g.enroll_embeddings(f"p{i:03d}", np.concatenate([z, other]))
        alone = g.identify_embeddings(z, k=3)[0]
        many = np.concatenate([z, rng.standard_normal((2000, 8)).astype(np.float32)])
        batch = g.identify_embeddings(many, k=3)[0]
    assert [m.label for m in alone.matches] == ["p000", "p001", "p002"]
    assert batch.matches == alone.matches and batch.label == alone.label == "p000"
    g.close()


def test_many_copies_for_many_queries_give_the_first_added():
    """More copies within rounding of the k-th than the keys kept: the other pass finds and
    measures them, for 400 queries at once, and the first added win."""
    rng = np.random.default_rng(3)
    one = rng.standard_normal((1, 16)).astype(np.float32)
    x = np.concatenate([rng.standard_normal((500, 16)).astype(np.float32), one.repeat(3000, 0)])
    for name in ("euclidean", "cosine"):
        index = ExactIndex(16, name)
        index.add(x, np.arange(3500))
        got = index.search(np.concatenate([one.repeat(399, 0), x[:1]]), 5)
        assert (got.ids[:399] == np.arange(500, 505)).all()
        assert (got.distances[:399] <= 1e-6).all()
        assert got.ids[399, 0] == 0 and got.distances[399, 0] <= 1e-6
