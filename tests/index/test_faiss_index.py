"""FaissIndex: same answers as ExactIndex for flat, high recall for IVF/HNSW, ids and removal."""

from __future__ import annotations

import numpy as np
import pytest
from _index_helpers import clustered

from siamkit.index import ExactIndex, FaissIndex, create_index, load_index
from siamkit.index.faiss_index import FAISS_KINDS

pytest.importorskip("faiss")


def exact(x, ids, q, k, name):
    index = ExactIndex(x.shape[1], name)
    index.add(x, ids)
    return index.search(q, k)


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean", "cosine"])
def test_flat_equals_exact_with_converted_distances(name):
    x, q = clustered(300, 16, seed=1, noise=0.5), clustered(10, 16, seed=2, noise=0.5)
    ids = np.arange(300) * 7
    index = create_index("faiss-flat", 16, name)
    index.add(x, ids)
    got, ref = index.search(q, 5), exact(x, ids, q, 5, name)
    np.testing.assert_array_equal(got.ids, ref.ids)
    np.testing.assert_allclose(got.distances, ref.distances, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_approximate_kinds_have_high_recall(kind, name):
    x = clustered(3000, 16, centers=30, noise=0.3, seed=3)
    q = x[::60] + 0.05 * np.random.default_rng(4).standard_normal((50, 16)).astype(np.float32)
    index = FaissIndex(16, kind, name, train_size=1000, nprobe=8)
    index.add(x[:500], np.arange(500))  # IVF: below train_size, answered exactly
    assert index.is_trained == (kind != "ivf")
    index.add(x[500:], np.arange(500, 3000))
    assert index.is_trained and len(index) == 3000
    got, ref = index.search(q, 1), exact(x, np.arange(3000), q, 1, name)
    assert (got.ids[:, 0] == ref.ids[:, 0]).mean() >= 0.95
    hit = got.ids[:, 0] == ref.ids[:, 0]
    np.testing.assert_allclose(got.distances[hit], ref.distances[hit], rtol=1e-3, atol=2e-4)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_remove_hides_items_and_survives_save_load(kind, tmp_path):
    x = clustered(1200, 8, seed=5)
    index = FaissIndex(8, kind, "euclidean", train_size=1000)
    index.add(x, np.arange(1200))
    assert index.remove([3, 4, 5, 10_000]) == 3  # few: HNSW keeps tombstones
    assert len(index) == 1197
    res = index.search(x[3:6], 3)
    assert not set(res.ids.ravel().tolist()) & {3, 4, 5}
    index.save(tmp_path / kind)
    again = load_index(tmp_path / kind)
    assert len(again) == 1197
    np.testing.assert_array_equal(again.search(x[:20], 3).ids, index.search(x[:20], 3).ids)


def test_hnsw_rebuilds_after_many_removals():
    x = clustered(400, 8, seed=6)
    index = FaissIndex(8, "hnsw")
    index.add(x, np.arange(400))
    assert index.remove(np.arange(0, 300)) == 300
    assert len(index) == 100
    res = index.search(x[:300], 1)
    assert (res.ids[:, 0] >= 300).all()


def test_padding_and_unsupported_distance():
    index = FaissIndex(4, "hnsw")
    index.add(np.eye(4), np.arange(4))
    res = index.search(np.eye(4)[:1], 6)
    assert res.ids[0, 4:].tolist() == [-1, -1] and np.isinf(res.distances[0, 4:]).all()
    with pytest.raises(ValueError, match="index='exact'"):
        FaissIndex(4, "flat", "manhattan")
    with pytest.raises(ValueError, match="kind"):
        FaissIndex(4, "pq")


def test_cosine_distance_of_a_stored_vector_to_itself_is_never_below_zero():
    x = np.random.default_rng(0).standard_normal((500, 384)).astype(np.float32)
    index = create_index("faiss-flat", 384, "cosine")
    index.add(x, np.arange(500))
    got = index.search(x, 1)
    assert (got.ids[:, 0] == np.arange(500)).all()
    assert (got.distances[:, 0] >= 0).all() and got.distances.max() < 1e-6  # was -1e-7
    assert (index.search(-x[:50], 500).distances <= 2).all()


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
@pytest.mark.parametrize("trained", [False, True])
def test_an_id_held_is_refused_and_a_removed_one_can_come_back(kind, trained, tmp_path):
    # as ExactIndex and LSHIndex: FAISS kept a second vector under an id it held (a search
    # gave the id twice), and HNSW's tombstone of a removed id hid the vector added under it
    x = clustered(120, 4, seed=7)
    index = FaissIndex(4, kind, "euclidean", train_size=100 if trained else 10_000)
    index.add(x[:110], np.arange(110))
    assert index.is_trained == (trained or kind != "ivf")
    with pytest.raises(ValueError, match="ids already in the index: 5"):
        index.add(x[110:112], np.array([200, 5]))
    with pytest.raises(ValueError, match="ids already in the index: 109"):
        index.add(x[110:111], np.array([109]))  # the largest held: the fast path's bound
    assert len(index) == 110
    assert index.remove([7]) == 1
    index.add(x[115:116], np.array([7]))  # a vector away from the removed one
    assert len(index) == 110
    ref = ExactIndex(4, "euclidean")
    ref.add(np.concatenate([x[:7], x[8:110], x[115:116]]), np.r_[0:7, 8:110, 7])
    got, want = index.search(x[115:116], 3), ref.search(x[115:116], 3)
    assert got.ids[0, 0] == want.ids[0, 0] == 7
    assert all(len(set(row.tolist())) == 10 for row in index.search(x[:30], 10).ids)
    index.save(tmp_path / "saved")
    again = load_index(tmp_path / "saved")  # the ids it holds are known after a load too
    with pytest.raises(ValueError, match="ids already in the index: 7"):
        again.add(x[:1], np.array([7]))
    with pytest.raises(ValueError, match="ids already in the index: 109"):
        again.add(x[:1], np.array([109]))


def test_no_search_gives_one_id_twice():
    x = clustered(50, 4, seed=8)
    for kind in FAISS_KINDS:
        index = FaissIndex(4, kind, "cosine")
        index.add(x[:40], np.arange(40))
        with pytest.raises(ValueError, match="already"):
            index.add(x[40:], np.arange(30, 40))
        ids = index.search(x, 40).ids
        assert all(len(set(row.tolist())) == 40 for row in ids)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_removing_a_label_sized_batch_answers_as_a_numpy_search_of_what_is_left(kind, monkeypatch):
    # The flat index removed with an IDSelectorArray, which scans the removed ids for every
    # stored one: 4.4 s for 25,000 of 100,000 items (hand-timed). A flat scan needs the hashed
    # IDSelectorBatch; only a trained IVF index (its hashtable direct map) looks ids up one
    # by one, where the array is right. The staging flat index of an untrained IVF is a flat one.
    import faiss

    rng = np.random.default_rng(11)
    n, d = 3000, 16
    x = rng.standard_normal((n, d)).astype(np.float32)
    ids = rng.permutation(np.arange(10, 10 + 2 * n, 2)).astype(np.int64)
    index = FaissIndex(d, kind, "euclidean", train_size=10 * n, nprobe=4)  # IVF stays flat
    index.add(x, ids)
    drop = ids[rng.random(n) < 0.3]
    asked = np.concatenate([drop, drop[:50], [1, 3, 99_999]])  # repeats and unknown ids too

    def linear(*args, **kwargs):
        raise AssertionError("a flat index removed through a linear IDSelectorArray")

    monkeypatch.setattr(faiss, "IDSelectorArray", linear)
    assert index.remove(asked) == drop.size
    monkeypatch.undo()
    assert len(index) == n - drop.size
    keep = ~np.isin(ids, drop)
    q = rng.standard_normal((25, d)).astype(np.float32)
    got = index.search(q, 7)
    sq = ((q[:, None, :] - x[keep][None]) ** 2).sum(-1)  # brute force over what is left
    order = np.argsort(sq, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(got.ids, ids[keep][order])
    ref = np.sqrt(np.take_along_axis(sq, order, axis=1))
    np.testing.assert_allclose(got.distances, ref, rtol=1e-4, atol=2e-4)


def test_a_trained_ivf_index_still_removes_by_id():
    # its hashtable direct map takes no IDSelectorBatch: the ids must all go, the rest stay
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2000, 16)).astype(np.float32)
    ids = np.arange(2000, dtype=np.int64) * 3
    index = FaissIndex(16, "ivf", "euclidean", train_size=1000)
    index.add(x, ids)
    assert index.is_trained
    drop = ids[::4]
    assert index.remove(np.concatenate([drop, [1]])) == drop.size
    assert len(index) == 2000 - drop.size
    got = index.search(x[1::4], 1)  # every kept vector finds itself, none a removed one
    np.testing.assert_array_equal(got.ids[:, 0], ids[1::4])
    assert not np.isin(index.search(x[::4], 5).ids, drop).any()
