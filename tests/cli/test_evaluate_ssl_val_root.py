"""``siamkit evaluate MODEL`` without --data of a model trained self-supervised on a folder of
photos without classes fell back to Fashion-MNIST, a data set the model never saw (refused for a
colour model; a grey 28x28 one was measured on its classes 6-9), though its run recorded a labelled validation
folder (``data.val_root``): it now evaluates on that folder and says so; --data still wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from tests.cli._ssl_val_root_model import save_images, ssl_photo_model

import siamkit
from siamkit.cli._eval_data import val_root_note, val_root_source
from siamkit.cli.main import cli
from siamkit.models import Preprocess


def _evaluate(model: Path, *more: str) -> Any:
    args = ["evaluate", str(model), "--episodes", "20", "--no-progress", *more]
    return CliRunner().invoke(cli, args)


def test_without_data_it_evaluates_on_the_runs_labelled_validation_folder(tmp_path: Path) -> None:
    val = tmp_path / "labelled"
    model = ssl_photo_model(tmp_path, val)
    res = _evaluate(model)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == (
        f"24 images of 3 classes (cat, dog, owl) from the run's labelled validation folder "
        f"{val} (data.val_root)"
    ), lines
    assert lines[1] == val_root_note("evaluate")
    assert "not a held-out test set" in val_root_note(
        "evaluate"
    ) and "--data FOLDER" in val_root_note("evaluate")

    as_json = _evaluate(model, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert val_root_note("evaluate") in as_json.stderr
    metrics = json.loads(as_json.stdout)
    assert metrics["data"]["source"] == (
        f"the run's labelled validation folder {val} (data.val_root)"
    )
    # the same figures as the folder named with --data: the same images, only said otherwise
    named = _evaluate(model, "--json", "--data", str(val))
    assert named.exit_code == 0, named.output
    explicit = json.loads(named.stdout)
    assert explicit["data"].pop("source") == f"the folder {val}"
    metrics["data"].pop("source")
    assert metrics == explicit
    assert val_root_note("evaluate") not in named.stderr


def test_data_given_wins_over_the_validation_folder(tmp_path: Path) -> None:
    model = ssl_photo_model(tmp_path, tmp_path / "labelled")
    res = _evaluate(model, "--data", str(tmp_path / "elsewhere"))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == (
        f"12 images of 2 classes (ant, bee) from the folder {tmp_path / 'elsewhere'}"
    )
    assert "data.val_root" not in res.output


def test_a_validation_folder_that_is_gone_is_one_sentence_naming_data(tmp_path: Path) -> None:
    gone = tmp_path / "moved"
    model = ssl_photo_model(tmp_path, None)
    doc = json.loads((model / "siamkit.json").read_text())
    doc["metadata"]["run"]["val_root"] = str(gone)
    (model / "siamkit.json").write_text(json.dumps(doc))
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: the run's labelled validation folder (data.val_root) {gone} is not there; pass "
        "--data FOLDER (held-out images, one sub-folder per class)"
    ]


def test_a_supervised_run_does_not_take_the_validation_folder(tmp_path: Path) -> None:
    """Only a run that never saw a label takes its val_root: a supervised model's default is the
    folder it trained on (its test classes), refused here, naming it, as it holds no classes now
    (the Fashion-MNIST default, a data set it never saw, is gone for it)."""
    res = _evaluate(ssl_photo_model(tmp_path, tmp_path / "labelled", ssl=False))
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: no --data given, and the folder this model trained on (data.root "
        f"{tmp_path / 'photos'}) no longer holds the classes its run recorded, so which of them "
        "it did not train on is unknown: give --data a folder of classes it did not train on, "
        "one sub-folder per class (--classes picks some of them)"
    ]


def test_a_refusal_of_data_without_classes_names_the_validation_folder(tmp_path: Path) -> None:
    """--data the photos it learned from (no classes), or a built-in set of another shape, is
    refused; the sentence offers the labelled folder the run recorded, which the user has."""
    val = tmp_path / "labelled"
    model = ssl_photo_model(tmp_path, val)
    for data, start in (
        ("photos", f"Error: --data {tmp_path / 'photos'} holds images and no class sub-folders"),
        ("fashion-mnist", "Error: --data fashion-mnist holds grayscale images"),
    ):
        given = str(tmp_path / data) if data == "photos" else data
        res = _evaluate(model, "--data", given)
        assert res.exit_code == 1, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(start), lines
        assert (
            f"give the run's labelled validation folder (--data {val}) or a folder with one "
            "sub-folder of images per class" in lines[0]
        ), lines
    # a run without one is offered only a folder by class, as before
    (tmp_path / "second").mkdir()
    res = _evaluate(
        ssl_photo_model(tmp_path / "second", None), "--data", str(tmp_path / "second/photos")
    )
    assert res.exit_code == 1, res.output
    assert "validation folder" not in res.output
    assert "give a folder with one sub-folder of images per class" in res.output


def test_a_threshold_fit_on_the_evaluated_folder_is_said_to_be_in_sample(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """README's photo walk calibrates on the labelled folder, which evaluate then reads by
    default: the threshold's TAR and FAR there are its own fitting images' rates."""
    monkeypatch.chdir(tmp_path)
    model = ssl_photo_model(tmp_path, tmp_path / "labelled")
    other = tmp_path / "other"
    other.mkdir()
    model2 = ssl_photo_model(other, other / "labelled")
    note = "the model's threshold was fit on this folder's images (siamkit calibrate on {})"
    for m, given in ((model, "labelled"), (model2, str(tmp_path / "elsewhere"))):
        cal = CliRunner().invoke(cli, ["calibrate", str(m), "--data", given, "--no-progress"])
        assert cal.exit_code == 0, cal.output

    res = _evaluate(model, "--json")  # calibrated on labelled/ (relative), evaluated on it
    assert res.exit_code == 0, res.output
    said = note.format("the folder labelled")
    assert said in res.stderr, res.stderr
    assert json.loads(res.stdout)["calibration"]["fit_on"] == "the folder labelled"
    text = _evaluate(model, "--data", "labelled", "--classes", "cat,dog")
    assert text.exit_code == 0 and said in text.stdout, text.output

    # fit on other images (elsewhere/, classes ant and bee): nothing to say
    res = _evaluate(model2, "--json")
    assert res.exit_code == 0, res.output
    assert "fit on this folder" not in res.output
    assert "fit_on" not in json.loads(res.stdout)["calibration"]


def test_the_threshold_note_compares_the_folders_themselves_not_their_paths_as_typed(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """calibrate recorded the folder as typed (``the folder labelled``) and evaluate read it from
    where it ran: another project's ``labelled/`` of the same class names was said to be the
    threshold's fitting images, and the very folder, evaluated by default from elsewhere, was
    not. calibrate now records the folder's own path (``root``), which evaluate compares."""
    monkeypatch.chdir(tmp_path)
    model = ssl_photo_model(tmp_path, tmp_path / "labelled")
    rng = np.random.default_rng(3)
    for c in ("cat", "dog", "owl"):  # another project's folder, of the same class names
        save_images(tmp_path / "twin" / "labelled" / c, 8, rng)
    cal = CliRunner().invoke(cli, ["calibrate", str(model), "--data", "labelled", "--json"])
    assert cal.exit_code == 0, cal.output
    assert json.loads(cal.stdout)["root"] == str((tmp_path / "labelled").resolve())
    note = "the model's threshold was fit on this folder's images"

    monkeypatch.chdir(tmp_path / "twin")  # its own labelled/: not the one calibrated on
    res = _evaluate(model, "--json", "--data", "labelled")
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.stdout)
    assert metrics["data"]["classes"] == ["cat", "dog", "owl"]
    assert note not in res.output
    assert "fit_on" not in metrics["calibration"]

    monkeypatch.chdir(tmp_path / "elsewhere")  # the run's folder, read by default from here
    res = _evaluate(model, "--json")
    assert res.exit_code == 0, res.output
    assert note in res.stderr, res.stderr
    assert json.loads(res.stdout)["calibration"]["fit_on"] == "the folder labelled"

    # a record made before root was kept: its text is read only where it is an absolute path
    doc = json.loads((model / "siamkit.json").read_text())
    del doc["metadata"]["calibration"]["root"]
    for said, expected in (
        ("the folder labelled", None),
        (f"the folder {tmp_path / 'labelled'}", f"the folder {tmp_path / 'labelled'}"),
    ):
        doc["metadata"]["calibration"]["data"] = said
        (model / "siamkit.json").write_text(json.dumps(doc))
        for where in (tmp_path, tmp_path / "elsewhere"):
            monkeypatch.chdir(where)
            res = _evaluate(model, "--json")
            assert res.exit_code == 0, res.output
            assert json.loads(res.stdout)["calibration"].get("fit_on") == expected, (said, where)


