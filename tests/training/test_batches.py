"""Batches: P×K from the sampler, replayed per (seed, epoch); offline triplet batches; augmentation."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from siamkit.training import Trainer, apply_overrides
from siamkit.training.augment import make_augmentation
from siamkit.training.batches import compact_triplets, triplet_batches


def test_trainer_batches_are_pk_and_replay_per_epoch(make_net, tiny_cfg, tiny_data) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.steps_per_epoch=null"])

    def epoch_batches(epoch: int) -> list[torch.Tensor]:
        trainer = Trainer.from_config(make_net(cfg, tiny_data), cfg, tiny_data, progress=False)
        return [y.clone() for _, y in trainer.batches.epoch(epoch)]

    a, b, c = epoch_batches(1), epoch_batches(1), epoch_batches(2)
    assert len(a) == len(tiny_data.train_y) // (6 * 8)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not all(torch.equal(u, v) for u, v in zip(a, c))
    for y in a:
        counts = Counter(y.tolist())
        assert len(counts) == 6 and all(7 <= n <= 8 for n in counts.values())


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
