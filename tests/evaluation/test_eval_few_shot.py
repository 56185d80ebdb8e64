"""N-way K-shot episodes: the sampler's guarantees and accuracies against a naive loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import siamkit.evaluation._common as common
import siamkit.evaluation.few_shot as few_shot_module
from siamkit.distances import get_distance
from siamkit.evaluation import episode_accuracies, few_shot_episodes, sample_episodes


def test_episodes_are_disjoint_same_class_and_distinct_classes():
    y = np.repeat(np.arange(7), [20, 25, 30, 16, 40, 18, 3])  # class 6 is too small
    ep = sample_episodes(y, n_way=5, k_shot=3, n_query=13, episodes=200, seed=0)
    assert ep.support.shape == (200, 5, 3) and ep.query.shape == (200, 5, 13)
    for e in range(200):
        cls = ep.classes[e].tolist()
        assert len(set(cls)) == 5 and 6 not in cls
        for w, c in enumerate(cls):
            items = torch.cat([ep.support[e, w], ep.query[e, w]]).tolist()
            assert len(set(items)) == 16  # support and query disjoint, no repeats
            assert (y[items] == c).all()


def test_sampling_is_seeded_and_roughly_uniform(monkeypatch):
    y = np.repeat(np.arange(6), 30)
    a = sample_episodes(y, 3, 1, 5, episodes=600, seed=4)
    b = sample_episodes(y, 3, 1, 5, episodes=600, seed=4)
    c = sample_episodes(y, 3, 1, 5, episodes=600, seed=5)
    assert torch.equal(a.query, b.query) and not torch.equal(a.query, c.query)
    class_freq = np.bincount(a.classes.flatten().numpy(), minlength=6) / a.classes.numel()
    np.testing.assert_allclose(class_freq, 1 / 6, atol=0.03)
    item_freq = np.bincount(a.support.flatten().numpy(), minlength=180)
    assert item_freq.min() > 0  # every item gets drawn as support sometime
    monkeypatch.setattr(few_shot_module, "BLOCK_ELEMENTS", 1000)  # many small chunks: still valid
    small = sample_episodes(y, 3, 1, 5, episodes=50, seed=4)
    assert (torch.from_numpy(y)[small.support] == small.classes[..., None]).all()


def _naive_accuracies(z, ep, name):
    dist = get_distance(name)
    accs = []
    for e in range(ep.support.shape[0]):
        protos = torch.stack([z[ep.support[e, w]].mean(0) for w in range(ep.support.shape[1])])
        correct = 0
        for w in range(ep.query.shape[1]):
            for q in ep.query[e, w].tolist():
                d = [
                    float(dist.pairwise(z[q : q + 1], protos[p : p + 1])[0])
                    for p in range(len(protos))
                ]
                correct += int(np.argmin(d) == w)
        accs.append(correct / ep.query[e].numel())
    return np.array(accs)


@pytest.mark.parametrize("name", ["euclidean", "cosine", "manhattan", "sqeuclidean"])
def test_accuracies_match_a_naive_loop(make_clusters, name):
    z, y = make_clusters(n_classes=5, per_class=30, dim=8, spread=0.6)
    ep = sample_episodes(y, n_way=4, k_shot=2, n_query=5, episodes=40, seed=1)
    fast = episode_accuracies(z, ep, name)
    np.testing.assert_allclose(fast, _naive_accuracies(z, ep, name))
    assert 0.3 < fast.mean() < 1.0  # overlapping clusters: neither trivial nor chance


class _WrappedDistance:
    """A Distance that is not a FixedDistance, to take the generic pairwise path."""

    def __init__(self, name):
        self._d = get_distance(name)
        self.name = "wrapped"

    def pairwise(self, x, y):
        return self._d.pairwise(x, y)

    def matrix(self, x, y):
        return self._d.matrix(x, y)


def test_generic_distance_path_matches_fast_path(make_clusters, monkeypatch):
    z, y = make_clusters(n_classes=6, per_class=25, dim=8, spread=0.5)
    monkeypatch.setattr(few_shot_module, "BLOCK_ELEMENTS", 5000)  # several episode chunks
    a = few_shot_episodes(z, y, 5, 1, n_query=4, episodes=60, distance="cosine")
    b = few_shot_episodes(z, y, 5, 1, n_query=4, episodes=60, distance=_WrappedDistance("cosine"))
    np.testing.assert_allclose(a.episode_accuracies, b.episode_accuracies)


def test_report_and_confidence_interval(digits):
    z, y = digits
    r = few_shot_episodes(z, y, n_way=5, k_shot=5, episodes=300, seed=0)
    acc = r.episode_accuracies
    assert r.accuracy == pytest.approx(acc.mean())
    assert r.ci95 == pytest.approx(1.96 * acc.std() / np.sqrt(300))
    assert r.accuracy > 0.85 and r.key == "5way5shot"  # raw digit pixels separate well
    one = few_shot_episodes(z, y, n_way=5, k_shot=1, episodes=300, seed=0)
    assert one.accuracy < r.accuracy  # more shots help
    assert set(r.to_dict()) >= {"accuracy", "ci95", "n_way", "k_shot", "episodes"}


def test_labels_may_be_strings(make_clusters):
    z, y = make_clusters()
    names = np.array(["ant", "bee", "cat", "dog"])[y]
    a = few_shot_episodes(z, names, 3, 1, n_query=5, episodes=30)
    b = few_shot_episodes(z, y, 3, 1, n_query=5, episodes=30)
    assert a.accuracy == b.accuracy


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_way": 5, "k_shot": 1}, "classes"),
        ({"n_way": 3, "k_shot": 0}, "k_shot"),
        ({"n_way": 3, "k_shot": 1, "n_query": 60}, "items"),
        ({"n_way": 3, "k_shot": 1, "episodes": 0}, "episodes"),
    ],
)
def test_impossible_settings_raise(make_clusters, kw, match):
    z, y = make_clusters()
    with pytest.raises(ValueError, match=match):
        few_shot_episodes(z, y, **kw)


def test_thousand_episodes_on_4000_items_are_fast():
    import time

    y = np.repeat(np.arange(4), 1000)
    z = torch.nn.functional.normalize(torch.randn(4000, 64) + torch.randn(4, 64)[y], dim=1)
    start = time.perf_counter()
    few_shot_episodes(z, y, 4, 5, episodes=1000)
    assert time.perf_counter() - start < 5  # ~0.3 s on an idle core; generous for shared CI
    assert common.BLOCK_ELEMENTS > 0


def test_classes_too_small_to_draw_are_said():
    """A class of fewer than k_shot + n_query items is never drawn: the report counts the
    classes episodes drew from (to_dict, the report's table), not leaving it unsaid."""
    from siamkit.evaluation import evaluate_embeddings
    from siamkit.evaluation.report import metrics_tables

    sizes = [30, 20, 16, 15, 40]  # class 3 has 15 items: one short of 1 shot + 15 queries
    y = np.repeat(np.arange(5), sizes)
    z = torch.randn(len(y), 4) + 3 * torch.randn(5, 4)[y]
    rep = few_shot_episodes(z, y, 3, 1, n_query=15, episodes=50)
    assert rep.classes_drawn == sum(n >= 16 for n in sizes) == 4
    assert rep.to_dict()["classes_drawn"] == 4
    drew = set(sample_episodes(y, 3, 1, 15, episodes=50).classes.flatten().tolist())
    assert drew == {0, 1, 2, 4}  # the 4 counted are the 4 drawn
    assert few_shot_episodes(z, y, 3, 1, n_query=14, episodes=5).classes_drawn == 5

    full = evaluate_embeddings(z, y, few_shot=((3, 1),), episodes=50, n_query=15)
    table = metrics_tables(full)
    assert "drawn from 4 of 5 classes: 1 has fewer than 16 items" in table
    every = evaluate_embeddings(z, y, few_shot=((3, 1),), episodes=5, n_query=14)
    assert "drawn from" not in metrics_tables(every)


class _NanEveryThirdPair:
    """Euclidean, but NaN for every third pair (a learned metric gone NaN on finite embeddings)."""

    name = "nan-every-third"

    def pairwise(self, x, y):
        d = (x - y).norm(dim=1)
        d[::3] = float("nan")
        return d

    def matrix(self, x, y):
        return torch.cdist(x, y)


def test_nan_distances_are_refused_not_counted(make_clusters):
    """argmin took a NaN for the nearest prototype: 0.25 accuracy where it is 1.0."""
    z, y = make_clusters(n_classes=4, per_class=20, dim=4, spread=8.0)
    assert few_shot_episodes(z, y, 4, 1, n_query=5, episodes=20).accuracy == 1.0
    with pytest.raises(ValueError, match=r"^the distance gave NaN between queries and prototypes"):
        few_shot_episodes(z, y, 4, 1, n_query=5, episodes=20, distance=_NanEveryThirdPair())