def test_a_threshold_fit_on_the_validation_folder_without_data_is_said_to_be_in_sample(
    tmp_path: Path,
) -> None:
    """calibrate and evaluate, both given no --data, read the run's labelled validation folder:
    evaluate finds the threshold fit there through calibrate's recorded root, not by parsing
    its ``calibration.data`` text (what it says the folder as)."""
    model = ssl_photo_model(tmp_path, tmp_path / "labelled")
    cal = CliRunner().invoke(cli, ["calibrate", str(model), "--no-progress"])
    assert cal.exit_code == 0, cal.output
    res = _evaluate(model, "--json")
    assert res.exit_code == 0, res.output
    said = val_root_source(str(tmp_path / "labelled"))
    assert json.loads(res.stdout)["calibration"]["fit_on"] == said


def _grey_28x28_model(folder: Path, meta: dict[str, Any]) -> Path:
    """An untrained grey 28x28 model (the shape Fashion-MNIST would fit) saved in ``folder``
    with ``meta``."""
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 28, 28))
    )
    return siamkit.save_model(net.eval(), folder, metadata=meta)


def _no_labels_refusal(photos: Path) -> str:
    """evaluate's refusal, without --data, of a model that learned from ``photos`` unlabelled."""
    return (
        f"Error: no --data given: it learned from the folder {photos} without labels, and "
        "evaluation needs classes: give a folder with one sub-folder of images per class "
        "(--data DIR, e.g. DIR/cat/1.png, DIR/dog/2.png; its images are resized to the model's "
        "size), or --data fashion-mnist"
    )


