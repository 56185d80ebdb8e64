"""ExactIndex against naive Python loops over the same distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _index_helpers import clustered

from siamkit.distances import MahalanobisDistance, MLPMetric
from siamkit.index import ExactIndex, SearchIndex, create_index, load_index

NAIVE = {
    "euclidean": lambda a, b: math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))),
    "sqeuclidean": lambda a, b: sum((x - y) ** 2 for x, y in zip(a, b)),
    "manhattan": lambda a, b: sum(abs(x - y) for x, y in zip(a, b)),
    "cosine": lambda a, b: (
        1
        - sum(x * y for x, y in zip(a, b))
        / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
    ),
}


def naive_knn(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int, name: str):
    """k nearest by a Python loop over float64 values; ties broken by id."""
    out_d, out_i = [], []
    for row in q.astype(float).tolist():
        d = sorted((NAIVE[name](row, g), int(i)) for g, i in zip(x.astype(float).tolist(), ids))
        out_d.append([t[0] for t in d[:k]])
        out_i.append([t[1] for t in d[:k]])
    return np.array(out_d), np.array(out_i)


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_matches_naive_loop(name, chunk_size):
    x = clustered(120, 8, centers=5, noise=0.5, seed=1)
    ids = np.arange(120) * 3 + 100  # arbitrary, non-contiguous ids
    q = clustered(9, 8, centers=5, noise=0.5, seed=2)
    index = ExactIndex(8, name, chunk_size=chunk_size)
    index.add(x[:50], ids[:50])
    index.add(x[50:], ids[50:])  # grows the buffers
    got = index.search(q, k=6)
    ref_d, ref_i = naive_knn(x, ids, q, 6, name)
    np.testing.assert_allclose(got.distances, ref_d, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got.ids, ref_i)
    assert got.ids.dtype == np.int64 and got.distances.dtype == np.float32


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean"])
def test_small_distances_are_exact_not_cancelled(name):
    """|g|^2 - 2 q.g + |q|^2 in float32 put an embedding 3.5e-4 from its own stored copy; the
    found items' distances are now the differences themselves (float64 reference)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 128))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    near = x[:20] + 1e-3 * rng.standard_normal((20, 128)) / np.sqrt(128)  # ~1e-3 away
    index = ExactIndex(128, name)
    index.add(x.astype(np.float32), np.arange(200))
    same = index.search(x[:20].astype(np.float32), k=3)
    assert same.distances[:, 0].tolist() == [0.0] * 20 and same.ids[:, 0].tolist() == list(
        range(20)
    )
    got = index.search(near.astype(np.float32), k=1)
    want = np.linalg.norm(near.astype(np.float32).astype(float) - x[:20].astype(np.float32), axis=1)
    want = want if name == "euclidean" else want**2
    np.testing.assert_allclose(got.distances[:, 0], want, rtol=1e-3)


def test_pads_like_faiss_when_k_exceeds_size():
    index = ExactIndex(3)
    empty = index.search(np.zeros((2, 3)), k=2)
    assert (empty.ids == -1).all() and np.isinf(empty.distances).all()
    index.add(np.eye(3), np.array([5, 6, 7]))
    res = index.search(np.eye(3)[:1], k=5)
    assert res.ids[0, :3].tolist()[0] == 5 and res.ids[0, 3:].tolist() == [-1, -1]
    assert np.isinf(res.distances[0, 3:]).all() and np.isfinite(res.distances[0, :3]).all()


def test_remove_then_search_and_reconstruct():
    x = clustered(40, 4, seed=3)
    index = ExactIndex(4)
    index.add(x, np.arange(40))
    assert index.remove(np.array([0, 1, 2, 999])) == 3
    assert len(index) == 37
    res = index.search(x[:3], k=1)
    assert not set(res.ids.ravel().tolist()) & {0, 1, 2}
    np.testing.assert_allclose(index.reconstruct([10, 5]), x[[10, 5]], rtol=1e-6)
    with pytest.raises(KeyError, match=r"ids not in the index: 1, 2.?$"):  # the missing ones
        index.reconstruct([10, 1, 2])
    with pytest.raises(ValueError, match=r"already in the index: 3, 4, 5, 6, 7 and 2 more$"):
        index.add(x[:7], np.arange(3, 10))


