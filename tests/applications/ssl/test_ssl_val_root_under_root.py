"""A self-supervised run whose labelled folder (data.val_root) lies under data.root trains on
those images too (every image under data.root is read), so its kNN accuracy is on images the
model has seen; the run said nothing of it (README: 'not trained on unless they also lie under
data.root'). It now says so in one note before training; a folder beside data.root gets none."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli


def _photos(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (8, 8), (20 * i, 200 - 10 * i, 40)).save(root / f"{i}.png")


@pytest.mark.parametrize("inside", [True, False])
def test_a_labelled_folder_under_the_training_folder_is_said(tmp_path: Path, inside: bool) -> None:
    photos = tmp_path / "photos"
    _photos(photos, 8)
    labeled = (photos if inside else tmp_path) / "labeled"
    _photos(labeled / "a", 3)
    _photos(labeled / "b", 3)
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 8,
                 "val_root": str(labeled)},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 1, "knn_k": 2,
                  "device": "cpu"},
    }  # fmt: skip
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    # every image under photos/ is trained on: the labelled ones too when they lie there
    assert f"self-supervised on {14 if inside else 8} images under {photos}" in lines[0]
    said = (
        f"note: data.val_root {labeled} lies under data.root {photos}, so its 6 labelled images "
        "are trained on too (without their labels): the kNN accuracy is on images the model "
        "has seen; keep the labelled folder out of data.root to monitor it on unseen ones"
    )
    assert (said in lines) is inside, res.output
    if inside:  # said before training
        assert lines.index(said) < min(i for i, s in enumerate(lines) if s.startswith("epoch "))
