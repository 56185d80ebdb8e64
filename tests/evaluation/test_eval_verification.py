"""Pair enumeration and the verification report against naive loops and scikit-learn."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import siamkit.evaluation._common as common
import siamkit.evaluation.pairs as pairs_module
from siamkit.distances import MLPMetric, get_distance
from siamkit.evaluation import (
    all_pair_distances,
    listed_pair_distances,
    sampled_pair_distances,
    verification_from_embeddings,
    verification_report,
)
from siamkit.evaluation.pairs import n_pairs, pair_index


def _naive_pairs(z, y, name):
    dist = get_distance(name)
    g, m = [], []
    for i, j in itertools.combinations(range(len(y)), 2):
        d = float(dist.pairwise(z[i : i + 1], z[j : j + 1])[0])
        (g if y[i] == y[j] else m).append(d)
    return np.array(g), np.array(m)


@pytest.mark.parametrize("name", ["euclidean", "cosine", "manhattan", "sqeuclidean"])
def test_all_pairs_match_a_naive_loop_across_blocks(monkeypatch, make_clusters, name):
    z, y = make_clusters(n_classes=3, per_class=12, dim=5)
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 50)  # force many row blocks
    pd = all_pair_distances(z, y, name)
    g, m = _naive_pairs(z, y, name)
    assert pd.genuine.size == g.size and pd.impostor.size == m.size
    np.testing.assert_allclose(pd.genuine, g, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pd.impostor, m, rtol=1e-9, atol=1e-9)


def test_pair_index_inverts_row_major_upper_triangle():
    n = 9
    expected = list(itertools.combinations(range(n), 2))
    i, j = pair_index(np.arange(n_pairs(n)), n)
    assert list(zip(i.tolist(), j.tolist())) == expected


def test_sampled_pairs_are_a_seeded_subset(make_clusters):
    z, y = make_clusters(n_classes=3, per_class=20, dim=4)
    full = all_pair_distances(z, y)
    a = sampled_pair_distances(z, y, max_pairs=500, seed=1)
    b = sampled_pair_distances(z, y, max_pairs=500, seed=1)
    c = sampled_pair_distances(z, y, max_pairs=500, seed=2)
    assert a.genuine.size + a.impostor.size == 500
    np.testing.assert_array_equal(a.genuine, b.genuine)
    assert not np.array_equal(np.r_[a.genuine, a.impostor], np.r_[c.genuine, c.impostor])
    for part, whole in ((a.genuine, full.genuine), (a.impostor, full.impostor)):
        gap = np.abs(part[:, None] - whole[None]).min(axis=1)  # matrix vs pairwise rounding
        assert gap.max() < 1e-9
    assert np.unique(np.r_[a.genuine, a.impostor]).size == 500  # without replacement
    everything = sampled_pair_distances(z, y, max_pairs=10**6)  # more than exist: all pairs
    np.testing.assert_array_equal(everything.genuine, full.genuine)


class _Counting:
    """A distance that records how many pairs each ``pairwise`` call scores."""

    def __init__(self, dist):
        self.dist, self.rows, self.name = dist, [], "counting"

    def pairwise(self, a, b):
        self.rows.append(a.shape[0])
        return self.dist.pairwise(a, b)

    def matrix(self, a, b):
        return self.dist.matrix(a, b)


@pytest.mark.parametrize("name", ["euclidean", "cosine", "manhattan", "sqeuclidean", "mlp"])
def test_sampled_pairs_of_a_wide_embedding_in_small_blocks_keep_every_distance(name):
    """A 4,544-wide float32 embedding (the SSL taps') scored in blocks of PAIR_BLOCK_ELEMENTS
    values a side gives each pair the very distance the 4M-value blocks gave before, and no
    block gathers more than that (the large blocks ran ~3x slower)."""
    gen = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(300, 4544, generator=gen), dim=1)
    y = np.arange(300) % 4
    torch.manual_seed(0)
    dist = _Counting(MLPMetric(4544, hidden=8) if name == "mlp" else get_distance(name))
    pd = sampled_pair_distances(z, y, dist, max_pairs=3000, seed=0)
    flat = np.sort(np.random.default_rng(0).choice(n_pairs(300), size=3000, replace=False))
    i, j = pair_index(flat, 300)
    step = 4_000_000 // 4544  # the earlier blocks: BLOCK_ELEMENTS values a side
    with torch.no_grad():
        old = np.concatenate(
            [
                dist.dist.pairwise(z[i[s : s + step]], z[j[s : s + step]]).numpy()
                for s in range(0, i.size, step)
            ]
        )
    same = y[i] == y[j]
    np.testing.assert_array_equal(pd.genuine, old[same])
    np.testing.assert_array_equal(pd.impostor, old[~same])
    assert sum(dist.rows) == 3000
    assert max(dist.rows) * 4544 <= pairs_module.PAIR_BLOCK_ELEMENTS < 4_000_000
    listed = listed_pair_distances(z, i, j, same, dist)  # a list of pairs takes the same blocks
    np.testing.assert_array_equal(listed.genuine, old[same])
    np.testing.assert_array_equal(listed.impostor, old[~same])


def test_report_on_digits_matches_sklearn(digits):
    z, y = digits
    z, y = z[:600], y[:600]
    rep = verification_from_embeddings(z, y, "euclidean")
    d = torch.cdist(z.double(), z.double()).numpy()
    iu = np.triu_indices(len(y), 1)
    same = (y[:, None] == y[None])[iu]
    assert rep.n_genuine == same.sum() and rep.n_impostor == (~same).sum()
    assert rep.roc_auc == pytest.approx(roc_auc_score(same, -d[iu]), abs=1e-5)
    assert 0.0 < rep.eer < 0.5 and rep.roc_auc > 0.8
    assert 0 <= rep.tar_at_far[1e-3] <= rep.tar_at_far[1e-2] <= 1
    accepted = d[iu] <= rep.eer_threshold
    far, frr = accepted[~same].mean(), 1 - accepted[same].mean()
    assert far == pytest.approx(rep.eer, abs=0.01) and frr == pytest.approx(rep.eer, abs=0.01)


def test_distance_object_and_name_agree(make_clusters):
    z, y = make_clusters()
    a = verification_from_embeddings(z, y, "cosine")
    b = verification_from_embeddings(z, y, get_distance("cosine"))
    assert a.roc_auc == b.roc_auc and a.eer == b.eer


def test_to_dict_is_json_with_string_far_keys(make_clusters):
    z, y = make_clusters()
    rep = verification_from_embeddings(z, y, fars=(1e-2, 1e-3))
    d = json.loads(json.dumps(rep.to_dict()))
    assert set(d) >= {"roc_auc", "eer", "threshold", "tar_at_far", "n_genuine", "n_impostor"}
    assert set(d["tar_at_far"]) == {"0.01", "0.001"}
    assert d["threshold"] == rep.eer_threshold
    assert "curve" not in d and "histogram" not in d


def test_histogram_counts_every_pair():
    g, m = np.array([0.1, 0.2, 0.2, 0.5]), np.array([0.4, 0.9, 1.0])
    rep = verification_report(g, m)
    assert rep.histogram.genuine.sum() == 4 and rep.histogram.impostor.sum() == 3
    assert rep.histogram.edges[0] == 0.1 and rep.histogram.edges[-1] == 1.0


@pytest.mark.parametrize(
    ("z", "y", "match"),
    [
        (torch.randn(5, 3), [0, 1, 2, 3, 4], "genuine"),
        (torch.randn(5, 3), [0, 0, 0, 0, 0], "impostor"),
        (torch.randn(5, 3), [0, 1], "labels"),
        (torch.randn(5), [0] * 5, "2-D"),
        (torch.full((3, 2), float("nan")), [0, 0, 1], "NaN"),
    ],
)
def test_bad_inputs_name_the_problem(z, y, match):
    with pytest.raises(ValueError, match=match):
        verification_from_embeddings(z, y)


@pytest.mark.slow
def test_all_pairs_of_4000_items_stay_fast():
    import time

    y = np.repeat(np.arange(4), 1000)
    z = torch.nn.functional.normalize(torch.randn(4000, 64) + torch.randn(4, 64)[y], dim=1)
    start = time.perf_counter()
    rep = verification_from_embeddings(z, y)
    assert rep.n_genuine + rep.n_impostor == n_pairs(4000)
    assert time.perf_counter() - start < 20


class _NanForSomePairs:
    """Euclidean, but NaN for the pairs of the last item (a learned metric gone NaN)."""

    name = "nan-for-some"

    def matrix(self, x, y):
        d = torch.cdist(x, y)
        d[:, -1:] = float("nan")
        return d

    def pairwise(self, x, y):
        return (x - y).norm(dim=1)


def test_nan_distances_of_finite_embeddings_blame_the_distance_too(make_clusters):
    """The embeddings passed their finite check: a sentence saying 'check the embeddings' alone
    sent the user to the wrong place."""
    z, y = make_clusters(n_classes=3, per_class=6, dim=3)
    with pytest.raises(ValueError, match=r"NaN or inf; check the embeddings and the distance"):
        verification_from_embeddings(z, y, _NanForSomePairs())