def test_without_data_or_a_validation_folder_a_grey_photo_model_is_not_measured_on_fashion_mnist(
    tmp_path: Path,
) -> None:
    """A grey 28x28 model fits Fashion-MNIST's images, so the built-in default was read and
    measured, a data set the model never saw; it is now refused, offering what to give."""
    photos = tmp_path / "photos"
    photos.mkdir()
    run = {"dataset": "image-folder", "data_root": str(photos), "labels_used": False}
    meta = {"run": run, "config": {"data": {"dataset": "image-folder", "root": str(photos)}}}
    model = _grey_28x28_model(tmp_path / "model", meta)
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [_no_labels_refusal(photos)]


def test_a_self_supervised_model_saved_before_labels_used_was_recorded_is_not_measured_on_fmnist(
    tmp_path: Path,
) -> None:
    """Models saved before ``run.labels_used`` was recorded say they learned without labels by
    ``self_supervised`` alone (and no ``run``): such a grey 28x28 one was still measured on
    Fashion-MNIST's classes 6-9; it is refused as one recording ``labels_used: false`` is, and
    evaluated on the labelled folder its config names (an absolute path) where there is one."""
    photos = tmp_path / "photos"
    photos.mkdir()
    data: dict[str, Any] = {"dataset": "image-folder", "root": str(photos)}
    meta = {"self_supervised": {"method": "simclr"}, "config": {"data": data}}
    model = _grey_28x28_model(tmp_path / "model", meta)
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [_no_labels_refusal(photos)]

    val = tmp_path / "labelled"
    rng = np.random.default_rng(1)
    for c in ("cat", "dog", "owl"):
        save_images(val / c, 8, rng)
    data["val_root"] = str(val)
    model = _grey_28x28_model(tmp_path / "model2", meta)
    res = _evaluate(model)
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:2] == [
        f"24 images of 3 classes (cat, dog, owl) from the run's labelled validation folder "
        f"{val} (data.val_root)",
        val_root_note("evaluate"),
    ], res.stdout


