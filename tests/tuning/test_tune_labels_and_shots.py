"""``siamkit tune`` on a small labelled folder asking more data.labels_per_class and more
eval.shots than it holds was refused for the labels alone, and the shots not at all (the study
then wrote a best.yaml that ``siamkit train`` refuses); it now makes train's check of the test
classes, and names both in one sentence as train does (b659fd2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli
from siamkit.training import apply_overrides, load_config
from siamkit.tuning import run_study

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
CLASSES = ("bag", "boot", "cap", "cup", "hat", "sock", "tie")


def _folder(tmp_path: Path) -> tuple[str, ...]:
    """A labelled folder of 7 classes of 10 images, and the settings that train on it."""
    root = tmp_path / "labeled"
    for c in CLASSES:  # 4 training classes (2 of them held out for validation), 3 test classes
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(10):
            Image.new("RGB", (8, 8), (20 * i, 30 * len(c), 20)).save(root / c / f"{i}.png")
    return ("data.dataset=image-folder", f"data.root={root}", "data.train_classes=4",
            "data.val_classes=2", "train.epochs=1")  # fmt: skip


def _tune(tmp_path: Path, *sets: str) -> tuple[int, str, Path]:
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--out", str(out), "--trials", "1", "--no-progress"]
    for item in (*_folder(tmp_path), *sets):
        args += ["--set", item]
    res = CliRunner().invoke(cli, args)
    return res.exit_code, res.output.strip().splitlines()[-1], out


SHOTS = (
    "3-way 20-shot evaluation cannot be met: it needs 3 test classes with at least 21 images "
    "each (20 shots + 1 query), but the 3 test classes have at most 10 images; lower eval.shots "
    "(at most 9 at 3-way) or give the classes more images"
)


def test_labels_per_class_and_shots_both_too_many_are_named_in_one_sentence(
    tmp_path: Path,
) -> None:
    code, last, out = _tune(tmp_path, "data.labels_per_class=20", "eval.shots=20")
    assert code == 1, last
    assert last == (
        "Error: data.labels_per_class = 20 is more than class hat has (10 training images): set "
        f"it to at most 10; and {SHOTS}"
    ), last
    assert not out.exists()


def test_shots_too_many_alone_are_refused_before_the_study_begins(tmp_path: Path) -> None:
    code, last, out = _tune(tmp_path, "eval.shots=20")
    assert code == 1, last
    assert last == f"Error: {SHOTS}", last
    assert not out.exists()


def test_run_study_from_python_refuses_too_many_shots_as_train_does(tmp_path: Path) -> None:
    """The check came from the CLI alone: a Python caller of run_study got a study (and a
    best.yaml that training refuses); run_study now makes it itself, before anything is
    written."""
    base = apply_overrides(load_config(TINY), [*_folder(tmp_path), "eval.shots=20"])
    out = tmp_path / "study"
    with pytest.raises(ValueError) as err:
        run_study(base, {"optim.lr": {"float": [0.01, 0.1]}}, out, n_trials=1, progress=False)
    assert str(err.value) == SHOTS
    assert not out.exists()
