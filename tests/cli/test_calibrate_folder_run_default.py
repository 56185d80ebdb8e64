"""``siamkit calibrate MODEL`` without --data, of a supervised model trained on an image folder,
was click's bare "Missing option '--data'". Where its run held out whole classes for validation
(``data.val_classes``) it now calibrates on those classes of that folder, the held-out images
its training chose by, and says so; else it is refused in one sentence naming the folder and
what to give. Never Fashion-MNIST, nor the folder's training or test classes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.cli._folder_run_model import folder_model, no_fashion_mnist  # noqa: F401

from siamkit.cli.main import cli
from siamkit.data.synthetic_glyphs import write_glyph_folder

NOTE = (
    "no --data given: calibrated on the folder the model trained on (data.root), its run's "
    "validation classes (data.val_classes), held out of training but used to choose its epoch, "
    "not a test set; pass --data FOLDER (one sub-folder per class) to calibrate on other images"
)
HELD_OUT = (
    "give --data a folder of held-out images of the classes it trained on (never of classes it "
    "is tested on), one sub-folder per class"
)


def _calibrate(model: Path, *more: str) -> Any:
    return CliRunner().invoke(cli, ["calibrate", str(model), "--no-progress", *more])


def test_without_data_it_calibrates_on_the_runs_validation_classes(tmp_path: Path) -> None:
    model, glyphs = folder_model(tmp_path)
    text = _calibrate(model)
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[:2] == [
        f"calibrating on 12 images of 2 classes (glyph0001, glyph0006) from the folder {glyphs}",
        NOTE,
    ]
    quiet = _calibrate(model, "--json")
    assert quiet.exit_code == 0, quiet.output
    assert NOTE in quiet.stderr
    # the same fit as --data ROOT --classes of its validation classes, named by hand
    named = _calibrate(model, "--json", "--data", str(glyphs), "--classes", "glyph0001,glyph0006")
    assert named.exit_code == 0, named.output
    assert json.loads(quiet.stdout) == json.loads(named.stdout)
    assert NOTE not in named.output


def test_classes_given_without_data_are_its_folders_and_still_guarded(tmp_path: Path) -> None:
    model, glyphs = folder_model(tmp_path)
    res = _calibrate(model, "--classes", "glyph0000,glyph0001")  # glyph0000: trained on
    assert res.exit_code == 1, res.output
    assert res.output.startswith(f"Error: the images of glyph0000 in {glyphs} are all ones")
    res = _calibrate(model, "--classes", "glyph0006,glyph0001")
    assert res.exit_code == 0, res.output
    assert "the classes --classes names" in res.output


def test_a_run_that_held_out_images_is_refused_naming_its_folder(tmp_path: Path) -> None:
    """Its validation images are a share of each training class, which the folder does not
    tell apart: every class there was trained on or is tested on."""
    model, glyphs = folder_model(tmp_path, every_class=True)
    res = _calibrate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: no --data given, and the folder this model trained on (data.root {glyphs}) "
        "holds the images it trained on and those it is tested on, its run having held out "
        f"images, not whole classes, for validation: {HELD_OUT}"
    ]


def test_a_training_folder_that_is_gone_is_one_sentence_naming_it(tmp_path: Path) -> None:
    model, glyphs = folder_model(tmp_path)
    shutil.rmtree(glyphs)
    before = (model / "siamkit.json").read_text()
    res = _calibrate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: no --data given, and the folder this model trained on (data.root {glyphs}) is "
        f"not there: {HELD_OUT}"
    ]
    assert (model / "siamkit.json").read_text() == before


def test_a_folder_with_other_classes_now_is_refused(tmp_path: Path) -> None:
    """Its run's class numbers name other classes there: the "validation classes" could be
    ones it trained on."""
    model, glyphs = folder_model(tmp_path)
    shutil.copytree(glyphs / "glyph0000", glyphs / "aardvark")
    res = _calibrate(model)
    assert res.exit_code == 1, res.output
    # calibrate's own advice, not evaluate's "classes it did not train on" (its test classes
    # too, which calibrate refuses; reviewer s51_R8)
    assert res.output.strip().splitlines() == [
        f"Error: no --data given, and the folder this model trained on (data.root {glyphs}) no "
        "longer holds the classes its run recorded, so which of them it held out for "
        f"validation is unknown: {HELD_OUT}"
    ]


def test_a_model_saved_before_val_held_out_calibrates_on_its_validation_classes(
    tmp_path: Path,
) -> None:
    """A 12-04 model records data.val_classes in its config but neither run.val_classes nor
    run.val_held_out: it was refused as one whose run "held out images, not whole classes"
    (reviewer s51_R8). Its validation classes are those neither trained on nor tested."""
    model, glyphs = folder_model(tmp_path)
    doc = json.loads((model / "siamkit.json").read_text())
    del doc["metadata"]["run"]["val_classes"], doc["metadata"]["run"]["val_held_out"]
    (model / "siamkit.json").write_text(json.dumps(doc))
    quiet = _calibrate(model, "--json")
    assert quiet.exit_code == 0, quiet.output
    assert NOTE in quiet.stderr
    named = _calibrate(model, "--json", "--data", str(glyphs), "--classes", "glyph0001,glyph0006")
    assert named.exit_code == 0, named.output
    assert json.loads(quiet.stdout) == json.loads(named.stdout)
    assert json.loads(quiet.stdout)["classes"] == ["glyph0001", "glyph0006"]


def test_an_old_models_relative_root_is_not_read_from_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was: run from another project holding a glyphs/ of the same classes, calibrate fit
    the threshold on that folder and saved it into the model (reviewer s51_R8)."""
    model, _ = folder_model(tmp_path / "a")
    doc = json.loads((model / "siamkit.json").read_text())
    del doc["metadata"]["run"]["data_root"]  # as before run.data_root: the config's, relative
    doc["metadata"]["config"]["data"]["root"] = "glyphs"
    (model / "siamkit.json").write_text(json.dumps(doc))
    before = (model / "siamkit.json").read_text()
    (other := tmp_path / "b").mkdir()
    write_glyph_folder(other / "glyphs", 7, per_class=9)
    monkeypatch.chdir(other)
    res = _calibrate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        "Error: no --data given, and this model recorded the folder it trained on as data.root "
        f"glyphs, relative to the folder it trained in, which it does not record: {HELD_OUT}"
    ]
    assert (model / "siamkit.json").read_text() == before
