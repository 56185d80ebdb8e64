"""``siamkit evaluate MODEL`` without --data, of a supervised model trained on an image folder
(issue 20's walk), fell back to Fashion-MNIST's test split: classes, of another data set, the
model never saw, said only in the data line. It now evaluates the run's own test set in the
folder it trained on (as ``--data ROOT`` does, and ``siamkit train`` did) and says so; a folder
that is gone, or holds other classes now, is refused in one sentence naming it and --data.
export --int8's check reads the same default and says the same when it cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.cli._folder_run_model import TRAIN, folder_model, no_fashion_mnist  # noqa: F401

from siamkit.cli.main import cli
from siamkit.data.synthetic_glyphs import write_glyph_folder


def _evaluate(model: Path, *more: str) -> Any:
    args = ["evaluate", str(model), "--episodes", "5", "--no-progress", *more]
    return CliRunner().invoke(cli, args)


def test_without_data_it_evaluates_the_runs_test_classes_in_its_folder(tmp_path: Path) -> None:
    model, glyphs = folder_model(tmp_path)
    res = _evaluate(model)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == (
        f"12 images of 2 classes (glyph0003, glyph0005) from the folder {glyphs} (the classes "
        "the model did not train on)"
    ), lines
    assert lines[1] == (
        "no --data given: evaluated on the folder the model trained on (data.root), the classes "
        "its run kept for testing, as siamkit train did; pass --data FOLDER (one sub-folder per "
        "class) to evaluate on other images"
    )
    # the same figures as --data ROOT, the run's own test set, read explicitly
    quiet = _evaluate(model, "--json")
    named = _evaluate(model, "--json", "--data", str(glyphs))
    assert quiet.exit_code == 0 and named.exit_code == 0, (quiet.output, named.output)
    assert json.loads(quiet.stdout) == json.loads(named.stdout)
    assert lines[1] in quiet.stderr and lines[1] not in named.output


def test_a_run_on_every_class_evaluates_the_images_it_held_out(tmp_path: Path) -> None:
    model, glyphs = folder_model(tmp_path, every_class=True)
    res = _evaluate(model, "--json")
    named = _evaluate(model, "--json", "--data", str(glyphs))
    assert res.exit_code == 0 and named.exit_code == 0, (res.output, named.output)
    assert (
        "no --data given: evaluated on the folder the model trained on (data.root), the images "
        "its run held out of training, as siamkit train did" in res.stderr
    ), res.stderr
    assert json.loads(res.stdout) == json.loads(named.stdout)


def test_classes_given_without_data_are_read_from_its_folder(tmp_path: Path) -> None:
    model, glyphs = folder_model(tmp_path)
    res = _evaluate(model, "--classes", "glyph0001,glyph0003")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:2] == [
        f"12 images of 2 classes (glyph0001, glyph0003) from the folder {glyphs}",
        "no --data given: evaluated on the folder the model trained on (data.root), the "
        "classes --classes names; pass --data FOLDER (one sub-folder per class) to evaluate "
        "on other images",
    ]


def test_a_training_folder_that_is_gone_is_one_sentence_naming_it(tmp_path: Path) -> None:
    model, glyphs = folder_model(tmp_path)
    shutil.rmtree(glyphs)
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: no --data given, and the folder this model trained on (data.root {glyphs}) is "
        "not there: give --data a folder of classes it did not train on, one sub-folder per "
        "class (--classes picks some of them)"
    ]


def test_a_training_folder_with_other_classes_now_is_refused(tmp_path: Path) -> None:
    """Its run's class numbers no longer name the same classes: all of them would be read,
    those it trained on too, as if unseen."""
    model, glyphs = folder_model(tmp_path)
    shutil.copytree(glyphs / "glyph0000", glyphs / "aardvark")
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: no --data given, and the folder this model trained on (data.root {glyphs}) no "
        "longer holds the classes its run recorded, so which of them it did not train on is "
        "unknown: give --data a folder of classes it did not train on, one sub-folder per class "
        "(--classes picks some of them)"
    ]


def test_a_run_on_data_that_cannot_be_read_back_is_refused(tmp_path: Path) -> None:
    model, _ = folder_model(tmp_path)
    doc = json.loads((model / "siamkit.json").read_text())
    doc["metadata"]["run"] = {"dataset": "synthetic-glyphs", "train_classes": TRAIN}
    doc["metadata"]["config"] = {"data": {"dataset": "synthetic-glyphs"}}
    (model / "siamkit.json").write_text(json.dumps(doc))
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        "Error: no --data given, and this model trained on synthetic-glyphs data, which cannot "
        "be read back by name: give --data a folder of classes it did not train on, one "
        "sub-folder per class (--classes picks some of them)"
    ]


def _int8_check(model: Path) -> Any:
    args = ["export", str(model), "--int8", "--int8-mode", "dynamic", "--no-progress", "--json",
            "--force"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["int8_check"]


def test_the_int8_check_without_check_data_says_the_folder_is_gone(tmp_path: Path) -> None:
    """It read Fashion-MNIST's test split in its place (a grey 28x28 model)."""
    model, glyphs = folder_model(tmp_path)
    measured = _int8_check(model)
    assert isinstance(measured, dict), measured  # on the folder's test classes, while there
    shutil.rmtree(glyphs)
    assert _int8_check(model) == (
        f"accuracy change not measured: no --check-data given, and the folder this model "
        f"trained on (data.root {glyphs}) is not there: give --check-data a folder of classes "
        "it did not train on, one sub-folder per class"
    )


