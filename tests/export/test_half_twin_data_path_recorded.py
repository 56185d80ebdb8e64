"""A half-twin run recorded ``data.path`` as its config gave it, often relative to the folder it
trained in, so ``siamkit export --int8`` run from another folder found no x, y rows to calibrate
and check on there, or read another project's file of that name. A run now records it absolute
in the model (its config.yaml keeps it as written). A model saved before, whose path is
relative, has no other way to its rows (--calib-data and --check-data take images, not an .npz):
its path is read from the current folder where it is there, usually the folder it trained in,
and a line says so, as that may be another project's file; where it is not there, or a new
model's absolute path is gone, the export names it."""

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
HERE = "run the export from the folder it trained in"
NOTE = (
    "data.path pairs.npz read from the current folder: the model does not record where it trained"
)


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


def _old_model(
    tmp_path: Path, shape: tuple[int, ...], g_shape: tuple[int, ...], data: str = "pairs.npz"
) -> Path:
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
    meta = {"task": "half_twin", "config": {"data": {"path": data, "val_fraction": 0.2}}}
    return siamkit.save_model(net, tmp_path / "model", metadata=meta)


def _spy_calibration(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The calibration arrays static int8 is given."""
    import siamkit.export.quantize as quantize

    real, seen = quantize.quantize_onnx, []

    def spy(path, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("calibration") is not None:
            seen.append(np.asarray(kwargs["calibration"]))
        return real(path, **kwargs)

    monkeypatch.setattr(quantize, "quantize_onnx", spy)
    return seen


def _rows_of(rows: np.ndarray, data: Path, key: str) -> bool:
    """Whether every row of ``rows`` is a row of ``data``'s ``key`` array."""
    with np.load(data) as f:
        own = f[key].reshape(len(f[key]), -1)
    return all((own == r.reshape(1, -1)).all(1).any() for r in rows)


@pytest.mark.parametrize(("shape", "g_shape"), [((3, 12, 12), (3, 8, 8)), ((1, 12, 12), (1, 8, 8))])
def test_an_old_model_exported_where_it_trained_calibrates_and_checks_on_its_own_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...],
    g_shape: tuple[int, ...],
) -> None:  # fmt: skip
    """Exported from project/, where it trained with ``data.path: pairs.npz``: tower f is
    calibrated on that file's x images, and checked on its rows, as before 7a3e1f51 (a colour
    model was then refused, exit 2; a grey one calibrated on Fashion-MNIST), and one line says
    the relative path was read from the current folder."""
    project = tmp_path / "project"
    _pairs(project / "pairs.npz", shape, g_shape, 0)
    model = _old_model(project / "run", shape, g_shape)
    monkeypatch.chdir(project)
    seen = _spy_calibration(monkeypatch)
    res = CliRunner().invoke(cli, ["export", str(model), "--int8", "--json", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines().count(NOTE) == 1
    out = json.loads(res.stdout)
    calibration = {f["branch"]: f.get("calibration") for f in out["files"]}
    assert calibration["f"] == "the x images of its training data pairs.npz"
    assert out["int8_check"]["images"] == "12 validation rows of its training data pairs.npz"
    [calib] = seen
    assert calib.shape[1:] == shape and _rows_of(calib, project / "pairs.npz", "x")


def test_an_old_vector_model_exported_where_it_trained_is_checked_on_its_own_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vector half-twin has no held-out images: its own rows are the only check there is
    (after 7a3e1f51 it was not checked)."""
    project = tmp_path / "project"
    _pairs(project / "pairs.npz", (6,), (5,), 0)
    model = _old_model(project / "run", (6,), (5,))
    monkeypatch.chdir(project)
    res = CliRunner().invoke(
        cli, ["export", str(model), "--int8-mode", "dynamic", "--json", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines().count(NOTE) == 1
    check = json.loads(res.stdout)["int8_check"]
    assert check["images"] == "12 validation rows of its training data pairs.npz"


def test_an_old_models_relative_data_path_is_read_from_the_current_folder_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the export runs holds a pairs.npz of the towers' shapes, which may be another
    project's (here the model is in rgb/): the model cannot tell, so tower f is calibrated on
    its x images, and the line saying it was read from the current folder is printed (the
    model's own file cannot be told apart from it: 7a3e1f51 refused both)."""
    monkeypatch.chdir(tmp_path)
    rgb = _old_model(tmp_path / "rgb", (3, 12, 12), (3, 8, 8))
    _pairs(tmp_path / "pairs.npz", (3, 12, 12), (3, 8, 8), 0)
    res = CliRunner().invoke(cli, ["export", str(rgb), "--int8"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines().count(NOTE) == 1
    assert "calibrated on the x images of its training data pairs.npz" in " ".join(
        res.stdout.split()
    )


def test_an_old_models_relative_data_path_checks_on_the_file_here_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for the int8 check's rows, dynamic int8 (no calibration): read from here, said
    once."""
    monkeypatch.chdir(tmp_path)
    vectors = _old_model(tmp_path / "vec", (6,), (5,))
    _pairs(tmp_path / "pairs.npz", (6,), (5,), 0)
    res = CliRunner().invoke(cli, ["export", str(vectors), "--int8-mode", "dynamic", "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines().count(NOTE) == 1
    assert json.loads(res.stdout)["int8_check"]["images"] == (
        "12 validation rows of its training data pairs.npz"
    )


def test_an_old_models_relative_data_path_not_here_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pairs.npz in the current folder: a colour model's static int8 is refused, a vector
    model's check not run, each naming the path and that it is not here; no line says it was
    read."""
    monkeypatch.chdir(tmp_path)
    rgb = _old_model(tmp_path / "rgb", (3, 12, 12), (3, 8, 8))
    res = CliRunner().invoke(cli, ["export", str(rgb), "--int8"])
    assert res.exit_code == 2, res.output
    assert NOTE not in res.output
    assert (
        "static int8 needs calibration images like the training data (its run recorded "
        f"data.path pairs.npz relative to {RELATIVE}, and the current folder has no pairs.npz: "
        f"{HERE}); for a model taking (3, 12, 12) inputs pass --calib-data FOLDER"
    ) in " ".join(res.output.split())
    assert not (rgb / "model.onnx").exists()
    vectors = _old_model(tmp_path / "vec", (6,), (5,))
    check = _export(vectors, "--int8-mode", "dynamic")["int8_check"]
    assert check == (
        "accuracy change not measured: the check reads held-out images, and this model takes "
        "vectors (6,) (nor its run's own x, y rows: its run recorded data.path pairs.npz "
        f"relative to {RELATIVE}, and the current folder has no pairs.npz: {HERE}); compare "
        "the int8 file's embeddings with the fp32 file's on held-out vectors of your own "
        "(siamkit.export.OnnxEmbedder)"
    )


def test_a_recorded_absolute_path_that_is_gone_says_the_project_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new model records data.path absolute; its project moved (or the file removed), the
    check says so, naming the recorded path; a pairs.npz here is not read for it."""
    monkeypatch.chdir(tmp_path)
    gone = tmp_path / "old_project" / "pairs.npz"
    vectors = _old_model(tmp_path / "vec", (6,), (5,), data=str(gone))
    _pairs(tmp_path / "pairs.npz", (6,), (5,), 0)
    res = CliRunner().invoke(cli, ["export", str(vectors), "--int8-mode", "dynamic", "--json"])
    assert res.exit_code == 0, res.output
    assert "read from the current folder" not in res.output
    assert (
        f"(nor its run's own x, y rows: its run's data.path {gone} is not there, moved with its "
        "project or removed)"
    ) in json.loads(res.stdout)["int8_check"]
