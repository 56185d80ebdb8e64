"""siamkit identify / verify on a model without a calibrated threshold: one sentence, whose advice
fits how the model learned (a self-supervised model has no training classes to calibrate on)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from _tiny_ssl import save_photos, train_tiny_ssl
from siamkit.cli.main import cli

SUPERVISED_ADVICE = "Fit one on held-out images of its training classes with `siamkit calibrate"
UNLABELED_ADVICE = (
    "the model learned without labels, so it has none. Fit one on a folder of labelled images "
    "(one sub-folder per class) with `siamkit calibrate MODEL --data FOLDER` (or pass --threshold)"
)


def _invoke(args: list[object]) -> tuple[str, list[str]]:
    """The command's output and the text of every warning it let out (Python would print each
    with a source file and line); it must succeed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output, [str(w.message) for w in caught]


def _labelled_folder(root: Path) -> Path:
    gen = torch.Generator().manual_seed(1)
    for c in ("boot", "hat", "bag"):
        (root / c).mkdir(parents=True)
        base = torch.rand(3, generator=gen)
        for i in range(6):
            arr = (base + 0.1 * torch.rand(12, 12, 3, generator=gen)).clamp(0, 1) * 255
            Image.fromarray(arr.to(torch.uint8).numpy()).save(root / c / f"{i}.png")
    return root


def _ssl_model(tmp_path: Path) -> str:
    """A one-step task: ssl run on a folder of unlabeled photos (its run records labels_used)."""
    return str(train_tiny_ssl(tmp_path, save_photos(tmp_path / "photos", 20)))


def test_a_self_supervised_model_is_told_to_calibrate_on_labelled_images_once(
    tmp_path: Path,
) -> None:
    """identify and verify of a task: ssl model printed Python's UserWarning (a file path and a
    line of siamkit's source) and then their own sentence, both saying to calibrate on held-out
    images of its training classes, which a model that learned without labels has none of."""
    model, labeled = _ssl_model(tmp_path), _labelled_folder(tmp_path / "labeled")
    db, query = tmp_path / "g.db", labeled / "hat" / "0.png"
    _invoke(["enroll", model, "--gallery", db, labeled, "--no-progress"])
    for args, verb in (
        (["identify", model, "--gallery", db, query, "--no-progress"], "accept"),
        (["verify", model, query, "--gallery", db, "--label", "hat"], "decide"),
        (["verify", model, query, labeled / "boot" / "0.png"], "decide"),
    ):
        out, shown = _invoke(args)
        assert not [w for w in shown if "threshold" in w], shown  # no warning machinery
        assert out.count("threshold") == 2, out  # "no threshold to ...", "--threshold"
        assert f"no threshold to {verb}: {UNLABELED_ADVICE}" in out, out
        assert "training classes" not in out, out

    # the advice works: calibrate on the labelled folder, and identify decides
    calibrated = CliRunner().invoke(cli, ["calibrate", model, "--data", str(labeled)])
    assert calibrated.exit_code == 0, calibrated.output
    out, shown = _invoke(["identify", model, "--gallery", db, query, "--no-progress"])
    assert "no threshold" not in out and not shown, out
    assert "accepted" in out, out


def test_a_supervised_model_keeps_its_advice_without_the_warning(tmp_path: Path) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[8])
    pre = siamkit.Preprocess(input_shape=(3, 12, 12))
    model = siamkit.save_model(siamkit.SiameseNetwork(enc, 8, preprocess=pre), tmp_path / "m")
    labeled = _labelled_folder(tmp_path / "labeled")
    db, query = tmp_path / "g.db", labeled / "hat" / "0.png"
    _invoke(["enroll", model, "--gallery", db, labeled, "--no-progress"])
    for args, verb in (
        (["identify", model, "--gallery", db, query, "--no-progress"], "accept"),
        (["verify", model, query, "--gallery", db, "--label", "hat"], "decide"),
    ):
        out, shown = _invoke(args)
        assert not [w for w in shown if "threshold" in w], shown
        assert f"no threshold to {verb}: the model has none. {SUPERVISED_ADVICE}" in out, out
        assert "without labels" not in out, out