def _old_relative_root(model: Path) -> None:
    """As a model saved before run.data_root: only the config's data.root, relative to the
    folder its run was started in."""
    doc = json.loads((model / "siamkit.json").read_text())
    del doc["metadata"]["run"]["data_root"]
    doc["metadata"]["config"]["data"]["root"] = "glyphs"
    (model / "siamkit.json").write_text(json.dumps(doc))


def test_an_old_models_relative_root_is_not_read_from_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was: run from another project holding a glyphs/ of the same classes, evaluate scored
    that folder as "the folder the model trained on" (reviewer s51_R8)."""
    model, _ = folder_model(tmp_path / "a")
    _old_relative_root(model)
    (other := tmp_path / "b").mkdir()
    write_glyph_folder(other / "glyphs", 7, per_class=9)
    monkeypatch.chdir(other)
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        "Error: no --data given, and this model recorded the folder it trained on as data.root "
        "glyphs, relative to the folder it trained in, which it does not record: give --data a "
        "folder of classes it did not train on, one sub-folder per class (--classes picks some "
        "of them)"
    ]
    assert _evaluate(model, "--data", "glyphs").exit_code == 0  # given, it is read


def _add_one_image(root: Path) -> None:
    """One more image in class glyph0001, sorted last."""
    first = sorted((root / "glyph0001").iterdir())[0]
    shutil.copy(first, root / "glyph0001" / f"zz{first.suffix}")


def test_a_run_on_every_class_whose_folder_gained_an_image_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its test images are a seeded share of each class, drawn from the classes' image counts:
    one image added to a class draws others, mostly ones it trained on, which evaluate scored
    without --data as "the images its run held out of training" (reviewer s51_R8)."""
    res, model, root = _every_class_run_changed_while_training(
        tmp_path, monkeypatch, lambda r: None
    )
    assert res.exit_code == 0, res.output
    assert _evaluate(model, "--json").exit_code == 0  # its folder as it trained on it
    _add_one_image(root)
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: no --data given, and the folder this model trained on (data.root {root}) no "
        "longer holds the images its run split (glyph0001: 11 images, 10 when it trained), so "
        "which of them it held out of training is unknown: give --data a folder of classes it "
        "did not train on, one sub-folder per class (--classes picks some of them)"
    ]


