"""configs/finetune.yaml printed "note: train.steps_per_epoch = 10 is more than one pass ..., so an
epoch trains 1 step" on every default run, about its own setting: it now asks for one pass
(``steps_per_epoch: null``), which trains the same one step an epoch, and says nothing."""

from __future__ import annotations

from pathlib import Path

from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data

FINETUNE = Path(__file__).resolve().parents[2] / "configs" / "finetune.yaml"


def test_the_shipped_fine_tuning_recipe_trains_one_step_an_epoch_without_a_note() -> None:
    # the recipe's labels and batches (10 labels of 6 classes, 6 x 10 a batch) on digits, with a
    # small network for its 8x8 images: the steps depend on the labels and batches alone
    cfg = apply_overrides(
        load_config(FINETUNE),
        ["data.dataset=digits", "model.encoder_kwargs={widths: [8]}", "model.embedding_dim=8"],
    )
    data = load_run_data(cfg.data)
    assert len(data.train_y) == 60
    said: list[str] = []
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    trainer = Trainer.from_config(net, cfg, data, progress=False, log=said.append)
    assert trainer.batches.steps == 1  # an epoch trains 1 step, as every figure was measured
    assert not [line for line in said if "steps_per_epoch" in line], said
