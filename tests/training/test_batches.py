"""P×K batches: structure, reproducibility per (seed, epoch), sharding across ranks; augmentation."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from siamkit.training.augment import make_augmentation
from siamkit.training.batches import compact_triplets, pk_batches, triplet_batches


def _labels() -> torch.Tensor:
    return torch.tensor([c for c in range(6) for _ in range(20)])


def test_each_batch_has_p_classes_of_k_distinct_items() -> None:
    y = _labels()
    batches = list(pk_batches(y, p=4, k=5, steps=10, seed=1, epoch=0))
    assert len(batches) == 10
    for idx in batches:
        counts = Counter(y[idx].tolist())
        assert len(counts) == 4 and set(counts.values()) == {5}
        assert len(set(idx.tolist())) == 20  # no repeats inside a batch


def test_a_class_is_used_without_replacement_until_exhausted() -> None:
    y = torch.tensor([0] * 10 + [1] * 10)
    seen = torch.cat(list(pk_batches(y, p=2, k=5, steps=2, seed=0, epoch=0)))
    assert sorted(seen.tolist()) == list(range(20))  # 2 batches cover every item exactly once


def test_same_seed_and_epoch_give_the_same_batches_others_differ() -> None:
    y = _labels()
    a = list(pk_batches(y, 3, 4, 5, seed=0, epoch=2))
    b = list(pk_batches(y, 3, 4, 5, seed=0, epoch=2))
    c = list(pk_batches(y, 3, 4, 5, seed=0, epoch=3))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not all(torch.equal(u, v) for u, v in zip(a, c))


def test_ranks_split_the_global_batches() -> None:
    y = _labels()
    full = list(pk_batches(y, 3, 4, 8, seed=0, epoch=0))
    r0 = list(pk_batches(y, 3, 4, 8, seed=0, epoch=0, rank=0, world=2))
    r1 = list(pk_batches(y, 3, 4, 8, seed=0, epoch=0, rank=1, world=2))
    assert len(r0) == len(r1) == 4
    assert all(torch.equal(u, v) for u, v in zip(full[0::2], r0))
    assert all(torch.equal(u, v) for u, v in zip(full[1::2], r1))


def test_small_classes_are_sampled_with_replacement_and_one_class_is_an_error() -> None:
    y = torch.tensor([0, 0, 1, 1, 1, 1, 1, 1])
    idx = next(pk_batches(y, 2, 4, 1, seed=0, epoch=0))
    assert Counter(y[idx].tolist()) == {0: 4, 1: 4}
    with pytest.raises(ValueError, match="two classes"):
        next(pk_batches(torch.zeros(5, dtype=torch.long), 2, 2, 1, 0, 0))


def test_triplet_batches_and_compaction() -> None:
    sel = list(triplet_batches(10, 3, steps=100, seed=0, epoch=0))
    assert len(sel) == 3 and len(set(torch.cat(sel).tolist())) == 9
    a, p, n = torch.tensor([5, 9]), torch.tensor([7, 5]), torch.tensor([2, 2])
    items, local = compact_triplets(a, p, n)
    assert torch.equal(items[local[0]], a) and torch.equal(items[local[1]], p)
    assert torch.equal(items[local[2]], n) and items.tolist() == [2, 5, 7, 9]


def test_shift_flip_shifts_by_at_most_two_pixels_and_flips_about_half() -> None:
    x = torch.zeros(200, 1, 28, 28)
    x[:, :, 13, 5] = 1.0  # one bright pixel left of centre
    aug = make_augmentation("shift-flip")
    assert aug is not None
    out = aug(x, torch.Generator().manual_seed(0))
    ys, xs = torch.nonzero(out[:, 0] == 1.0, as_tuple=True)[1:]
    assert len(ys) == 200  # a shift of <= 2 px keeps the pixel inside
    assert (ys - 13).abs().max() <= 2
    mirrored = (xs > 13).float().mean()  # x = 5 -> 22 when flipped
    assert 0.35 < float(mirrored) < 0.65
    assert ((xs - 5).abs() <= 2).logical_or((xs - 22).abs() <= 2).all()


def test_augmentations_are_seeded() -> None:
    x = torch.rand(16, 1, 8, 8)
    for name in ("shift-flip", "light", "standard"):
        aug = make_augmentation(name)
        assert aug is not None
        a = aug(x, torch.Generator().manual_seed(1))
        b = aug(x, torch.Generator().manual_seed(1))
        assert torch.equal(a, b) and a.shape == x.shape
    assert make_augmentation("none") is None
    with pytest.raises(ValueError, match="unknown augmentation"):
        make_augmentation("heavy")
