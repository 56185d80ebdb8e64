"""``siamkit tune`` loads the data of each data config its space checks before the study (each
value of data.limit, beside each of data.augmentation), and each load of one image folder said
the walk's warnings again: a folder with a loose image and a link to nothing printed its two
warnings five times each for data.limit: [null, 50, 60, 70, 80] (reproduced at cf1d390c, stop
60; a class folder's link to nothing adds a third, said five times too). Each is said once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def test_tune_says_each_data_warning_once(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for c in range(8):
        (ds / f"c{c}").mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((8, 8)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(ds / f"c{c}" / f"{i}.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(ds / "stray.png")
    os.symlink("/nonexistent/d", ds / "gone")
    space = tmp_path / "space.yaml"
    space.write_text("data.limit: {choice: [null, 40, 45]}\noptim.lr: {float: [0.001, 0.01]}\n")
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "1", "--space", str(space), "--out", str(tmp_path / "st"),
         "--set", "data.dataset=image-folder", "--set", f"data.root={ds}",
         "--set", "data.train_classes=6", "--set", "data.val_classes=2",
         "--set", "data.image_size=8", "--set", "train.epochs=1",
         "--set", "train.steps_per_epoch=2", "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    said = [line for line in res.stderr.splitlines() if line.startswith("warning: left out")]
    assert said == [
        f"warning: left out the link {ds / 'gone'}: it leads to /nonexistent/d, which does not "
        "exist; point it at a class folder, or remove it",
        f"warning: left out the image {ds / 'stray.png'}: it lies directly in {ds}, not in a "
        "class folder, so it is of no class; move it into its class's folder to include it",
    ]
