"""``siamkit tune`` on a small labelled folder asking more data.labels_per_class and more
eval.shots than it holds was refused for the labels alone, and the shots not at all (the study
then wrote a best.yaml that ``siamkit train`` refuses); it now makes train's check of the test
classes, and names both in one sentence as train does (b659fd2)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
CLASSES = ("bag", "boot", "cap", "cup", "hat", "sock", "tie")


def _tune(tmp_path: Path, *sets: str) -> tuple[int, str, Path]:
    root = tmp_path / "labeled"
    for c in CLASSES:  # 4 training classes (2 of them held out for validation), 3 test classes
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(10):
            Image.new("RGB", (8, 8), (20 * i, 30 * len(c), 20)).save(root / c / f"{i}.png")
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--out", str(out), "--trials", "1", "--no-progress"]
    for item in ("data.dataset=image-folder", f"data.root={root}", "data.train_classes=4",
                 "data.val_classes=2", "train.epochs=1", *sets):  # fmt: skip
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
