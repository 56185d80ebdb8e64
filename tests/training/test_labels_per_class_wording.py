"""data.labels_per_class above what a class keeps for training: the class named as its folder is,
and where the rest of its images went."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    ("classes", "says"),
    [
        ("null", "class boot has (5 training images; the other 5 of its 10 are held out for "
         "testing (30%: data.train_classes is null) and validation (data.val_fraction)): set it "
         "to at most 5"),
        ("[0, 1]", "class boot has (8 training images; the other 2 of its 10 are held out for "
         "validation (data.val_fraction)): set it to at most 8"),
    ],
)  # fmt: skip
def test_a_class_is_named_and_its_held_out_images_counted(
    tmp_path: Path, classes: str, says: str
) -> None:
    """A user with 10 labelled photos in each class folder asked for 10 labels per class and was
    told 'class 0 has (5 training images)': neither which folder, nor why not 10. (Four classes
    and 1-shot evaluation, which the test classes can give: the labels alone are refused.)"""
    root = tmp_path / "labeled"
    for c in ("boot", "hat", "scarf", "sock"):
        (root / c).mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (8, 8), (20 * i, 60 * len(c), 20)).save(root / c / f"{i}.png")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, [
        "train", str(CONFIGS / "digits-tiny.yaml"), "--out", str(out), "--no-progress",
        "--set", "data.dataset=image-folder", "--set", f"data.root={root}",
        "--set", f"data.train_classes={classes}", "--set", "data.labels_per_class=10",
        "--set", "eval.shots=1",
    ])  # fmt: skip
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last == f"Error: data.labels_per_class = 10 is more than {says}", last
    assert not out.exists()


def test_labels_per_class_and_shots_both_too_many_are_named_in_one_run(tmp_path: Path) -> None:
    """A fine-tune on a folder of 10 photos a class asking data.labels_per_class = 10 and
    eval.shots = 10 was refused for the labels; with those lowered, the next run was refused
    for the shots: one run now names both, in one sentence."""
    root = tmp_path / "labeled"
    for c in ("boot", "hat", "sock"):
        (root / c).mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (8, 8), (20 * i, 60 * len(c), 20)).save(root / c / f"{i}.png")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, [
        "train", str(CONFIGS / "digits-tiny.yaml"), "--out", str(out), "--no-progress",
        "--set", "data.dataset=image-folder", "--set", f"data.root={root}",
        "--set", "data.train_classes=null", "--set", "data.labels_per_class=10",
        "--set", "eval.shots=10",
    ])  # fmt: skip
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: data.labels_per_class = 10 is more than class boot has"), last
    assert "; and 3-way 10-shot evaluation cannot be met: it needs 3 test classes" in last, last
    assert "lower eval.shots" in last and last.count("Error") == 1, last
    assert not out.exists()
