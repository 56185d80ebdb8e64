"""Sampled and listed pair distances: the blocks of a named distance run on one intra-op thread
(thousands of small multi-threaded ops waited on a loaded machine's scheduler: 238 s against
13 s for 300,000 pairs of 4,544-wide embeddings), and the values are those of a naive per-pair
loop, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.distances import FixedDistance, get_distance
from siamkit.distances import functional as F
from siamkit.evaluation.pairs import listed_pair_distances, pair_index, sampled_pair_distances


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def test_blocks_of_a_named_distance_run_on_one_thread_and_the_count_comes_back(two_threads):
    seen: list[int] = []

    def pairwise(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return F.pairwise_euclidean(x, y)

    dist = FixedDistance("euclidean", pairwise, F.euclidean_matrix, True)
    z = torch.randn(300, 64, generator=torch.Generator().manual_seed(0))
    sampled_pair_distances(z, torch.arange(300) % 3, dist, max_pairs=5_000)
    listed_pair_distances(z, [0, 1], [2, 3], [1, 0], dist)
    assert seen and set(seen) == {1}, f"pair blocks ran on {sorted(set(seen))} threads"
    assert torch.get_num_threads() == 2


def test_the_count_comes_back_when_a_block_raises(two_threads):
    def pairwise(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    dist = FixedDistance("euclidean", pairwise, F.euclidean_matrix, True)
    with pytest.raises(RuntimeError, match="boom"):
        listed_pair_distances(torch.randn(4, 8), [0], [1], [1], dist)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("dim", [8, 384, 4544])
def test_sampled_pairs_equal_a_naive_per_pair_loop_exactly(two_threads, name, dim):
    g = torch.Generator().manual_seed(dim)
    n, max_pairs, seed = 120, 700, 3
    z = torch.randn(n, dim, generator=g)
    y = torch.randint(0, 4, (n,), generator=g).numpy()
    pd = sampled_pair_distances(z, y, name, max_pairs=max_pairs, seed=seed)
    # the same draw, then each pair alone on the default threads
    flat = np.sort(np.random.default_rng(seed).choice(n * (n - 1) // 2, max_pairs, replace=False))
    i, j = pair_index(flat, n)
    dist = get_distance(name)
    naive = np.array([dist.pairwise(z[a : a + 1], z[b : b + 1]).item() for a, b in zip(i, j)])
    naive = naive.astype(np.float32)
    same = y[i] == y[j]
    assert pd.genuine.tobytes() == naive[same].tobytes()
    assert pd.impostor.tobytes() == naive[~same].tobytes()
