"""Under torchrun each process augments its batches with its own draws: PKBatches gave every
process the epoch's one generator, so process 0's and process 1's batches got the same crop,
flip and erasing position by position (each augmentation twice in a step's global batch). One
process keeps the epoch's stream 2, so a run on one process is unchanged, and every process's
draws replay for the same (seed, epoch): a resume sees them again."""

from __future__ import annotations

import torch
from torch import Tensor

from siamkit.training.batch_source import PKBatches
from siamkit.training.batches import epoch_generator
from siamkit.types import Triplets

X = torch.rand(64, 1, 4, 4)
Y = torch.arange(8).repeat_interleave(8)


def _draws(rank: int, world: int, epoch: int = 0, offline: bool = False) -> list[Tensor]:
    """The draws the augmentation took from its generator, one tensor a batch."""
    draws: list[Tensor] = []

    def augment(x: Tensor, gen: torch.Generator) -> Tensor:
        draws.append(torch.rand(x.shape[0], generator=gen))
        return x

    def mine(x: Tensor, y: Tensor, gen: torch.Generator) -> Triplets:
        n = len(y)  # any triplets: the draws after mining are what is checked
        a = torch.randperm(n, generator=gen)
        return Triplets(a, a.roll(1), a.roll(2))

    source = PKBatches(
        X, Y, p=4, k=4, seed=3, augment=augment, rank=rank, world=world,
        offline=mine if offline else None,
    )  # fmt: skip
    for _ in source.epoch(epoch):
        pass
    return draws


def test_each_process_draws_its_own_augmentation() -> None:
    for offline in (False, True):
        r0, r1 = _draws(0, 2, offline=offline), _draws(1, 2, offline=offline)
        assert len(r0) == len(r1) >= 1
        for a, b in zip(r0, r1):
            assert not torch.equal(a, b), "two processes augmented with the same draws"
        # a resume replays each process's draws
        again = _draws(1, 2, offline=offline)
        assert all(torch.equal(a, b) for a, b in zip(r1, again))
        assert not torch.equal(_draws(1, 2, epoch=1, offline=offline)[0], r1[0])


def test_one_process_keeps_the_epochs_stream() -> None:
    gen = epoch_generator(3, 0, stream=2)  # what a one-process run always drew
    expected = [torch.rand(16, generator=gen) for _ in range(4)]
    got = _draws(0, 1)
    assert len(got) == 4
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
