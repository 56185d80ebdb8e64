"""The notes on a run's batches said "a batch holds 3 classes x up to 10 images" from
train.samples_per_class alone: with data.labels_per_class = 2 (2 images of each class) a batch
holds 2 of each, which the note now says, counted from the batches the run draws."""

from __future__ import annotations

import re

from siamkit.training import Trainer, apply_overrides


def test_the_classes_per_batch_note_counts_the_images_a_class_has(make_net, tiny_cfg) -> None:
    from siamkit.training import load_run_data

    cfg = apply_overrides(
        tiny_cfg,
        ["data.val_classes=2", "data.labels_per_class=2", "train.epochs=1",
         "train.steps_per_epoch=1"],
    )  # fmt: skip
    data = load_run_data(cfg.data)
    lines: list[str] = []
    trainer = Trainer.from_config(make_net(cfg, data), cfg, data, progress=False, log=lines.append)
    notes = [s for s in lines if "classes_per_batch" in s]
    assert len(notes) == 1, lines
    said = re.search(r"a batch holds (\d+) classes x up to (\d+) images$", notes[0])
    assert said is not None, notes[0]
    # the images of one class in a batch of the run's own plan (independent of the note)
    sampler = trainer.batches.sampler
    y = sampler.labels
    most = max(int((y[b] == c).sum()) for b in sampler.plan(0) for c in set(y[b].tolist()))
    assert trainer.batches.k > 2 and most == 2
    assert (int(said[1]), int(said[2])) == (sampler.p, most)
