"""``siamkit export --int8`` of a self-supervised model trained on a folder of photos without
classes measured nothing ("holds images and no class sub-folders"), though its run recorded a
labelled validation folder (``data.val_root``, its kNN monitor's images by class): the check
now measures on that folder and says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.export_cmd import export
from siamkit.cli.main import cli
from siamkit.models import Preprocess


def _images(folder: Path, count: int, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (14, 14), dtype=np.uint8)).save(folder / f"{i}.png")


def _ssl_model(tmp_path: Path, val_root: str | None, made: bool = True) -> Path:
    """A model saved as ``task: ssl`` records a run on the loose photos of ``photos/``, with a
    labelled ``val_root`` (``made``: there, 5 classes of 7 images)."""
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    _images(photos, 6, rng)
    if val_root is not None and made:
        for c in ("cat", "dog", "owl", "fox", "elk"):  # 5 classes of 7: 105 genuine pairs
            _images(Path(val_root) / c, 7, rng)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 12, 12))
    )
    run = {"dataset": "image-folder", "data_root": str(photos), "train_classes": None,
           "test_classes": None, "labels_used": False}  # fmt: skip
    data = {"dataset": "image-folder", "root": str(photos), "val_root": val_root}
    meta = {"run": run, "config": {"data": data}}  # as task: ssl records them
    return siamkit.save_model(net.eval(), tmp_path / "model", metadata=meta)


def _check(model: Path):
    res = CliRunner().invoke(export, [str(model), "--int8", "--json", "--no-progress"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["int8_check"]


def test_the_check_measures_on_the_runs_labelled_validation_folder(tmp_path):
    val = tmp_path / "labelled"
    check = _check(_ssl_model(tmp_path, str(val)))
    assert isinstance(check, dict), check  # measured, not "accuracy change not measured: ..."
    assert check["images"] == (
        f"35 images of 5 classes (cat, dog, elk, fox, owl) from the run's labelled validation "
        f"folder {val} (data.val_root)"
    )
    assert "too_few_images" not in check


def test_a_recorded_validation_folder_that_is_gone_is_named(tmp_path):
    gone = tmp_path / "moved"
    check = _check(_ssl_model(tmp_path, str(gone), made=False))
    assert check == (
        f"accuracy change not measured: the run's labelled validation folder (data.val_root) "
        f"{gone} is not there; pass --check-data FOLDER (held-out images, one sub-folder per "
        "class)"
    )


def test_without_a_validation_folder_it_still_says_the_photos_have_no_classes(tmp_path):
    check = _check(_ssl_model(tmp_path, None))
    assert isinstance(check, str) and check.startswith("accuracy change not measured:")
    assert "no class sub-folders (the model learned from them without labels)" in check


def test_a_relative_val_root_is_found_from_another_folder(tmp_path, monkeypatch):
    """A run trained with ``data.val_root: labelled`` in one folder recorded it relative to that
    folder, so an export --int8 run from another folder said the folder was not there."""
    where = tmp_path / "project"
    rng = np.random.default_rng(0)
    _images(where / "photos", 8, rng)
    for c in ("cat", "dog", "owl"):
        _images(where / "labelled" / c, 5, rng)
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": "photos", "val_root": "labelled",
                 "image_size": 8, "grayscale": True},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 4},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 1, "knn_k": 3, "device": "cpu"},
    }  # fmt: skip
    (where / "ssl.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(where)
    res = CliRunner().invoke(cli, ["train", "ssl.yaml", "--out", "run", "--no-progress"])
    assert res.exit_code == 0, res.output
    monkeypatch.chdir(tmp_path)  # another folder, where labelled/ is not
    check = _check(where / "run" / "model")
    assert isinstance(check, dict), check  # measured, not "... labelled is not there"
    assert check["images"] == (
        "15 images of 3 classes (cat, dog, owl) from the run's labelled validation folder "
        f"{where / 'labelled'} (data.val_root)"
    )
