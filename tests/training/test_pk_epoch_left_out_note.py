"""An epoch of P×K batches on class-imbalanced data left most images out without a word: a batch
takes at most K images of a class and the epoch ends once fewer than P classes have images
left, so the larger classes outlast the others (6000/3000/1000/300/100/30 images at 6 x 16: 188
of the 10,430 an epoch), though ``train.steps_per_epoch: null`` reads as every image once. The
run now says how many it uses and names train.class_power; balanced data says nothing."""

from __future__ import annotations

import torch

from siamkit.training import Trainer, apply_overrides
from siamkit.training.batch_source import PKBatches
from siamkit.training.from_config import _left_out_note

SIZES = [6000, 3000, 1000, 300, 100, 30]


def _ids_seen(source: PKBatches, epoch: int = 0) -> int:
    """The training items an epoch's batches hold, counted from the batches themselves (each
    item's one pixel is its index)."""
    seen: set[int] = set()
    for x, _ in source.epoch(epoch):
        seen.update(int(v) for v in x.flatten().tolist())
    return len(seen)


def test_the_note_counts_the_images_an_epoch_uses() -> None:
    y = torch.repeat_interleave(torch.arange(6), torch.tensor(SIZES))
    x = torch.arange(len(y), dtype=torch.float32).view(-1, 1, 1, 1)
    for p, k in [(6, 16), (3, 32)]:
        source = PKBatches(x, y, p, k)
        used = _ids_seen(source)
        assert used < 0.8 * len(y)
        note = _left_out_note(source)
        assert note is not None
        assert f"uses {used:,} of the {len(y):,} training images" in note
        assert f"({1 - used / len(y):.0%} left out)" in note and "6,000 images" in note
        assert "--set train.class_power=0.5" in note
    # drawing classes by size, or a shorter epoch asked for, leaves nothing unsaid
    assert _left_out_note(PKBatches(x, y, 6, 16, class_power=0.5)) is None
    assert _left_out_note(PKBatches(x, y, 6, 16, steps_per_epoch=1)) is None
    balanced = torch.arange(6).repeat_interleave(100)
    xb = torch.arange(600, dtype=torch.float32).view(-1, 1, 1, 1)
    assert _ids_seen(PKBatches(xb, balanced, 6, 16)) >= 0.8 * 600
    assert _left_out_note(PKBatches(xb, balanced, 6, 16)) is None


def test_a_run_on_imbalanced_classes_says_so(make_net, tiny_cfg, tiny_data) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.steps_per_epoch=null", "train.val_metric=none"])
    y = tiny_data.train_y
    keep = torch.cat(
        [torch.nonzero(y == c).flatten()[: 120 if c == 0 else 10] for c in range(6)]
    )  # one class of 120, five of 10
    data = tiny_data._replace(train_x=tiny_data.train_x[keep], train_y=y[keep])

    def notes(run_cfg, run_data) -> list[str]:
        lines: list[str] = []
        Trainer.from_config(
            make_net(run_cfg, run_data), run_cfg, run_data, progress=False, log=lines.append
        )
        return [line for line in lines if "training images (" in line]

    said = notes(cfg, data)
    assert len(said) == 1 and "of the 170 training images" in said[0]
    assert notes(cfg, tiny_data) == []  # the digits' balanced classes
    weighted = apply_overrides(cfg, ["train.class_power=0.5"])
    assert notes(weighted, data) == []


def test_classes_of_one_size_are_not_said_to_outlast_each_other() -> None:
    """Seven classes of one image at 4 x 2: one batch of 4, 3 of the 7 images left out. The note
    said "the larger classes (1 image, against 1 in the smallest) outlast the others", where
    every class is the same size and 3 whole classes are left over (s62 c8)."""
    y = torch.arange(7)
    note = _left_out_note(PKBatches(torch.arange(7.0).view(-1, 1, 1, 1), y, 4, 2))
    assert note is not None
    assert "uses 4 of the 7 training images (43% left out)" in note
    assert "outlast" not in note and "larger classes" not in note
    assert (
        "an epoch ends once fewer than 4 classes have images left, and with every class of "
        "1 image, 3 of the 7 classes are left over, too few to fill a batch;"
    ) in note
