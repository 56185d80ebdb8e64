"""A half-twin run recorded ``data.path`` as its config gave it, often relative to the folder it
trained in, so ``siamkit export --int8`` run from another folder found no x, y rows to calibrate
and check on there, or read another project's file of that name. A run now records it absolute
in the model (its config.yaml keeps it as written); a model saved before, whose path is
relative, is not read from wherever the export runs: the export says why, naming the path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.models import HalfTwinNetwork, Preprocess

RELATIVE = "the folder it trained in, which the model does not record"


def _pairs(path: Path, f_shape: tuple[int, ...], g_shape: tuple[int, ...], seed: int) -> None:
    """60 rows of x (f's inputs), y (g's) and labels of 3 classes, in [0, 1]."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    x, y = rng.random((60, *f_shape), np.float32), rng.random((60, *g_shape), np.float32)
    np.savez(path, x=x, y=y, labels=np.arange(60) % 3)


def _export(model: Path, *extra: str) -> dict:
    res = CliRunner().invoke(cli, ["export", str(model), "--int8", *extra, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_a_relative_data_path_is_found_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained with ``data.path: pairs.npz`` in project/, exported from elsewhere/, which holds
    another pairs.npz of the same shapes: calibration and check read project's file (they
    read elsewhere's, naming it ``pairs.npz``)."""
    own, other = tmp_path / "project" / "pairs.npz", tmp_path / "elsewhere" / "pairs.npz"
    _pairs(own, (1, 12, 12), (1, 8, 8), 0)
    _pairs(other, (1, 12, 12), (1, 8, 8), 1)
    conv = {"name": "convnet", "kwargs": {"widths": [4]}}
    doc = {
        "task": "half_twin",
        "data": {"path": "pairs.npz"},
        "model": {"encoder_f": conv, "encoder_g": conv, "embedding_dim": 4},
        "train": {"epochs": 1, "batch_size": 16},
    }
    (own.parent / "ht.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(own.parent)
    res = CliRunner().invoke(cli, ["train", "ht.yaml", "--out", "run"])
    assert res.exit_code == 0, res.output
    written = yaml.safe_load((own.parent / "run" / "config.yaml").read_text())
    assert written["data"]["path"] == "pairs.npz"  # as the config gave it
    monkeypatch.chdir(other.parent)
    out = _export(own.parent / "run" / "model")
    calibration = {f["branch"]: f.get("calibration") for f in out["files"]}
    assert calibration["f"] == f"the x images of its training data {own}"
    assert out["int8_check"]["images"] == f"12 validation rows of its training data {own}"


def _old_model(tmp_path: Path, shape: tuple[int, ...], g_shape: tuple[int, ...]) -> Path:
    """A half-twin saved as runs saved it before: ``data.path`` relative (``pairs.npz``)."""
    torch.manual_seed(0)

    def encoder(s: tuple[int, ...]) -> torch.nn.Module:
        if len(s) == 3:
            return siamkit.encoders.create_encoder("convnet", in_channels=s[0], widths=(4,))
        return siamkit.encoders.create_encoder("mlp", in_features=s[0], hidden=(8,))

    net = HalfTwinNetwork(
        encoder(shape), encoder(g_shape), 4,
        preprocess_f=Preprocess(input_shape=shape), preprocess_g=Preprocess(input_shape=g_shape),
    ).eval()  # fmt: skip
    meta = {"task": "half_twin", "config": {"data": {"path": "pairs.npz", "val_fraction": 0.2}}}
    return siamkit.save_model(net, tmp_path / "model", metadata=meta)


def test_an_old_models_relative_data_path_does_not_calibrate_on_the_file_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the export runs holds a pairs.npz of the towers' shapes, which may be another
    project's: static int8 does not calibrate tower f on its x images (it did, as the model's
    own), and the refusal says why, naming the path."""
    monkeypatch.chdir(tmp_path)
    rgb = _old_model(tmp_path / "rgb", (3, 12, 12), (3, 8, 8))
    _pairs(tmp_path / "pairs.npz", (3, 12, 12), (3, 8, 8), 0)
    res = CliRunner().invoke(cli, ["export", str(rgb), "--int8"])
    assert res.exit_code == 2, res.output  # no images like its own to calibrate f on
    assert (
        "static int8 needs calibration images like the training data (its run recorded "
        f"data.path pairs.npz relative to {RELATIVE}); for a model taking (3, 12, 12) inputs "
        "pass --calib-data FOLDER"
    ) in " ".join(res.output.split())
    assert not (rgb / "model.onnx").exists()


def test_an_old_models_relative_data_path_does_not_check_on_the_file_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for the int8 check's rows: not the pairs.npz here (it was checked on its
    validation rows as the model's own), and the check's line says why, naming the path."""
    monkeypatch.chdir(tmp_path)
    vectors = _old_model(tmp_path / "vec", (6,), (5,))
    _pairs(tmp_path / "pairs.npz", (6,), (5,), 0)
    check = _export(vectors, "--int8-mode", "dynamic")["int8_check"]
    assert check == (
        "accuracy change not measured: the check reads held-out images, and this model takes "
        "vectors (6,) (nor its run's own x, y rows: its run recorded data.path pairs.npz "
        f"relative to {RELATIVE}); compare the int8 file's embeddings with the fp32 file's on "
        "held-out vectors of your own (siamkit.export.OnnxEmbedder)"
    )
