"""siamkit evaluate of a task: ssl model whose folder of photos holds a sub-folder of more photos."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli


def test_an_ssl_model_of_a_nested_photo_folder_is_not_told_to_evaluate_on_it(
    tmp_path: Path,
) -> None:
    """A folder of unlabeled photos with a nested sub-folder (photos/2019/...) is not a class
    layout, but evaluate took it for one: on the default fashion-mnist it said 'it trained on
    the folder P: use --data P', and --data P then said 'gives one class (2019): name them with
    --classes'. Both now say the model learned without labels and evaluation needs classes."""
    photos = tmp_path / "photos"
    (photos / "2019").mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    for i in range(40):
        arr = (torch.rand(12, 12, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save((photos if i % 2 else photos / "2019") / f"{i}.png")
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump({
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 16},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16},
        "train": {"epochs": 1, "batch_size": 20, "steps_per_epoch": 1, "device": "cpu"},
    }))  # fmt: skip
    trained = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )
    assert trained.exit_code == 0, trained.output
    model = str(tmp_path / "o" / "model")
    needs = "give a folder with one sub-folder of images per class (--data DIR, e.g. DIR/cat/1.png"

    res = CliRunner().invoke(cli, ["evaluate", model, "--no-progress"])
    said = " ".join(res.output.split())
    assert res.exit_code == 1, said
    assert f"use --data {photos}" not in said, said
    assert f"it learned from the folder {photos} without labels, and evaluation needs " in said
    assert needs in said

    res = CliRunner().invoke(cli, ["evaluate", model, "--data", str(photos), "--no-progress"])
    said = " ".join(res.output.split())
    assert res.exit_code == 1, said
    assert "--classes" not in said, said
    assert (
        f"--data {photos} holds images beside its sub-folders, not one sub-folder per class (the "
        "model learned from them without labels), so it has no classes to measure with: " in said
    ), said
    assert needs in said

    # its sub-folder alone is a folder like any other (one class: refused as before)
    res = CliRunner().invoke(cli, ["evaluate", model, "--data", str(photos / "2019")])
    assert res.exit_code == 1 and "without labels" not in res.output
