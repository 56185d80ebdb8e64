"""N-way K-shot on many classes with few items each (Omniglot's shape), against a naive episode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.evaluation import episode_accuracies, sample_episodes
from siamkit.evaluation.few_shot import max_queries
from siamkit.experiment.protocol import evaluate_protocol, protocol_settings
from siamkit.training.config import EvalConfig
from siamkit.training.config_classes import resolved_ways

N_CLASSES = 300


@pytest.fixture(scope="module")
def many() -> tuple[np.ndarray, torch.Tensor]:
    """300 classes of 20 items, but every 7th class has only 12 (too small for 5-shot + 15)."""
    counts = np.where(np.arange(N_CLASSES) % 7 == 0, 12, 20)
    y = np.repeat(np.arange(N_CLASSES), counts)
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(N_CLASSES, 16, generator=gen)
    z = centers[torch.from_numpy(y)] + 0.9 * torch.randn(len(y), 16, generator=gen)
    return y, z


def _naive_episode_accuracy(
    z: torch.Tensor, support: list[list[int]], query: list[list[int]]
) -> float:
    """One episode by hand: prototypes as Python means, each query to the nearest one."""
    zz = z.double().numpy()
    protos = [sum(zz[i] for i in s) / len(s) for s in support]
    hits = total = 0
    for true_way, items in enumerate(query):
        for q in items:
            d = [float(np.sqrt(((zz[q] - p) ** 2).sum())) for p in protos]
            hits += int(np.argmin(d) == true_way)
            total += 1
    return hits / total


@pytest.mark.parametrize(("n_way", "k_shot"), [(20, 1), (5, 5), (20, 5)])
def test_episodes_on_hundreds_of_classes_match_a_naive_episode(many, n_way, k_shot) -> None:
    y, z = many
    ep = sample_episodes(y, n_way, k_shot, n_query=15, episodes=40, seed=3)
    small = {c for c in range(N_CLASSES) if c % 7 == 0}
    acc = episode_accuracies(z, ep, "euclidean")
    for e in range(40):
        cls = ep.classes[e].tolist()
        assert len(set(cls)) == n_way
        if k_shot == 5:  # 5 + 15 = 20 items: the 12-item classes can never be drawn
            assert not small & set(cls)
        sup = ep.support[e].tolist()
        qry = ep.query[e].tolist()
        seen: set[int] = set()
        for w, c in enumerate(cls):
            items = sup[w] + qry[w]
            assert (y[items] == c).all() and len(set(items)) == k_shot + 15
            seen |= set(items)
        assert len(seen) == n_way * (k_shot + 15)
        assert acc[e] == pytest.approx(_naive_episode_accuracy(z, sup, qry))


def test_every_eligible_class_is_drawn_about_equally_often(many) -> None:
    y, _ = many
    ep = sample_episodes(y, 20, 1, n_query=15, episodes=3000, seed=0)
    counts = np.bincount(ep.classes.flatten().numpy(), minlength=N_CLASSES)
    # 12-item classes are eligible for 1 + 11 queries only: with 15 queries none of them
    eligible = np.array([c % 7 != 0 for c in range(N_CLASSES)])
    assert counts[~eligible].sum() == 0
    expected = 3000 * 20 / eligible.sum()  # ~233 per class
    assert np.abs(counts[eligible] - expected).max() < 6 * np.sqrt(expected)


def test_max_queries_against_a_naive_count(many) -> None:
    y, _ = many
    for n_way, k in [(5, 1), (20, 5), (N_CLASSES, 1), (N_CLASSES - 1, 5)]:
        # naive: the largest q such that n_way classes have k + q items
        q = 0
        while sum(int((y == c).sum()) >= k + q + 1 for c in range(N_CLASSES)) >= n_way:
            q += 1
        assert max_queries(y, n_way, k) == q
    assert max_queries([0, 0, 1], 3, 1) <= 0  # only two classes


def test_ways_default_and_list() -> None:
    assert resolved_ways(EvalConfig(), 4) == (4,)  # fmnist-disjoint: all unseen classes
    assert resolved_ways(EvalConfig(), 20) == (20,)
    assert resolved_ways(EvalConfig(), 200) == (5, 20)  # Omniglot's protocol
    assert resolved_ways(EvalConfig(ways=7), 200) == (7,)
    assert resolved_ways(EvalConfig(ways=(20, 5)), 200) == (20, 5)
    assert resolved_ways(EvalConfig(ways=(5, 20)), 10) == (5, 10)
    assert resolved_ways(EvalConfig(ways=(20, 30)), 10) == (10,)


def test_protocol_reports_each_way_side_by_side_and_lowers_queries(many) -> None:
    y, z = many
    yt = torch.from_numpy(y)
    settings, q = protocol_settings(EvalConfig(ways=(5, 20), shots=(1, 5)), yt)
    assert settings == [(5, 1), (5, 5), (20, 1), (20, 5)] and q == 15
    few = yt < 60  # the full evaluation (all pairs, retrieval) on 60 of the classes
    rep = evaluate_protocol(
        z[few], yt[few], "euclidean", EvalConfig(ways=(5, 20), shots=(1,)), episodes=50
    )
    assert list(rep.few_shot) == ["5way1shot", "20way1shot"]
    assert rep.few_shot["5way1shot"].accuracy > rep.few_shot["20way1shot"].accuracy
    # 19 items a class: 5-shot leaves 14 queries, for every setting alike
    y19 = torch.arange(30).repeat_interleave(19)
    settings, q = protocol_settings(EvalConfig(shots=(1, 5)), y19)
    assert settings == [(5, 1), (5, 5), (20, 1), (20, 5)] and q == 14
    rep = evaluate_protocol(torch.randn(len(y19), 4), y19, "euclidean", EvalConfig(), episodes=5)
    assert {r.n_query for r in rep.few_shot.values()} == {14}