def test_learned_distance_uses_its_matrix():
    torch.manual_seed(0)
    metric = MahalanobisDistance(4)
    x, q = clustered(30, 4, seed=4), clustered(3, 4, seed=5)
    index = ExactIndex(4, metric, chunk_size=8)
    index.add(x, np.arange(30))
    with torch.no_grad():
        full = metric.matrix(torch.from_numpy(q), torch.from_numpy(x)).numpy()
    res = index.search(q, k=4)
    np.testing.assert_array_equal(res.ids, np.argsort(full, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(res.distances, np.sort(full, axis=1)[:, :4], rtol=1e-5)


def test_mlp_head_search_equals_a_loop_over_pairs():
    """A gallery of a model with a learned MLP head ranks by the head's score of each pair."""
    torch.manual_seed(0)
    head = MLPMetric(4, hidden=8)
    x, q = clustered(30, 4, seed=4), clustered(3, 4, seed=5)
    index = ExactIndex(4, head, chunk_size=8)
    index.add(x, np.arange(30))
    res = index.search(q, k=5)
    with torch.no_grad():
        loop = np.array(
            [
                [
                    float(head.pairwise(torch.from_numpy(a)[None], torch.from_numpy(g)[None]))
                    for g in x
                ]
                for a in q
            ]
        )
    order = np.argsort(loop, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(res.ids, order)
    np.testing.assert_allclose(res.distances, np.take_along_axis(loop, order, 1), rtol=0, atol=1e-6)


def test_save_load_roundtrip(tmp_path):
    x = clustered(50, 6, seed=6)
    index = create_index("exact", 6, "cosine")
    assert isinstance(index, SearchIndex)
    index.add(x, np.arange(50) + 1)
    index.save(tmp_path / "idx")
    again = load_index(tmp_path / "idx")
    a, b = index.search(x[:5], 4), again.search(x[:5], 4)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.distances, b.distances, atol=1e-6)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((2, 5)), "have 5 values each, but this index holds embeddings of 4"),
        (np.full((1, 4), np.nan), "NaN"),
        (np.zeros((2, 2, 4)), "shape"),
        ("text", "numpy array"),
    ],
)
def test_bad_queries_are_explained(bad, message):
    index = ExactIndex(4)
    index.add(np.ones((1, 4)), np.array([0]))
    with pytest.raises((ValueError, TypeError), match=message):
        index.search(bad, k=1)


def test_bad_ids_and_k():
    index = ExactIndex(2)
    with pytest.raises(ValueError, match="unique"):
        index.add(np.zeros((2, 2)), np.array([1, 1]))
    with pytest.raises(ValueError, match="non-negative"):
        index.add(np.zeros((1, 2)), np.array([-1]))
    index.add(np.zeros((1, 2)), np.array([3]))
    with pytest.raises(ValueError, match="already"):
        index.add(np.zeros((1, 2)), np.array([3]))
    with pytest.raises(ValueError, match="positive integer"):
        index.search(np.zeros((1, 2)), k=0)


def test_cohort_normalised_distance_keeps_stored_statistics(monkeypatch):
    """Search equals the distance's own matrix, with each stored item's cohort statistics
    computed once when added (not at every search), also after growth and removal."""
    from siamkit.distances import CohortNormalized

    x = clustered(1500, 6, seed=3)
    dist = CohortNormalized("euclidean", torch.from_numpy(clustered(200, 6, seed=4)), k=20)
    index = ExactIndex(6, dist, chunk_size=256)
    index.add(x[:700], np.arange(700))
    index.add(x[700:], np.arange(700, 1500))  # grows the buffers past their first capacity
    index.remove(np.arange(100, 300))
    keep = np.r_[0:100, 300:1500]
    seen = []
    original = dist.cohort_stats
    monkeypatch.setattr(dist, "cohort_stats", lambda z: seen.append(len(z)) or original(z))
    q = clustered(9, 6, seed=5)
    res = index.search(q, k=5)
    assert seen == [9]  # only the queries'
    want = dist.matrix(torch.from_numpy(q), torch.from_numpy(x[keep])).numpy()
    order = np.argsort(want, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(res.ids, keep[order])
    np.testing.assert_allclose(res.distances, np.take_along_axis(want, order, 1), atol=1e-4)
