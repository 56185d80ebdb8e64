"""export --int8's accuracy check scores an image half-twin as it is trained and deployed:
probes and few-shot queries through branch f, references and support through branch g (at g's
input size), in fp32 and in int8; it scored f against f, figures of a model nobody deploys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from tests.export._paired_reference import paired_figures

import siamkit
from siamkit.cli._int8_check import describe
from siamkit.cli.export_cmd import export
from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.data.folders import ImageFolderDataset
from siamkit.data.image_io import load_images
from siamkit.evaluation import evaluate_embeddings
from siamkit.export.runtime import OnnxEmbedder
from siamkit.models import HalfTwinNetwork, Preprocess


def _half_twin() -> HalfTwinNetwork:
    """f over 28x28 grey images, g over 32x32 ones, with different weights."""
    torch.manual_seed(0)
    f = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    g = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre_f, pre_g = Preprocess(input_shape=(1, 28, 28)), Preprocess(input_shape=(1, 32, 32))
    return HalfTwinNetwork(f, g, embedding_dim=16, preprocess_f=pre_f, preprocess_g=pre_g).eval()


def _check_folder(root: Path) -> Path:
    """Ten Fashion-MNIST test images of each of the classes 6-9, as 28x28 PNGs by class."""
    x, y = load_fashion_mnist("test")
    for c in range(6, 10):
        (root / f"class {c}").mkdir(parents=True)
        for i, k in enumerate(torch.nonzero(y == c).flatten()[:10].tolist()):
            Image.fromarray(x[k].numpy()).save(root / f"class {c}" / f"{i}.png")
    return root


def _paired_figures(
    f_file: Path, g_file: Path, paths: list[str], y: np.ndarray, settings: list[dict[str, int]],
    episodes: int,
) -> dict[str, float]:  # fmt: skip
    """The reference: each file read at f's size through f's graph and at g's size through g's,
    every ordered pair i != j as f(i) against g(j), and nearest-prototype episodes (the check's
    own, seed 0) with support through g and queries through f, in plain loops."""
    zf = OnnxEmbedder(f_file).embed(load_images(paths, (1, 28, 28)).numpy())
    zg = OnnxEmbedder(g_file).embed(load_images(paths, (1, 32, 32)).numpy())
    return paired_figures(zf, zg, y, settings, episodes)


def test_the_int8_check_scores_a_half_twin_f_against_g_in_both_precisions(tmp_path: Path) -> None:
    folder = siamkit.save_model(_half_twin(), tmp_path / "model")
    data = _check_folder(tmp_path / "check")
    args = [str(folder), "--int8-mode", "dynamic", "--check-data", str(data), "--json"]
    res = CliRunner().invoke(export, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    check = json.loads(res.stdout)["int8_check"]
    assert isinstance(check, dict), check
    samples = ImageFolderDataset(data, (1, 28, 28)).samples  # the check's images, in its order
    paths, y = [str(p) for p, _ in samples], np.array([c for _, c in samples])
    settings, episodes = check["few_shot"], check["episodes"]
    for precision, (f_file, g_file) in {
        "fp32": ("model.onnx", "model.document.onnx"),
        "int8": ("model.int8.onnx", "model.document.int8.onnx"),
    }.items():
        want = _paired_figures(folder / f_file, folder / g_file, paths, y, settings, episodes)
        assert check[precision] == {k: pytest.approx(v, abs=1e-9) for k, v in want.items()}, (
            precision
        )
    # what the check gave before: f against f, which differs here (f and g differ)
    zf = OnnxEmbedder(folder / "model.onnx").embed(load_images(paths, (1, 28, 28)).numpy())
    f_only = evaluate_embeddings(zf, y, "euclidean", few_shot=(), retrieval=False)
    assert f_only.verification is not None
    assert abs(f_only.verification.eer - check["fp32"]["eer"]) > 0.01
    line = describe(check)
    assert check["images"].startswith("40 images of 4 classes (class 6, ")
    assert line.startswith(
        f"int8 vs fp32 on {check['images']}, probes and queries through branch f (1x28x28), "
        "references and support through branch g (the same images at 1x32x32, not inputs of "
        "g's own kind: --check-data gives one kind of input, f's), as the half-twin is "
        "deployed: EER "
    ), line


def test_an_export_of_branch_f_alone_says_it_scored_f_against_itself(tmp_path: Path) -> None:
    folder = siamkit.save_model(_half_twin(), tmp_path / "model")
    data = _check_folder(tmp_path / "check")
    args = [str(folder), "--branch", "f", "--int8-mode", "dynamic", "--check-data", str(data)]
    res = CliRunner().invoke(export, [*args, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    check = json.loads(res.stdout)["int8_check"]
    assert check["pairing"] == (
        "branch f against itself (--branch f wrote no branch g graph), not the half-twin's "
        "f-against-g pairing"
    )
