"""configs/finetune.yaml's ``steps_per_epoch: 10`` is what the recipe trains on every data set:
one pass on its own 60 labelled images (1 batch, so 1 step an epoch, with a true note that 10 is
more than a pass), and at most 10 batches an epoch on a larger folder. A change to ``null`` (one
whole pass, 16 batches on the larger set below) trained longer there, unmeasured, and was reverted."""

from __future__ import annotations

from pathlib import Path

from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data

FINETUNE = Path(__file__).resolve().parents[2] / "configs" / "finetune.yaml"


def _steps_and_notes(*sets: str) -> tuple[int, int, list[str]]:
    # the recipe's labels and batches (10 labels of 6 classes, 6 x 10 a batch) on digits, with a
    # small network for its 8x8 images: the steps depend on the labels and batches alone
    cfg = apply_overrides(
        load_config(FINETUNE),
        [
            "data.dataset=digits",
            "model.encoder_kwargs={widths: [8]}",
            "model.embedding_dim=8",
            *sets,
        ],
    )
    data = load_run_data(cfg.data)
    said: list[str] = []
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    trainer = Trainer.from_config(net, cfg, data, progress=False, log=said.append)
    notes = [line for line in said if "steps_per_epoch" in line]
    return len(data.train_y), trainer.batches.steps, notes


def test_the_recipe_trains_one_step_an_epoch_on_its_60_images_and_says_why() -> None:
    images, steps, notes = _steps_and_notes()
    assert (images, steps) == (60, 1)  # an epoch trains 1 step, as every figure was measured
    assert len(notes) == 1 and "steps_per_epoch = 10 is more than one pass" in notes[0], notes
    assert "so an epoch trains 1 step" in notes[0], notes


def test_the_recipe_caps_an_epoch_at_10_steps_on_more_labels() -> None:
    # every label of the 6 classes: one pass is 16 batches, the recipe trains 10 of them an epoch
    images, steps, notes = _steps_and_notes("data.labels_per_class=null")
    assert images > 60 * 10
    assert steps == 10, f"an epoch trains {steps} steps on {images} images, not the recipe's 10"
    assert not notes, notes