def _every_class_run_changed_while_training(tmp_path: Path, monkeypatch, change) -> Any:
    """Train a data.train_classes: null run on a 3-class folder, calling ``change(root)`` once
    training (Trainer.fit) has returned, before the run saves and evaluates; the CLI's result,
    the model folder and the data folder."""
    from tests.cli.test_train_cli import FOLDER_RUN

    from siamkit.training import Trainer

    root = tmp_path / "chips"
    write_glyph_folder(root, 3, per_class=10)
    (tmp_path / "run.yaml").write_text(
        FOLDER_RUN.replace("data/x", str(root)).replace("train_classes: 5", "train_classes: null")
    )
    fit = Trainer.fit

    def fit_then_change(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        fitted = fit(self, *args, **kwargs)
        change(root)
        return fitted

    monkeypatch.setattr(Trainer, "fit", fit_then_change)
    out = tmp_path / "run"
    sets = ["--set", "eval.shots=[1]", "--set", "train.classes_per_batch=3"]
    args = ["train", str(tmp_path / "run.yaml"), "--out", str(out), "--no-progress", *sets]
    return CliRunner().invoke(cli, args), out / "model", root


def test_image_counts_are_the_ones_the_runs_split_was_drawn_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.class_images was listed after training: an image added while the run trained was
    counted though its split was drawn without it, and evaluate without --data then scored
    another split as the images the run held out (reviewer s51_R9)."""

    res, model, _ = _every_class_run_changed_while_training(tmp_path, monkeypatch, _add_one_image)
    assert res.exit_code == 0, res.output
    run = json.loads((model / "siamkit.json").read_text())["metadata"]["run"]
    assert run["class_images"] == [10, 10, 10]
    refused = _evaluate(model)
    assert refused.exit_code == 1 and "glyph0001: 11 images, 10 when it trained" in refused.output


def test_a_folder_gone_once_training_ended_still_leaves_the_model_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing the folder after training, before the model was saved, failed the run with no
    model when the folder had gone meanwhile (reviewer s51_R9)."""
    res, model, _ = _every_class_run_changed_while_training(
        tmp_path, monkeypatch, lambda r: r.rename(r.with_name("moved"))
    )
    assert (model / "siamkit.json").is_file(), res.output
    run = json.loads((model / "siamkit.json").read_text())["metadata"]["run"]
    assert run["class_images"] == [10, 10, 10]


def test_a_run_on_every_class_that_recorded_no_image_counts_is_refused(tmp_path: Path) -> None:
    """A model saved before run.class_images: whether its held-out images are still the ones
    its split drew cannot be checked."""
    model, glyphs = folder_model(tmp_path, every_class=True)
    doc = json.loads((model / "siamkit.json").read_text())
    del doc["metadata"]["run"]["class_images"]
    (model / "siamkit.json").write_text(json.dumps(doc))
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        "Error: no --data given, and this model's run does not record how many images each "
        f"class of the folder it trained on (data.root {glyphs}) held, so whether the images "
        "it held out of training are still the ones it tested cannot be checked: give --data a "
        "folder of classes it did not train on, one sub-folder per class (--classes picks some "
        "of them)"
    ]
    assert _evaluate(model, "--data", str(glyphs)).exit_code == 0  # given, it is read


def test_the_changed_folder_refusal_counts_images_and_classes_in_number(tmp_path: Path) -> None:
    """The refusal built "a: 1 images, 2 when it trained" and " and 1 more classes" by hand,
    and printed 1,300 without its separator (s60_FB finding 1)."""
    from PIL import Image

    from siamkit.cli._eval_data import _refuse_changed_split

    for c in "abcd":
        (tmp_path / c).mkdir()
        Image.new("L", (8, 8)).save(tmp_path / c / "x.png")
    meta = {"class_names": list("abcd"), "run": {"class_images": [2, 1300, 2, 2]}}
    with pytest.raises(ValueError) as e:
        _refuse_changed_split(str(tmp_path), meta, "--data")
    assert (
        "(a: 1 image, 2 when it trained; b: 1 image, 1,300 when it trained; c: 1 image, 2 when "
        "it trained and 1 more class)"
    ) in str(e.value)
