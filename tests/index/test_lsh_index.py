"""LSHIndex: exact re-ranked distances, recall that grows with probing, the hashing itself."""

from __future__ import annotations

import numpy as np
import pytest
from _index_helpers import clustered

from siamkit.index import ExactIndex, LSHIndex, load_index
from siamkit.index.lsh import hyperplane_codes


def test_codes_are_the_sides_of_the_hyperplanes():
    rng = np.random.default_rng(0)
    x, planes = rng.standard_normal((5, 6)), rng.standard_normal((2, 3, 6))
    codes = hyperplane_codes(x, planes)
    for n in range(5):
        for t in range(2):
            bits = [int(np.dot(x[n], planes[t, b]) > 0) for b in range(3)]
            assert codes[n, t] == sum(bit << b for b, bit in enumerate(bits))


def test_returned_distances_are_exact_and_recall_is_useful():
    x = clustered(2000, 32, centers=40, noise=0.2, seed=1)
    q = x[::40] + 0.02 * np.random.default_rng(2).standard_normal((50, 32)).astype(np.float32)
    ref_index = ExactIndex(32, "cosine")
    ref_index.add(x, np.arange(2000))
    ref = ref_index.search(q, 1)
    lsh = LSHIndex(32, "cosine", num_tables=8, num_bits=10)
    lsh.add(x, np.arange(2000))
    got = lsh.search(q, 5)
    assert (got.ids[:, 0] == ref.ids[:, 0]).mean() >= 0.9
    cos = 1 - (q @ x.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(x, axis=1))
    found = got.ids >= 0
    np.testing.assert_allclose(
        got.distances[found], cos[np.nonzero(found)[0], got.ids[found]], atol=1e-5
    )
    assert (np.diff(got.distances, axis=1) >= 0).all()


def test_probing_neighbouring_buckets_adds_candidates():
    x = clustered(1000, 16, seed=3)
    plain = LSHIndex(16, num_tables=2, num_bits=12, probe_radius=0)
    probed = LSHIndex(16, num_tables=2, num_bits=12, probe_radius=1)
    for index in (plain, probed):
        index.add(x, np.arange(1000))
    c0, c1 = plain.candidates(x[:20]), probed.candidates(x[:20])
    assert all(set(a) <= set(b) for a, b in zip(c0, c1))
    assert sum(map(len, c1)) > sum(map(len, c0))


def test_remove_and_save_load(tmp_path):
    x = clustered(300, 8, seed=4)
    index = LSHIndex(8, "euclidean", num_tables=4, num_bits=6, seed=7)
    index.add(x, np.arange(300))
    assert index.remove([0, 1, 500]) == 2
    assert 0 not in index.search(x[:1], 5).ids
    index.save(tmp_path / "lsh")
    again = load_index(tmp_path / "lsh")
    assert isinstance(again, LSHIndex) and len(again) == 298
    np.testing.assert_array_equal(again.search(x[:10], 3).ids, index.search(x[:10], 3).ids)


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="num_bits"):
        LSHIndex(4, num_bits=63)
