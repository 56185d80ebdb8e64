"""make_pairs / make_triplets: ratios, validity, reproducibility, uniform partners."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from siamkit.data.pair_builders import PairDataset, TripletDataset, make_pairs, make_triplets

Y = np.array([0] * 6 + [1] * 4 + [2] * 5 + [3] * 1)  # class 3 is a singleton


def test_pairs_per_item_follow_the_ratio() -> None:
    pairs = make_pairs(Y, ratio=(2, 3), seed=0)
    yt = torch.from_numpy(Y)
    assert torch.equal(pairs.same, yt[pairs.first] == yt[pairs.second])
    assert bool((pairs.first != pairs.second).all())
    per_first = Counter(zip(pairs.first.tolist(), pairs.same.tolist()))
    for i in range(len(Y)):
        assert per_first[(i, False)] == 3
        assert per_first[(i, True)] == (0 if Y[i] == 3 else 2)  # the singleton has no partner


def test_default_ratio_is_one_to_one_and_num_pairs_is_exact() -> None:
    y = np.arange(40) % 4
    p = make_pairs(y, seed=1)
    assert int(p.same.sum()) == int((~p.same).sum()) == 40
    q = make_pairs(y, ratio=(1, 4), num_pairs=1000, seed=1)
    assert len(q.first) == 1000 and int(q.same.sum()) == 200


def test_seeded_and_partners_are_uniform() -> None:
    a, b = make_pairs(Y, seed=5), make_pairs(Y, seed=5)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(make_pairs(Y, seed=6).second, a.second)
    many = make_pairs(Y, ratio=(3000, 3000), seed=0)
    f, s, same = many.first.numpy(), many.second.numpy(), many.same.numpy()
    pos_partners = Counter(s[(f == 0) & same])
    assert set(pos_partners) == {1, 2, 3, 4, 5}
    assert all(abs(c / 3000 - 1 / 5) < 0.03 for c in pos_partners.values())
    neg_partners = Counter(s[(f == 0) & ~same])
    assert set(neg_partners) == set(range(6, 16))
    assert all(abs(c / 3000 - 1 / 10) < 0.03 for c in neg_partners.values())


def test_triplets_are_valid_and_cover_usable_anchors() -> None:
    t = make_triplets(Y, per_anchor=4, seed=2)
    yt = torch.from_numpy(Y)
    assert bool((yt[t.anchor] == yt[t.positive]).all() and (t.anchor != t.positive).all())
    assert bool((yt[t.anchor] != yt[t.negative]).all())
    assert Counter(t.anchor.tolist()) == {i: 4 for i in range(15)}
    assert all(torch.equal(u, v) for u, v in zip(t, make_triplets(Y, per_anchor=4, seed=2)))


def test_datasets_and_errors() -> None:
    data = [(torch.full((2,), float(i)), int(Y[i])) for i in range(len(Y))]
    pairs = make_pairs(Y, seed=0)
    x1, x2, same = PairDataset(data, pairs)[0]
    assert float(x1[0]) == int(pairs.first[0]) and float(x2[0]) == int(pairs.second[0])
    assert same == bool(pairs.same[0]) and len(PairDataset(data, pairs)) == len(pairs.first)
    t = make_triplets(Y, seed=0)
    xa, xp, xn = TripletDataset(data, t)[1]
    assert (float(xa[0]), float(xp[0]), float(xn[0])) == tuple(float(v[1]) for v in t)
    with pytest.raises(ValueError, match="ratio"):
        make_pairs(Y, ratio=(0, 0))
    with pytest.raises(ValueError, match="cannot give these pairs"):
        make_pairs([0, 1, 2], num_pairs=10)
    with pytest.raises(ValueError, match="per_anchor"):
        make_triplets(Y, per_anchor=0)
