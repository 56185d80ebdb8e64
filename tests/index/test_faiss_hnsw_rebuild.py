"""FaissIndex's HNSW rebuild runs behind the removal that crosses a quarter removed: searches
stay right meanwhile and after, and what is added or removed meanwhile is kept."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from _index_helpers import clustered

from siamkit.index import ExactIndex, FaissIndex, load_index

pytest.importorskip("faiss")


def held_build(index: FaissIndex) -> tuple[threading.Event, threading.Event]:
    """Make the background build wait for ``release`` (``started`` once it runs); a rebuild
    under the lock (save, past half removed) is not held."""
    started, release = threading.Event(), threading.Event()
    build = index._build_hnsw

    def waiting(x, ids):
        if threading.current_thread().name == "siamkit-hnsw-rebuild":
            started.set()
            assert release.wait(30)
        return build(x, ids)

    index._build_hnsw = waiting  # type: ignore[method-assign]
    return started, release


def reference(x: np.ndarray, live: np.ndarray) -> ExactIndex:
    ref = ExactIndex(x.shape[1], "euclidean")
    ref.add(x[live], live)
    return ref


def test_the_removal_that_crosses_a_quarter_returns_before_the_rebuild_and_nothing_is_lost():
    x = clustered(600, 8, seed=11)
    index = FaissIndex(8, "hnsw", ef_search=600)  # a beam over all: exact on 600 items
    index.add(x[:500], np.arange(500))
    started, release = held_build(index)
    assert index.remove(np.arange(0, 140)) == 140  # > 500 // 4: the rebuild starts
    assert started.wait(10)  # it runs, held, while the removal has returned
    assert not index.wait_rebuilt(0)
    # meanwhile: searches are right, and more is added and removed
    live = np.arange(140, 500)
    np.testing.assert_array_equal(index.search(x, 5).ids, reference(x, live).search(x, 5).ids)
    index.add(x[500:], np.arange(500, 600))
    assert index.remove(np.r_[140:160, 550:560]) == 30
    live = np.r_[160:550, 560:600]
    assert len(index) == live.size
    release.set()
    assert index.wait_rebuilt(30)
    assert index._removed == set(range(140, 160)) | set(range(550, 560))  # only meanwhile's
    assert index._index.ntotal == live.size + 30
    assert len(index) == live.size
    got, want = index.search(x, 5), reference(x, live).search(x, 5)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.distances, want.distances, rtol=1e-5, atol=1e-5)


def test_a_save_while_the_rebuild_runs_takes_over_and_the_late_graph_is_dropped(tmp_path):
    x = clustered(400, 8, seed=12)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    started, release = held_build(index)
    index.remove(np.arange(120))
    assert started.wait(10)
    index.save(tmp_path / "g")  # rebuilds under the lock, without the removed items
    index.remove(np.arange(120, 130))  # a tombstone of the saved graph
    release.set()
    assert index.wait_rebuilt(30)
    live = np.arange(130, 400)
    assert len(index) == live.size and index._removed == set(range(120, 130))
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)
    again = load_index(tmp_path / "g")
    assert len(again) == 280
    again_ids = again.search(x, 3).ids
    np.testing.assert_array_equal(again_ids, reference(x, np.arange(120, 400)).search(x, 3).ids)


def test_past_half_removed_the_removal_rebuilds_before_it_returns():
    x = clustered(400, 8, seed=13)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    started, release = held_build(index)
    index.remove(np.arange(120))  # a quarter: behind
    assert started.wait(10)
    index.remove(np.arange(120, 260))  # past half of the graph: now, under the lock
    assert index._removed == set() and index._index.ntotal == 140
    release.set()
    assert index.wait_rebuilt(30)
    assert index._index.ntotal == 140 and len(index) == 140  # the late graph was dropped
    live = np.arange(260, 400)
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)
