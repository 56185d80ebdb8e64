"""data.train_classes on a self-supervised run of an image folder with class sub-folders was
ignored without a word: train_classes [0] trained on every class's images. Another list than
the default (which configs/simclr.yaml carries for Fashion-MNIST) is now refused in one sentence
before anything is written; the default and null train on every image as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from PIL import Image

from siamkit.cli.main import cli


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    for c, colour in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200))):
        (root / f"kind{c}").mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), tuple(v + 10 * i for v in colour)).save(
                root / f"kind{c}" / f"{i}.png"
            )
    return root


def _train(tmp_path: Path, root: Path, train_classes: Any) -> Result:
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(root), "image_size": 8,
                 "train_classes": train_classes},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 1, "device": "cpu"},
    }  # fmt: skip
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "o"
    return CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress"])


def test_classes_picked_in_an_image_folder_are_refused(tmp_path: Path) -> None:
    res = _train(tmp_path, _folder(tmp_path), [0])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), res.exception
    last = res.output.strip().splitlines()
    assert len(last) == 1 and last[0].startswith(
        "Error: data.train_classes = [0] picks classes of fashion-mnist or digits; a "
        "self-supervised run on an image folder reads every image under data.root"
    ), res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("train_classes", [None, [0, 1, 2, 3, 4, 5]])
def test_the_default_or_none_trains_on_every_image(tmp_path: Path, train_classes: Any) -> None:
    res = _train(tmp_path, _folder(tmp_path), train_classes)
    assert res.exit_code == 0, res.output
    assert f"self-supervised on 12 images under {tmp_path / 'shop'}" in res.output
