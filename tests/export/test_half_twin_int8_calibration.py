"""Static int8 of an image half-twin calibrates tower f on the x images it trained on (its
``data.path``) when they are still there: it calibrated on Fashion-MNIST, whatever it learned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.models import HalfTwinNetwork, Preprocess


def _model(tmp_path: Path, data: Path) -> Path:
    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(1, 12, 12)), Preprocess(input_shape=(1, 8, 8))
    net = HalfTwinNetwork(conv(), conv(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()
    meta = {"task": "half_twin", "config": {"data": {"path": str(data)}}}
    return siamkit.save_model(net, tmp_path / "model", metadata=meta)


def test_static_int8_calibrates_f_on_the_half_twins_own_x_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "pairs.npz"
    x, y = rng.random((20, 1, 12, 12), np.float32), rng.random((20, 1, 8, 8), np.float32)
    np.savez(data, x=x, y=y, labels=np.arange(20) % 4)
    folder = _model(tmp_path, data)
    res = CliRunner().invoke(cli, ["export", str(folder), "--int8"])
    assert res.exit_code == 0, res.output
    assert f"calibrated on the x images of its training data {data}" in res.output
    # data.path gone: Fashion-MNIST, as for any one-channel model that names no training data,
    # and why its x images were not used (it said only 'calibrated on fashion-mnist')
    data.unlink()
    res = CliRunner().invoke(cli, ["export", str(folder), "--int8", "--force"])
    assert res.exit_code == 0, res.output
    assert (
        f"calibrated on fashion-mnist (its run's data.path {data} is not there, moved with its "
        "project or removed; pass --calib-data FOLDER to calibrate on the training images)"
    ) in res.output


def test_a_colour_half_twin_without_its_x_images_says_why(tmp_path: Path) -> None:
    """An RGB half-twin whose data.path holds x of another shape: refused, saying why its own
    x images cannot calibrate it (the sentence named nothing of them)."""
    torch.manual_seed(0)
    rgb = lambda: siamkit.encoders.create_encoder("convnet", in_channels=3, widths=(4,))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(3, 12, 12)), Preprocess(input_shape=(3, 8, 8))
    net = HalfTwinNetwork(rgb(), rgb(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()
    data = tmp_path / "pairs.npz"
    rng = np.random.default_rng(0)
    x, y = rng.random((6, 3, 10, 10), np.float32), rng.random((6, 3, 8, 8), np.float32)
    np.savez(data, x=x, y=y, labels=np.arange(6) % 2)
    meta = {"task": "half_twin", "config": {"data": {"path": str(data)}}}
    folder = siamkit.save_model(net, tmp_path / "model", metadata=meta)
    res = CliRunner().invoke(cli, ["export", str(folder), "--int8"])
    assert res.exit_code == 2
    assert (
        f"static int8 needs calibration images like the training data (its run's data.path "
        f"{data} holds no x images of tower f's input shape 3x12x12); for a model taking "
        "(3, 12, 12) inputs pass --calib-data FOLDER"
    ) in " ".join(res.output.split())
    assert not (folder / "model.onnx").exists()
