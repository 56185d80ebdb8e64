"""export --int8's accuracy check of a half-twin feeds each tower inputs of its own kind: its run's
validation rows (``data.path``), ``x`` through f and ``y`` through g (g was given resized copies
of f's check images), and checks a vector half-twin at all (it had no check); where the rows
are not there, the check's line says what g was given, or why nothing was measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tests.export._paired_reference import paired_figures

import siamkit
from siamkit.applications.half_twin.task import HalfTwinData, _split
from siamkit.cli._int8_check import describe
from siamkit.cli.export_cmd import export
from siamkit.export.runtime import OnnxEmbedder
from siamkit.models import HalfTwinNetwork, Preprocess

N, CLASSES = 200, 10


def _model(tmp_path: Path, f_shape: tuple[int, ...], g_shape: tuple[int, ...]) -> Path:
    """A half-twin (convnets over images, MLPs over vectors) saved as its run saves it, and its
    run's data.path: N rows of x (f's), y (g's) and labels, validation 0.2 at seed 0."""
    torch.manual_seed(0)

    def encoder(shape: tuple[int, ...]) -> torch.nn.Module:
        if len(shape) == 3:
            return siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
        return siamkit.encoders.create_encoder("mlp", in_features=shape[0], hidden=(16,))

    net = HalfTwinNetwork(
        encoder(f_shape), encoder(g_shape), 8,
        preprocess_f=Preprocess(input_shape=f_shape), preprocess_g=Preprocess(input_shape=g_shape),
    ).eval()  # fmt: skip
    rng = np.random.default_rng(0)
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = tmp_path / "pairs.npz"
    x, y = rng.random((N, *f_shape), np.float32), rng.random((N, *g_shape), np.float32)
    np.savez(data, x=x, y=y, labels=np.arange(N) % CLASSES)
    config = {"data": {"path": str(data), "val_fraction": 0.2}, "train": {"seed": 0}}
    return siamkit.save_model(
        net, tmp_path / "model", metadata={"task": "half_twin", "config": config}
    )


def _run_validation_rows(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows the run held out (its own split, on row numbers), in file order."""
    with np.load(path) as f:
        x, y, labels = f["x"], f["y"], f["labels"]
    idx = torch.arange(len(labels))
    val = _split(HalfTwinData(idx, idx, idx), 0.2, {"seed": 0})[1].labels
    rows = np.sort(val.numpy())
    return x[rows], y[rows], labels[rows]


def _figures(
    f_file: Path, g_file: Path, x: np.ndarray, y: np.ndarray, labels: np.ndarray, check: dict
) -> dict[str, float]:
    """Every ordered pair i != j as f(x_i) against g(y_j), and nearest-prototype episodes with
    support through g and queries through f, in plain loops (euclidean, the net's distance)."""
    zf, zg = OnnxEmbedder(f_file).embed(x), OnnxEmbedder(g_file).embed(y)
    return paired_figures(zf, zg, labels, check["few_shot"], check["episodes"])


def _check(folder: Path, *extra: str) -> dict | str:
    args = [str(folder), "--int8-mode", "dynamic", *extra, "--json"]
    res = CliRunner().invoke(export, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["int8_check"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("f_shape", "g_shape", "shown"),
    [((1, 12, 12), (1, 8, 8), "1x8x8"), ((6,), (5,), "5")],  # images; vectors
)
def test_each_tower_is_checked_on_its_runs_own_validation_rows(
    tmp_path: Path, f_shape: tuple[int, ...], g_shape: tuple[int, ...], shown: str
) -> None:
    folder = _model(tmp_path, f_shape, g_shape)
    check = _check(folder)
    assert isinstance(check, dict), check
    x, y, labels = _run_validation_rows(tmp_path / "pairs.npz")
    assert check["images"] == f"40 validation rows of its training data {tmp_path / 'pairs.npz'}"
    for precision, (f_file, g_file) in {
        "fp32": ("model.onnx", "model.document.onnx"),
        "int8": ("model.int8.onnx", "model.document.int8.onnx"),
    }.items():
        want = _figures(folder / f_file, folder / g_file, x, y, labels, check)
        assert check[precision] == {k: pytest.approx(v, abs=1e-9) for k, v in want.items()}, (
            precision
        )
    assert f"references and support through branch g (the y inputs paired with them, {shown})" in (
        describe(check)
    )
    counts = np.unique(labels, return_counts=True)[1]  # under 100 genuine pairs in 40 rows
    genuine, classes = int((counts * (counts - 1) // 2).sum()), len(counts)
    assert check["too_few_images"] == (  # not "give --check-data", which is for images
        f"too few images for the figures to mean much: {genuine} genuine pairs (40 images in "
        f"{classes} classes), so one pair moves the EER by up to {1 / genuine:.2g}; a run "
        "holding out rows with 100 genuine pairs or more (data.val_fraction) gives figures "
        "worth reading"
    )


def test_without_its_rows_the_line_says_what_g_was_given(tmp_path: Path) -> None:
    vectors = _model(tmp_path / "v", (6,), (5,))
    (tmp_path / "v" / "pairs.npz").unlink()
    check = _check(vectors)
    gone = tmp_path / "v" / "pairs.npz"
    assert check == (
        "accuracy change not measured: the check reads held-out images, and this model takes "
        f"vectors (6,) (nor its run's own x, y rows: its run's data.path {gone} is not there, "
        "moved with its project or removed); compare the int8 file's embeddings with the fp32 "
        "file's on held-out vectors of your own (siamkit.export.OnnxEmbedder)"
    )
    images = _model(tmp_path / "i", (1, 28, 28), (1, 32, 32))
    (tmp_path / "i" / "pairs.npz").unlink()  # Fashion-MNIST, 28x28: f's kind only
    check = _check(images)
    assert isinstance(check, dict), check
    assert check["pairing"].endswith(
        "references and support through branch g (the same images at 1x32x32, not inputs of "
        f"g's own kind: its run's data.path {tmp_path / 'i' / 'pairs.npz'} is not there, moved "
        "with its project or removed), as the half-twin is deployed"
    )
