"""Recommend on an exact index ranks every item in one blockwise pass
(:meth:`ExactIndex.min_distances`): checked against the search path it replaces (``k + L``
neighbours per liked item, still FAISS's and LSH's) and against naive numpy loops."""

from __future__ import annotations

import numpy as np
import pytest
from _index_helpers import clustered

from siamkit.index import Gallery, exact
from siamkit.index.exact import ExactIndex
from siamkit.index.gallery_search import nearest_by_scan, nearest_by_search, sync_index


def naive_min(g: np.ndarray, q: np.ndarray, distance: str) -> np.ndarray:
    """``(N,)`` each row of ``g``'s smallest distance to a row of ``q``, a float64 loop."""
    out = np.full(len(g), np.inf)
    for row in q.astype(float):
        if distance == "cosine":
            gn = g / np.linalg.norm(g, axis=1, keepdims=True)
            d = 1 - gn @ (row / np.linalg.norm(row))
        elif distance == "manhattan":
            d = np.abs(g - row).sum(1)
        else:
            d = ((g - row) ** 2).sum(1)
            d = np.sqrt(d) if distance == "euclidean" else d
        out = np.minimum(out, d)
    return out


@pytest.mark.parametrize("distance", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("budget", [1 << 20, 96])  # one block; many query and gallery blocks
def test_min_distances_is_the_smallest_distance_search_reports(distance, budget, monkeypatch):
    monkeypatch.setattr(exact, "_MIN_BUDGET", budget)
    rng = np.random.default_rng(1)
    g = rng.normal(size=(700, 6)).astype(np.float32)
    g[100:110] = g[5]  # duplicates: ties between queries and items at distance 0
    q = np.concatenate([g[:3], rng.normal(size=(40, 6)).astype(np.float32), g[100:101]])
    index = ExactIndex(6, distance)
    index.add(g, np.arange(700) * 3 + 11)
    dist, ids = index.min_distances(q)
    np.testing.assert_array_equal(ids, np.arange(700) * 3 + 11)
    assert dist.dtype == np.float32 and dist.shape == (700,)
    np.testing.assert_allclose(dist, naive_min(g, q, distance), rtol=1e-5, atol=1e-5)
    res = index.search(q, 700)  # the search's own values, pair by pair
    by_search = np.full(700, np.inf, dtype=np.float32)
    np.minimum.at(by_search, (res.ids.ravel() - 11) // 3, res.distances.ravel())
    if distance == "cosine":  # q.g from matrix products of other shapes: rounding apart
        np.testing.assert_allclose(dist, by_search, rtol=0, atol=3e-7)
    else:  # |q - g| of the same pair, computed the same way
        np.testing.assert_array_equal(dist, by_search)


def test_min_distances_without_queries_or_items():
    index = ExactIndex(3)
    dist, ids = index.min_distances(np.zeros((2, 3)))
    assert dist.shape == (0,) and ids.shape == (0,)
    index.add(np.eye(3), np.array([4, 5, 6]))
    dist, ids = index.min_distances(np.zeros((0, 3)))
    assert np.isinf(dist).all() and ids.tolist() == [4, 5, 6]


@pytest.fixture
def shop(tmp_path):
    """40 labels of one or more items on clusters, 8-d, 620 items in all."""
    rng = np.random.default_rng(7)
    x = clustered(620, 8, centers=12, noise=0.3, seed=2)
    cuts = [0, *sorted(rng.choice(np.arange(1, 620), 39, replace=False).tolist()), 620]
    with Gallery.open(tmp_path / "g.db", None, embedding_dim=8, distance="euclidean") as g:
        for c in range(40):
            g.enroll_embeddings(f"p{c}", x[cuts[c] : cuts[c + 1]])
        sync_index(g)  # as recommend does first
        yield g


@pytest.mark.parametrize("per_label", [False, True])
@pytest.mark.parametrize("n_liked", [1, 5, 60, 300])
@pytest.mark.parametrize("k", [1, 7, 50, 1000])
def test_scan_ranks_as_the_search_path_and_a_naive_loop(shop, n_liked, k, per_label):
    """Same items, same order, same distances as the search path; the naive ranking: each
    unliked item at its closest liked item by (distance, id), one per label if asked."""
    items = shop.items()
    rng = np.random.default_rng(n_liked * 1000 + k)
    liked = sorted(rng.choice(items.ids, n_liked, replace=False).tolist())
    if n_liked == 60:  # a whole label liked, as `--like LABEL` does
        liked = sorted(set(liked) | set(shop.items("p3").ids.tolist()))
    vectors = shop._store.embeddings_of(liked)
    scan = nearest_by_scan(shop, vectors, liked, k, per_label)
    search = nearest_by_search(shop, vectors, liked, k, per_label)
    assert scan == search
    d = naive_min(items.embeddings, vectors, "euclidean")
    skip = set(liked)
    labels = {i: lab for i, lab in zip(items.ids.tolist(), items.labels)}
    skip_labels = {labels[i] for i in liked} if per_label else set()
    ranked = sorted((float(di), i) for i, di in zip(items.ids.tolist(), d) if i not in skip)
    expected: list[tuple[int, float]] = []
    for di, i in ranked:
        if labels[i] not in skip_labels:
            expected.append((i, di))
            skip_labels |= {labels[i]} if per_label else set()
    expected = expected[:k]
    assert [i for i, _ in scan] == [i for i, _ in expected]
    np.testing.assert_allclose([t[1] for t in scan], [t[1] for t in expected], 1e-5, 1e-5)
    assert not skip & {i for i, _ in scan}


def test_recommend_takes_the_scan_on_an_exact_index_and_likes_everything(shop, monkeypatch):
    """Gallery.recommend goes through the one pass (search is never called), and liking every
    item leaves nothing to recommend."""

    def no_search(q, k):
        raise AssertionError("recommend searched the exact index")

    monkeypatch.setattr(shop._index, "search", no_search)
    every = shop.items().ids.tolist()
    got = shop.recommend(every[:10], k=3)
    liked = every[:10]
    want = nearest_by_scan(shop, shop._store.embeddings_of(liked), liked, 3, False)
    assert [(m.item_id, m.distance) for m in got] == want
    assert shop.recommend(every, k=5) == [] and shop.recommend(every, k=5, per_label=True) == []


def test_min_distances_of_a_cohort_normalised_distance_are_the_searched_ones(monkeypatch):
    """A cohort-normalised distance (each stored item's cohort statistics kept at add time)
    gives each item the smallest value search reports for it, across gallery blocks."""
    import torch

    from siamkit.distances import CohortNormalized

    monkeypatch.setattr(exact, "_MIN_BUDGET", 200)
    cohort = CohortNormalized("euclidean", torch.from_numpy(clustered(200, 6, seed=4)), k=20)
    g, q = clustered(300, 6, seed=5), clustered(30, 6, seed=6)
    index = ExactIndex(6, cohort)
    index.add(g, np.arange(300))
    dist, ids = index.min_distances(q)
    res = index.search(q, 300)
    by_search = np.full(300, np.inf, dtype=np.float32)
    np.minimum.at(by_search, res.ids.ravel(), res.distances.ravel())
    # the raw distances' rounding depends on the matrix shapes, and normalising scales it up:
    # search itself gives an item values 4e-6 apart for a query alone and in a batch of 30
    np.testing.assert_allclose(dist, by_search, rtol=1e-5, atol=2e-5)
    assert ids.tolist() == list(range(300))


@pytest.mark.parametrize("index", ["faiss-flat", "lsh"])
def test_a_search_index_widens_per_label_past_a_label_found_through_a_farther_liked_item(
    tmp_path, index
):
    """The search path's own widening (``nearest_labels``), which the exact index no longer
    takes: liked A sits in a crowd of one label, liked B far off beside 'q' (0.5 from B). The
    first k + L neighbours find crowd and q, but 'm' (0.3 from A, beyond A's crowd) ranks
    before q; stopping at k labels found answered q. The test of this in test_gallery.py runs
    on an exact index, which scans, so it passed with the widening broken."""
    if index.startswith("faiss"):
        pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    options = {"num_tables": 16, "num_bits": 1} if index == "lsh" else {}  # LSH: every bucket
    with Gallery.open(
        tmp_path / "g.db",
        None,
        embedding_dim=3,
        distance="euclidean",
        index=index,
        index_options=options,
    ) as g:
        (a,) = g.enroll_embeddings("a", np.zeros((1, 3), np.float32))
        (b,) = g.enroll_embeddings("b", np.array([[10.0, 0, 0]], np.float32))
        g.enroll_embeddings("crowd", rng.normal(0, 0.01, (30, 3)).astype(np.float32))
        g.enroll_embeddings("q", np.array([[10.5, 0, 0]], np.float32))
        g.enroll_embeddings("m", np.array([[0, 0, 0.3]], np.float32))
        items = g.items()
        got = g.recommend([a, b], k=2, per_label=True)
    d = naive_min(items.embeddings, items.embeddings[:2], "euclidean")
    best: dict[str, float] = {}
    for label, di in zip(items.labels, d.tolist()):
        if label not in ("a", "b"):
            best[label] = min(best.get(label, np.inf), di)
    assert [m.label for m in got] == sorted(best, key=best.__getitem__)[:2] == ["crowd", "m"]
    assert got[1].distance == pytest.approx(0.3, abs=1e-5)
