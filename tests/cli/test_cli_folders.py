"""Folders and the CLI: class names, enrollment of folders, calibrate's data rules, export --int8."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from _tiny_ssl import save_photos, train_tiny_ssl
from siamkit.cli.main import cli
from siamkit.data.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from siamkit.index import Gallery


def run(args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """An untrained 1×28×28 model whose metadata says it trained on Fashion-MNIST 0-5."""
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    pre = siamkit.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=16, preprocess=pre)
    meta = {
        "run": {"dataset": "fashion-mnist", "train_classes": [0, 1, 2, 3, 4, 5],
                "test_classes": [6, 7, 8, 9]},
        "class_names": list(FASHION_MNIST_CLASSES),
    }  # fmt: skip
    return siamkit.save_model(net, tmp_path_factory.mktemp("m") / "model", metadata=meta)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """people/<name>/*.png: 4 labels × 20 real Fashion-MNIST test images (classes 6-9)."""
    root = tmp_path_factory.mktemp("people") / "people"
    x, y = load_fashion_mnist("test")
    for name, c in zip(["ann", "bob", "cy", "dee"], range(6, 10)):
        (root / name).mkdir(parents=True)
        for j, row in enumerate(np.flatnonzero(y.numpy() == c)[:20]):
            Image.fromarray(x[row].numpy()).save(root / name / f"{j:02d}.png")
    return root


def test_evaluate_a_folder_prints_class_names_and_no_split(model, folder):
    out = run(["evaluate", model, "--data", folder, "--episodes", "10", "--shots", "1"])
    first = out.output.splitlines()[0]
    assert first == f"80 images of 4 classes (ann, bob, cy, dee) from the folder {folder}"
    assert "split" not in out.output


@pytest.mark.parametrize(
    ("data", "extra", "message"),
    [
        ("folder", ["--split", "train"], "--split is for --data fashion-mnist"),
        ("folder", ["--data-dir", "."], "--data-dir is for --data fashion-mnist"),
        ("digits", ["--split", "train", "--data-dir", "."], "--split and --data-dir are for"),
    ],
)
def test_evaluate_refuses_split_and_data_dir_it_would_ignore(
    model, folder, tmp_path, data, extra, message
):
    """With a folder or digits, evaluate scored the same images whatever --split / --data-dir
    said (as calibrate did): refused before anything is scored or a report written."""
    report = tmp_path / "report.html"
    data = folder if data == "folder" else data
    out = run(["evaluate", model, "--data", data, "--report", report, *extra], code=2)
    assert message in out.output
    assert not report.exists()


def test_classes_accept_names(model, folder):
    out = run(["evaluate", model, "--data", folder, "--classes", "bob,dee", "--episodes", "10",
               "--shots", "1", "--json"])  # fmt: skip
    assert json.loads(out.stdout)["data"]["classes"] == ["bob", "dee"]
    out = run(["evaluate", model, "--data", "fashion-mnist", "--classes", "Sneaker,Bag",
               "--episodes", "5", "--shots", "1"])  # fmt: skip
    assert "2,000 images of 2 classes (Sneaker, Bag)" in out.output
    out = run(["evaluate", model, "--data", folder, "--classes", "eve"], code=1)
    assert "'eve' is not one of the classes here: 0 ann, 1 bob, 2 cy, 3 dee" in out.output


def test_enroll_a_folder_one_label_per_subfolder_with_a_summary(model, folder, tmp_path):
    db = tmp_path / "g.db"
    out = run(["enroll", model, "--gallery", db, folder])
    assert out.output.strip() == (
        f"enrolled 80 images of 4 labels into {db} (now 80 items): ann 20, bob 20, cy 20, dee 20"
    )
    with Gallery.open(db) as g:
        assert {i.label: i.count for i in g.labels()} == {"ann": 20, "bob": 20, "cy": 20, "dee": 20}
    out = run(["enroll", model, "--gallery", db, "--label", "team", folder / "ann", "--json"])
    assert len(json.loads(out.stdout)["item_ids"]) == 20
    # each stored item is the model's own embedding of its file
    net = siamkit.load_model(model)
    files = sorted((folder / "dee").glob("*.png"))
    with torch.no_grad():
        z = net.embed(siamkit.data.load_images(files, (1, 28, 28))).numpy()
    with Gallery.open(db, net) as g:
        hits = g.identify_embeddings(z, k=1)
    assert all(h.matches[0].label == "dee" for h in hits)
    assert max(h.matches[0].distance for h in hits) < 2e-3  # same vector, up to float rounding


def _with_empty_classes(folder: Path, dest: Path, keep: list[str]) -> Path:
    """A copy of ``folder`` whose other class folders hold no images (a note in one)."""
    for name in sorted(p.name for p in folder.iterdir()):
        if name in keep:
            shutil.copytree(folder / name, dest / name)
        else:
            (dest / name).mkdir(parents=True)
    (dest / "cy" / "notes.txt").write_text("no image")
    return dest


def test_empty_class_folders_are_named_in_one_warning_line(model, folder, tmp_path):
    """A class folder without images was skipped without a word by evaluate and enroll: a class
    lost, or a label not enrolled, that the user learnt of later if at all."""
    data = _with_empty_classes(folder, tmp_path / "people", ["ann", "bob", "dee"])
    res = run(["evaluate", model, "--data", data, "--episodes", "5", "--shots", "1", "--json"])
    assert json.loads(res.stdout)["data"]["classes"] == ["ann", "bob", "dee"]
    exts = ".png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp"
    assert res.stderr.splitlines() == [
        f"warning: the class folder {data / 'cy'} holds no images ({exts}) and is left out: add "
        "its images, or remove the folder"
    ]
    res = run(["enroll", model, "--gallery", tmp_path / "g.db", data])
    assert res.stdout.startswith("enrolled 60 images of 3 labels")
    assert res.stderr.splitlines() == [
        f"warning: the label folder {data / 'cy'} holds no images ({exts}) and is left out: add "
        "its images, or remove the folder"
    ]


def test_too_few_classes_left_by_empty_folders_is_refused_naming_them(model, folder, tmp_path):
    """Enrolling folders that hold no images at all said only "no labelled images found";
    training or evaluating a folder left with one class did not say which folders were empty."""
    data = _with_empty_classes(folder, tmp_path / "people", ["ann"])
    exts = ".png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp"
    warning = (
        f"warning: 3 class folders of {data} hold no images ({exts}) and are left out (bob, cy, "
        "dee): add their images, or remove the folders"
    )
    res = run(["evaluate", model, "--data", data], code=1)
    assert res.stderr.splitlines() == [warning, f"Error: the folder {data} gives one class (ann); "
        "evaluate compares two or more: name them with --classes, or give a folder with a "
        "sub-folder per class"]  # fmt: skip
    tiny = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
    sets = ["data.dataset=image-folder", f"data.root={data}", "data.image_size=28",
            "data.grayscale=true", "data.train_classes=null"]  # fmt: skip
    res = run(["train", tiny, "--out", tmp_path / "run", *[a for s in sets for a in ("--set", s)]],
              code=1)  # fmt: skip
    assert res.stderr.splitlines()[0] == warning
    assert f"data.root {data} holds only 1 class (ann); similarity training needs" in res.stderr
    assert not (tmp_path / "run").exists()
    shutil.rmtree(data / "ann")
    (data / "ann").mkdir()
    res = run(["enroll", model, "--gallery", tmp_path / "g.db", data], code=2)
    assert res.stderr.splitlines()[-1] == (
        f"Error: nothing to enroll: the label folders {data / 'ann'}, {data / 'bob'}, "
        f"{data / 'cy'}, {data / 'dee'} hold no images ({exts}): put each label's images in its "
        "sub-folder"
    )
    assert not (tmp_path / "g.db").exists()


def test_enroll_refuses_loose_files_without_a_label(model, folder, tmp_path):
    out = run(["enroll", model, "--gallery", tmp_path / "g.db", folder / "ann"], code=2)
    assert "give --label" in out.output
    out = run(["enroll", model, "--gallery", tmp_path / "g.db", folder / "ann" / "00.png"], code=2)
    assert "--label" in out.output
    assert not (tmp_path / "g.db").exists()


def test_calibrate_refuses_the_test_classes_and_rewrites_only_the_threshold(model, folder):
    before = json.loads((model / "siamkit.json").read_text())
    out = run(["calibrate", model, "--data", "fashion-mnist", "--classes", "6,7"], code=1)
    assert "never on test classes" in out.output
    out = run(["calibrate", model, "--data", "fashion-mnist", "--max-pairs", "20000", "--json"])
    doc = json.loads(out.stdout)
    assert doc["classes"] == list(FASHION_MNIST_CLASSES[:6]) and doc["images"] == 6000
    after = json.loads((model / "siamkit.json").read_text())
    assert after["threshold"] == doc["threshold"] and after["fingerprint"] == before["fingerprint"]
    assert after["weights_sha256"] == before["weights_sha256"]
    assert siamkit.load_model(model).threshold == pytest.approx(doc["threshold"])
    # the threshold reproduces the calibrator's own choice on the same embeddings
    assert doc["tar"] > 0.3 and doc["far"] < 0.7


@pytest.mark.parametrize(
    ("classes", "named"), [("6", "Shirt is a class"), ("6,7", "Shirt, Sneaker are classes")]
)
def test_calibrate_names_one_test_class_in_the_singular(model, classes, named):
    """One test class was called "Shirt are classes this model is tested on"."""
    out = run(["calibrate", model, "--data", "fashion-mnist", "--classes", classes], code=1)
    assert out.output.startswith(f"Error: {named} this model is tested on: calibrate on ")


def test_calibrate_names_a_max_pairs_too_small_for_both_kinds_of_pair(model, folder, tmp_path):
    """A --max-pairs sample without an impostor (or genuine) pair was blamed on the classes
    ('needs both genuine and impostor pairs ... use at least two classes')."""
    copy = shutil.copytree(model, tmp_path / "m")
    before = (copy / "siamkit.json").read_bytes()
    out = run(["calibrate", copy, "--data", folder, "--max-pairs", "1"], code=1)
    # 4 classes of 20 images: 760 genuine pairs of 3,160; 84 draw about 20 of them
    assert out.output.strip() == (
        "Error: --max-pairs 1 is too small a sample for both genuine and impostor pairs (it drew "
        "0 genuine and 1 impostor of the 3,160 pairs here): raise it, e.g. --max-pairs 84"
    )
    assert (copy / "siamkit.json").read_bytes() == before
    out = run(["calibrate", copy, "--data", folder, "--max-pairs", "84", "--json"])
    assert json.loads(out.stdout)["genuine_pairs"] > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--far", "0.01"], "--far is the false accept rate allowed with --target far"),
        (["--target", "accuracy", "--far", "0.01"], "with --target accuracy it would be ignored"),
        (["--split", "train"], "--split is for --data fashion-mnist"),
        (["--data-dir", "."], "--data-dir is for --data fashion-mnist"),
    ],
)
def test_calibrate_refuses_an_option_it_would_ignore(model, folder, tmp_path, extra, message):
    """--far without --target far, and --split / --data-dir with a folder, were ignored: the
    threshold fit and saved was not the one asked for."""
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    before = (copy / "siamkit.json").read_text()
    out = run(["calibrate", copy, "--data", folder, *extra], code=2)
    assert message in out.output
    assert (copy / "siamkit.json").read_text() == before


def test_verify_without_a_threshold_names_calibrate(tmp_path, folder):
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    net = siamkit.SiameseNetwork(enc, embedding_dim=8)
    net.embed(torch.rand(2, 1, 28, 28))  # records the input shape
    m = siamkit.save_model(net, tmp_path / "m")
    out = run(["verify", m, folder / "ann" / "00.png", folder / "ann" / "01.png"])
    assert "siamkit calibrate MODEL --data" in out.output


def test_export_int8_reports_the_accuracy_change_and_needs_force(model, tmp_path, monkeypatch):
    monkeypatch.setattr("siamkit.cli._int8_check.CHECK_IMAGES", 300)
    out_file = tmp_path / "e" / "m.onnx"
    res = run(["export", model, "--int8", "--calib-size", "64", "--out", out_file, "--json"])
    check = json.loads(res.stdout)["int8_check"]
    assert check["images"].startswith("300 images of 4 classes (Shirt, Sneaker, Bag, Ankle boot)")
    assert set(check["fp32"]) == {"eer", "4way1shot"}  # the model records no run config
    for key in ("eer", "4way1shot"):
        assert check["change"][key] == pytest.approx(check["int8"][key] - check["fp32"][key])
        assert abs(check["change"][key]) < 0.1
    stamp = out_file.stat().st_mtime_ns
    res = run(["export", model, "--int8", "--out", out_file], code=2)
    assert "--force" in res.output and out_file.stat().st_mtime_ns == stamp
    assert "int8.onnx already exist; pass --force" in res.output  # two files: "exist"
    # Without --int8 the earlier int8 file would go stale beside the new graph: both are named,
    # the int8 file as one that --force removes.
    res = run(["export", model, "--out", out_file], code=2)
    assert f"{out_file} already exists; pass --force to replace it ({out_file.parent}" in res.output
    assert "m.int8.onnx, the int8 file of an earlier --int8 export" in res.output
    assert "would be removed), or --out elsewhere" in res.output
    res = run(["export", model, "--out", out_file, "--overwrite"])  # train's word, the same flag
    assert out_file.stat().st_mtime_ns != stamp


@pytest.mark.parametrize("data", ["fashion-mnist", "digits"])
def test_a_colour_model_on_grayscale_built_in_data_is_told_to_use_a_folder(tmp_path, data):
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[8, 16])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=8, preprocess=siamkit.models.Preprocess(input_shape=(3, 16, 16))
    )
    model = siamkit.save_model(net, tmp_path / "model")
    for command in (["evaluate"], ["calibrate", "--classes", "0,1,2"]):
        res = CliRunner().invoke(cli, [*command, str(model), "--data", data])
        assert res.exit_code != 0
        assert f"--data {data} holds grayscale images and this model takes 3-channel" in res.output
        assert "Traceback" not in res.output
    assert sorted(p.name for p in model.iterdir()) == ["model.safetensors", "siamkit.json"]


def test_tar_at_far_is_shown_only_where_the_impostor_pairs_can_measure_it() -> None:
    from siamkit.cli._metric_tables import headline_rows, unresolved_far_note
    from siamkit.evaluation.verification import far_resolved

    # one false accept among n impostor pairs is a rate of 1/n: FAR f needs n >= 1/f
    for n, far in [(999, 1e-3), (1000, 1e-3), (99, 1e-2), (100, 1e-2), (5, 0.5)]:
        assert far_resolved(far, n) == (n >= round(1 / far))
    ver = {"tar_at_far": {"0.01": 0.6, "0.001": 0.4}, "n_impostor": 600}
    assert dict(headline_rows({"verification": ver}))["TAR@FAR=1e-3"] is None
    note = unresolved_far_note(ver)
    assert note is not None and note.startswith("TAR@FAR=1e-3: not measured")
    assert "(1,000 for 1e-3), and these are 600" in note and "1e-2" not in note
    ver["n_impostor"] = 6_000_000
    assert dict(headline_rows({"verification": ver}))["TAR@FAR=1e-3"] == 0.4
    assert unresolved_far_note(ver) is None
    assert unresolved_far_note({"tar_at_far": {"0.001": 0.4}}) is None  # count unknown: shown


def test_a_folder_models_misfit_on_built_in_data_names_its_training_folder(tmp_path):
    # --data fashion-mnist: a model of a 3-channel folder was told to "give an image folder of
    # the kind it trained on" though its metadata names the folder
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[8, 16])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=8, preprocess=siamkit.models.Preprocess(input_shape=(3, 16, 16))
    )
    shoes = tmp_path / "shoes"
    meta = {"run": {"dataset": "image-folder", "data_root": str(shoes)}}
    model = siamkit.save_model(net, tmp_path / "model", metadata=meta)
    res = CliRunner().invoke(cli, ["evaluate", str(model), "--data", "fashion-mnist"])
    assert res.exit_code == 1, res.output
    assert f"it trained on the folder {shoes}: use --data {shoes}" in res.output
    # without --data it is no longer measured on Fashion-MNIST: its folder is named, gone
    res = CliRunner().invoke(cli, ["evaluate", str(model)])
    assert res.exit_code == 1, res.output
    assert res.output.startswith(
        f"Error: no --data given, and the folder this model trained on (data.root {shoes}) is "
        "not there"
    ), res.output


def test_an_ssl_model_of_a_folder_without_classes_is_told_what_evaluation_needs(tmp_path):
    """siamkit evaluate on a task: ssl model of a folder of loose photos said 'it trained on
    the folder P: use --data P', and --data P then failed with 'has no sub-folders'. Both now
    say evaluation needs classes: a folder of class sub-folders (or a built-in set that fits)."""
    photos = save_photos(tmp_path / "photos", 40)
    model = train_tiny_ssl(tmp_path, photos, image_size=16)
    needs = "give a folder with one sub-folder of images per class (--data DIR, e.g. DIR/cat/1.png"
    res = run(["evaluate", model], code=1)
    assert f"use --data {photos}" not in res.output
    assert (
        f"it learned from the folder {photos} without labels, and evaluation needs " in res.output
    )
    assert needs in res.output
    res = run(["evaluate", model, "--data", photos], code=1)
    assert "has no sub-folders" not in res.output
    said = " ".join(res.output.split())
    assert (
        f"--data {photos} holds images and no class sub-folders (the model learned from them "
        "without labels), so it has no classes to measure with: " in said
    ), said
    assert needs in said


def test_evaluate_without_shots_keeps_the_default_shots_a_small_folder_can_meet(model, tmp_path):
    """--shots defaulted to 1,5, so a folder of 3 images a class was refused ('4-way 5-shot
    evaluation cannot be met ... lower --shots') until --shots 1 was found. Left out, the
    default now keeps the 1-shot it can meet and says so in one line (stderr with --json);
    --shots 1,5 given is refused as before."""
    root = tmp_path / "small"
    gen = torch.Generator().manual_seed(0)
    for name in ("a", "b", "c", "d"):
        (root / name).mkdir(parents=True)
        for j in range(3):
            arr = (torch.rand(28, 28, generator=gen) * 255).to(torch.uint8).numpy()
            Image.fromarray(arr).save(root / name / f"{j}.png")
    line = (
        "evaluating 1-shot only: 5-shot needs 6 images a class (5 shots + 1 query), which too "
        "few of these classes hold; pass --shots to choose"
    )
    args = ["evaluate", model, "--data", root, "--episodes", "5"]
    res = run(args)
    assert line in res.output.splitlines()
    assert "1-shot" in res.output and "5-shot" not in res.output.replace(line, "")
    res = CliRunner().invoke(cli, [str(a) for a in [*args, "--json"]])
    assert res.exit_code == 0, res.output
    assert res.stderr.strip() == line
    assert list(json.loads(res.stdout)["few_shot"]) == ["4way1shot"]
    res = run([*args, "--shots", "1,5"], code=1)
    assert "4-way 5-shot evaluation cannot be met" in res.output


def test_the_far_note_names_only_the_tar_rows_its_table_shows() -> None:
    """With fewer than 100 impostor pairs evaluate's table showed one TAR@FAR=1e-3 row and the
    note under it said 'TAR@FAR=1e-2 and TAR@FAR=1e-3: not measured'; the note now names the
    rows the table has (the pairs CSV's table shows both, and its note names both)."""
    from siamkit.cli._metric_tables import headline_rows, metrics_table, unresolved_far_note

    ver = {"tar_at_far": {"0.01": 0.5, "0.001": 0.5}, "n_impostor": 54}
    table = metrics_table(headline_rows({"verification": ver}), ver)
    assert "TAR@FAR=1e-3: not measured" in table and "1e-2" not in table, table
    assert "(1,000 for 1e-3), and these are 54; the JSON keeps the value." in table
    assert unresolved_far_note(ver) == table.splitlines()[-1]  # as demo prints it
    both = metrics_table([("TAR@FAR=1e-2", None), ("TAR@FAR=1e-3", None)], ver)
    assert both.splitlines()[-1].startswith("TAR@FAR=1e-2 and TAR@FAR=1e-3: not measured")
