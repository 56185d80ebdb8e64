"""calibrate on images of one class: the refusal says what to give instead."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli


def test_calibrate_on_one_class_says_what_to_give(tiny_demo_dir, tmp_path):
    """A folder of one class sub-folder (README's `calibrate --data val_photos/`) was refused
    with 'calibration needs images of at least two classes (impostor pairs)', which named
    nothing to change."""
    model = tmp_path / "model"
    model.mkdir()
    for f in (tiny_demo_dir / "model").iterdir():
        (model / f.name).write_bytes(f.read_bytes())
    folder = tmp_path / "val_photos" / "sandal"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
    before = (model / "siamkit.json").read_text()
    result = CliRunner().invoke(cli, ["calibrate", str(model), "--data", str(folder.parent)])
    assert result.exit_code == 1, result.output
    assert "at least two classes" in result.output and "1 (sandal)" in result.output
    assert "a sub-folder per class" in result.output and "--classes" in result.output
    assert (model / "siamkit.json").read_text() == before
