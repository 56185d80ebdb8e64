"""A new user's second pass: what the report's JSON block is, and errors that name the right
option, the right fix and each count in its number."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.data.synthetic_glyphs import write_glyph_folder
from siamkit.experiment import check_protocol
from siamkit.training import EvalConfig, load_run_data
from siamkit.training.config import DataConfig

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "digits-tiny.yaml")


@pytest.fixture
def demo_dir(tiny_demo_dir: Path) -> Path:
    return tiny_demo_dir


def test_the_report_labels_metrics_json_only_for_metrics_json(demo_dir: Path) -> None:
    """A block labelled metrics.json left out calibration, run, ... of the real file."""
    page = (demo_dir / "report.html").read_text(encoding="utf-8")
    real = json.loads((demo_dir / "metrics.json").read_text())
    assert "calibration" in real and "run" in real
    for shown in re.findall(r"<summary>metrics\.json</summary><pre>(.*?)</pre>", page, re.S):
        assert json.loads(html.unescape(shown)) == real
    block = re.search(r"<summary>evaluation metrics \(JSON\)</summary><pre>(.*?)</pre>", page, re.S)
    assert block is not None
    assert json.loads(html.unescape(block.group(1)))["few_shot"] == real["few_shot"]


def test_counts_take_their_number() -> None:
    y = torch.arange(4).repeat_interleave(1)  # one image a class
    with pytest.raises(ValueError) as err:
        check_protocol(EvalConfig(shots=(1,), ways=4), y)
    said = str(err.value)
    assert "(1 shot + 1 query)" in said and "have at most 1 image;" in said
    with pytest.raises(ValueError, match=r"holds 1 class;"):
        check_protocol(EvalConfig(), torch.zeros(10, dtype=torch.long))


def test_classes_without_names_are_listed_once(demo_dir: Path) -> None:
    """digits' classes are named by their numbers: the list read '0 0, 1 1, ...'."""
    model = str(demo_dir / "model")
    res = CliRunner().invoke(cli, ["evaluate", model, "--data", "digits", "--classes", "6,12"])
    assert res.exit_code == 1
    assert "'12' is not one of the classes here: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in res.output
    res = CliRunner().invoke(cli, ["evaluate", model, "--data", "digits", "--classes", "6,7,6"])
    assert res.exit_code == 1 and "--classes names class 6 twice" in res.output


def test_demo_unknown_train_class_names_its_own_option(tmp_path: Path) -> None:
    """It suggested --set 'data.train_classes=...' (a train option) and listed '0 = 0, ...'."""
    out = tmp_path / "out"
    args = ["demo", "--config", TINY, "--out", str(out), "--train-classes", "0,1,12"]
    res = CliRunner().invoke(cli, [*args, "--no-progress"])
    assert res.exit_code == 1 and "--set" not in res.output
    said = " ".join(res.output.split())
    assert "unknown train class [12] in --train-classes" in said
    assert "digits has classes 0, 1, 2, 3, 4, 5, 6, 7, 8, 9;" in said
    assert "e.g. --train-classes 0,1,2" in said and not out.exists()


def test_demo_cohort_unlabeled_on_digits_names_the_option(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["demo", "--config", TINY, "--out", str(out), "--cohort", "unlabeled"]
    res = CliRunner().invoke(cli, args)
    said = " ".join(res.output.split())
    assert res.exit_code == 2 and "--cohort unlabeled needs unlabeled images" in said
    assert "eval.cohort =" not in said and "use --cohort train" in said and not out.exists()


def test_one_image_a_class_is_not_told_to_lower_val_fraction(tmp_path: Path) -> None:
    """No hold-out leaves a pair in a class of one image: the fix is more images."""
    root = write_glyph_folder(tmp_path / "one", 6, per_class=1, size=16)
    cfg = DataConfig(
        dataset="image-folder",
        root=str(root),
        image_size=16,
        grayscale=True,
        train_classes=(0, 1, 2, 3),
    )
    with pytest.raises(ValueError) as err:
        load_run_data(cfg)
    said = str(err.value)
    assert "has no class with 2 images" in said and "val_fraction" not in said
    assert said.endswith("give the training classes 2 or more images each")