def test_an_old_models_relative_validation_folder_is_not_read_from_another_folder(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A model saved before ``run.val_root`` was recorded has only its config's ``data.val_root``,
    as written (``labelled``: relative to where it trained). Run from another project holding its
    own ``labelled/``, evaluate read that folder and called it the run's; export's int8 check
    measured it. Both now say the path is relative and to pass the option instead."""
    model = ssl_photo_model(tmp_path / "proj", tmp_path / "proj" / "labelled")
    doc = json.loads((model / "siamkit.json").read_text())
    del doc["metadata"]["run"]["val_root"]
    doc["metadata"]["config"]["data"]["val_root"] = "labelled"
    (model / "siamkit.json").write_text(json.dumps(doc))
    rng = np.random.default_rng(9)
    for c in ("apple", "pear"):
        save_images(tmp_path / "other" / "labelled" / c, 8, rng)
    monkeypatch.chdir(tmp_path / "other")
    sentence = (
        "the run recorded its labelled validation folder as data.val_root labelled, relative to "
        "the folder it trained in, which it does not record; pass {} FOLDER (held-out images, "
        "one sub-folder per class)"
    )
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [f"Error: {sentence.format('--data')}"]

    exported = CliRunner().invoke(cli, ["export", str(model), "--int8", "--json", "--no-progress"])
    assert exported.exit_code == 0, exported.output
    check = json.loads(exported.stdout)["int8_check"]
    assert check == f"accuracy change not measured: {sentence.format('--check-data')}"

    # --data the folder, made absolute: evaluated as any folder given
    named = _evaluate(model, "--data", str(tmp_path / "proj" / "labelled"))
    assert named.exit_code == 0, named.output
    assert "(cat, dog, owl)" in named.stdout.splitlines()[0]


def test_a_validation_folder_under_the_runs_data_root_is_said_to_be_trained_on(
    tmp_path: Path,
) -> None:
    """A self-supervised run trains on every image under data.root, its labelled folder's too
    when that lies under it: evaluate's figures there are in-sample, said in a note and in
    --json's data (the run's own check: the folders resolved, the one inside the other)."""
    photos = tmp_path / "photos"
    val = photos / "labelled"
    model = ssl_photo_model(tmp_path, val)
    res = _evaluate(model)
    assert res.exit_code == 0, res.output
    note = (
        f"the run also trained on these images (without their labels): data.val_root {val} lies "
        f"under data.root {photos}, so these figures are not held out; pass --data FOLDER "
        "(images kept out of data.root, one sub-folder per class) for held-out ones"
    )
    assert res.stdout.splitlines()[1:3] == [val_root_note("evaluate"), note]
    as_json = _evaluate(model, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert note in as_json.stderr.splitlines()
    assert json.loads(as_json.stdout)["data"]["in_sample"] is True
    # a sibling folder whose name starts like data.root's is not under it
    apart = tmp_path / "apart"
    res = _evaluate(ssl_photo_model(apart, apart / "photos-labelled"), "--json")
    assert res.exit_code == 0, res.output
    assert "also trained on" not in res.output
    assert "in_sample" not in json.loads(res.stdout)["data"]


def test_a_one_class_validation_folder_is_refused_naming_data_to_pass(tmp_path: Path) -> None:
    """The refusal of a folder of one class said to name its classes with --classes or to give
    a folder, though no folder was given: it now says to pass --data."""
    val = tmp_path / "labelled"
    model = ssl_photo_model(tmp_path, val)
    for c in ("dog", "owl"):
        for f in (val / c).iterdir():
            f.unlink()
        (val / c).rmdir()
    res = _evaluate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: the run's labelled validation folder {val} (data.val_root) gives one class "
        "(cat); evaluate compares two or more: pass --data FOLDER with a sub-folder per class, "
        "two or more"
    ]


def test_a_validation_folder_without_classes_is_named_as_such_not_offered_back(
    tmp_path: Path,
) -> None:
    """The run's labelled folder, its images since moved out of their class sub-folders, was
    refused as '--data X holds images and no class sub-folders ... give the run's labelled
    validation folder (--data X)': an option not given, and the same folder offered back."""
    val = tmp_path / "labelled"
    model = ssl_photo_model(tmp_path, val)
    for c in ("cat", "dog", "owl"):
        for f in (val / c).iterdir():
            f.rename(val / f"{c}{f.name}")
        (val / c).rmdir()
    want = [
        f"Error: the run's labelled validation folder {val} (data.val_root) holds images and no "
        "class sub-folders, so it has no classes to measure with: pass --data FOLDER with one "
        "sub-folder of images per class (e.g. FOLDER/cat/1.png, FOLDER/dog/2.png)"
    ]
    for res in (
        _evaluate(model),
        _evaluate(model, "--data", str(val)),
        CliRunner().invoke(cli, ["calibrate", str(model), "--no-progress"]),
    ):
        assert res.exit_code == 1, res.output
        assert res.output.strip().splitlines() == want
