"""What a run says about its validation: early stopping, restore_best (issue 20's walk)."""

from __future__ import annotations

from siamkit.training import Trainer, apply_overrides


def _fit(make_net, cfg, data, scores, resume=False, out=None):
    lines: list[str] = []
    it = iter(scores)
    trainer = Trainer.from_config(
        make_net(cfg, data), cfg, data, out_dir=out, progress=False,
        validate=lambda n: next(it), log=lines.append,
    )  # fmt: skip
    return trainer.fit(resume=resume), lines


def test_early_stopping_and_restore_best_say_so_after_the_last_epoch_line(
    make_net, tiny_cfg, tiny_data
) -> None:
    cfg = apply_overrides(
        tiny_cfg,
        ["train.epochs=6", "train.steps_per_epoch=2", "train.early_stopping=2",
         "train.restore_best=true", "train.val_metric=eer"],
    )  # fmt: skip
    # eer: lower is better; epoch 2 is the best, 3 and 4 do not beat it
    result, lines = _fit(make_net, cfg, tiny_data, [0.4, 0.2, 0.3, 0.25, 0.1, 0.1])
    assert result.stopped_early and result.best_epoch == 2
    epochs = [i for i, s in enumerate(lines) if s.startswith("epoch ")]
    assert len(epochs) == 4
    after = lines[epochs[-1] + 1 :]
    assert after == [
        "stopped early after epoch 4: val eer has not beaten epoch 2's 0.2000 for 2 epochs "
        "(train.early_stopping = 2)",
        "the model holds epoch 2's weights, the best val eer (0.2000), not the last epoch's "
        "(4): train.restore_best",
    ]


def test_a_run_whose_last_epoch_is_best_says_nothing_more(make_net, tiny_cfg, tiny_data) -> None:
    cfg = apply_overrides(
        tiny_cfg,
        ["train.epochs=3", "train.steps_per_epoch=2", "train.early_stopping=2",
         "train.restore_best=true"],
    )  # fmt: skip
    result, lines = _fit(make_net, cfg, tiny_data, [0.5, 0.6, 0.7])
    assert not result.stopped_early
    assert not [s for s in lines if "stopped early" in s or "restore_best" in s]


def test_a_run_with_no_validation_images_says_what_goes_without_them(
    make_net, tiny_cfg, tmp_path
) -> None:
    """A folder of 3 images a class: the per-image hold-out holds out none (a class needs 4),
    so val_metric, restore_best and the threshold silently did nothing ('val eer -')."""
    from siamkit.data.synthetic_glyphs import write_glyph_folder
    from siamkit.training import load_run_data

    root = write_glyph_folder(tmp_path / "three", 8, per_class=3, size=16)
    cfg = apply_overrides(
        tiny_cfg,
        ["data.dataset=image-folder", f"data.root={root}", "data.train_classes=5",
         "data.image_size=16", "data.grayscale=true", "train.epochs=1",
         "train.steps_per_epoch=1", "train.val_metric=eer", "train.restore_best=true"],
    )  # fmt: skip
    data = load_run_data(cfg.data)
    assert len(data.val_y) == 0
    lines: list[str] = []
    Trainer.from_config(make_net(cfg, data), cfg, data, progress=False, log=lines.append).fit()
    assert [s for s in lines if s.startswith("note: no images")] == [
        "note: no images are held out for validation (data.val_fraction = 0.1 holds out none "
        "of classes of at most 3 images), so train.val_metric = eer is not measured, "
        "train.early_stopping and train.restore_best have nothing to go by and the model gets "
        "no calibrated threshold; hold out whole classes instead with data.val_classes (a "
        "count, e.g. --set data.val_classes=2)"
    ]
    # with whole classes held out there is something to validate on: no note
    held = apply_overrides(cfg, ["data.val_classes=2"])
    data = load_run_data(held.data)
    lines.clear()
    Trainer.from_config(make_net(held, data), held, data, progress=False, log=lines.append).fit()
    assert not [s for s in lines if s.startswith("note: no images")]


def test_steps_per_epoch_above_one_pass_is_said(make_net, tiny_cfg, tmp_path) -> None:
    """An epoch is at most one pass over the training images: train.steps_per_epoch = 50 on a
    few-image folder trained 1 step an epoch without a word."""
    from siamkit.data.synthetic_glyphs import write_glyph_folder
    from siamkit.training import load_run_data

    root = write_glyph_folder(tmp_path / "few", 8, per_class=3, size=16)
    base = ["data.dataset=image-folder", f"data.root={root}", "data.train_classes=5",
            "data.val_classes=2", "data.image_size=16", "data.grayscale=true", "train.epochs=1"]  # fmt: skip
    for asked, said in ((50, True), (1, False)):
        cfg = apply_overrides(tiny_cfg, [*base, f"train.steps_per_epoch={asked}"])
        data = load_run_data(cfg.data)
        lines: list[str] = []
        trainer = Trainer.from_config(
            make_net(cfg, data), cfg, data, progress=False, log=lines.append
        )
        assert trainer.batches.steps == 1  # 3 classes of 3 images: one batch
        notes = [s for s in lines if "steps_per_epoch" in s]
        assert notes == (
            [
                "note: train.steps_per_epoch = 50 is more than one pass over the 9 training "
                "images makes (1 batch of 3 classes x up to 3 images), so an epoch trains 1 "
                "step; raise train.epochs to train longer"
            ]
            if said
            else []
        )


def test_classes_per_batch_above_the_training_classes_is_said(make_net, tiny_cfg) -> None:
    """data.val_classes=2 of the six classes left 4 to train on: P = 6 became 4 without a word."""
    from siamkit.training import load_run_data

    for held, said in (("data.val_classes=2", True), ("train.classes_per_batch=4", False)):
        cfg = apply_overrides(tiny_cfg, [held, "train.epochs=1", "train.steps_per_epoch=1"])
        data = load_run_data(cfg.data)
        lines: list[str] = []
        trainer = Trainer.from_config(
            make_net(cfg, data), cfg, data, progress=False, log=lines.append
        )
        notes = [s for s in lines if "classes_per_batch" in s]
        if said:
            assert trainer.batches.sampler.p == 4
            assert notes == [
                "note: train.classes_per_batch = 6 is more than the 4 training classes "
                "(data.val_classes holds 2 of the classes out), so a batch holds 4 classes x up "
                "to 8 images"
            ]
        else:
            assert notes == []
