"""PKSampler: P classes × K samples, every sample once per epoch, seeded, DataLoader-ready."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from siamkit.data.samplers import BalancedBatchSampler, PKSampler, pk_class_counts

# class sizes: several full classes, one smaller than K, one singleton, one not a multiple of K
SIZES = {0: 12, 1: 12, 2: 8, 3: 3, 4: 1, 5: 10, 6: 16}
LABELS = np.concatenate([np.full(n, c) for c, n in SIZES.items()])
np.random.default_rng(0).shuffle(LABELS)


def test_every_sample_once_and_batches_are_pxk_shaped() -> None:
    s = PKSampler(LABELS, p=3, k=4, seed=1)
    batches = list(s)
    assert len(batches) == len(s)
    seen = Counter(i for b in batches for i in b)
    assert sorted(seen) == list(range(len(LABELS)))
    # a sample is seen twice only as the top-up of a batch that would hold one class
    last_class = {int(LABELS[i]) for i in batches[-1]}
    assert all(n == 1 or len(last_class) == 2 for n in seen.values())
    for counts in pk_class_counts(batches, LABELS):
        assert 2 <= len(counts) <= 3 and max(counts.values()) <= 4
    full = [c for c in pk_class_counts(batches, LABELS) if len(c) == 3]
    assert len(full) >= len(batches) - 2  # only the tail can have fewer classes


def test_chunks_are_as_even_as_possible() -> None:
    s = PKSampler(LABELS, p=2, k=4, seed=0)
    per_class = Counter()
    for counts in pk_class_counts(list(s), LABELS):
        for c, n in counts.items():
            per_class[(c, n)] += 1
    assert per_class[(5, 4)] == 1 and per_class[(5, 3)] == 2  # 10 -> 4, 3, 3
    assert per_class[(3, 3)] == 1 and per_class[(4, 1)] == 1


def test_seed_and_epoch_control_the_order() -> None:
    a, b = PKSampler(LABELS, 3, 4, seed=7), PKSampler(LABELS, 3, 4, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    a.set_epoch(0)
    assert list(a) == first
    assert list(PKSampler(LABELS, 3, 4, seed=8)) != first


def test_fill_tops_up_short_chunks_with_the_same_class() -> None:
    s = PKSampler(LABELS, p=3, k=4, seed=2, fill=True)
    batches = list(s)
    assert {i for b in batches for i in b} == set(range(len(LABELS)))
    for counts in pk_class_counts(batches, LABELS):
        assert set(counts.values()) == {4}


def test_works_as_a_dataloader_batch_sampler() -> None:
    ds = TensorDataset(torch.arange(len(LABELS)), torch.from_numpy(LABELS))
    sampler = BalancedBatchSampler(ds.tensors[1], p=3, k=4, seed=0)
    loader = DataLoader(ds, batch_sampler=sampler)
    got = [x.tolist() for x, _ in loader]
    assert len(loader) == len(got) == len(sampler)
    assert got == list(sampler)


def test_ranks_split_the_same_plan() -> None:
    r0 = PKSampler(LABELS, 3, 4, seed=3, rank=0, world_size=2)
    r1 = PKSampler(LABELS, 3, 4, seed=3, rank=1, world_size=2)
    b0, b1 = list(r0), list(r1)
    assert len(b0) == len(b1) == len(r0)
    assert not {i for b in b0 for i in b} & {i for b in b1 for i in b}
    plan = r0.plan()
    assert b0 + b1 == plan[0::2] + plan[1::2]


def test_drop_last_and_errors() -> None:
    batches = list(PKSampler(LABELS, 3, 4, seed=1, drop_last=True))
    assert all(len(c) == 3 for c in pk_class_counts(batches, LABELS))
    with pytest.raises(ValueError, match="only 7 classes"):
        PKSampler(LABELS, p=8, k=2)
    with pytest.raises(ValueError, match="at least two classes"):
        PKSampler([1, 1, 1], p=1, k=2)
    with pytest.raises(TypeError, match="integer"):
        PKSampler([0.5, 1.5], p=1, k=1)
    with pytest.raises(ValueError, match="k must be"):
        PKSampler(LABELS, p=2, k=0)
