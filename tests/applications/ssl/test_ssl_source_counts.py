"""An SSL run's first line counts its images and classes as every message counts
(siamkit.clauses.counted): "1 image", "1,500 images", "of 1,000 classes"."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

import siamkit.applications.ssl.data as ssl_data
from siamkit.applications.ssl.config import SSLDataConfig


def _photo_folder(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "a.png")
    return root


def test_one_image_under_a_folder_is_one_image(tmp_path) -> None:
    root = _photo_folder(tmp_path)
    cfg = SSLDataConfig(dataset="image-folder", root=str(root), train_classes=None, image_size=16)
    assert ssl_data.load_ssl_data(cfg).source == f"1 image under {root}"


def test_over_a_thousand_images_under_a_folder_carry_the_separator(tmp_path, monkeypatch) -> None:
    root = _photo_folder(tmp_path)  # the file list and the read stand in for 1,500 photos
    monkeypatch.setattr(
        ssl_data, "training_files", lambda r, limit: ([root / "a.png"] * 1500, "id")
    )
    monkeypatch.setattr(
        ssl_data, "load_images", lambda paths, shape, **_: torch.zeros(len(paths), *shape)
    )
    cfg = SSLDataConfig(dataset="image-folder", root=str(root), train_classes=None, image_size=16)
    assert ssl_data.load_ssl_data(cfg).source == f"1,500 images under {root}"


def test_the_monitor_counts_a_thousand_classes_with_the_separator() -> None:
    y = torch.arange(2000) % 1000
    ds = SimpleNamespace(
        classes=[f"c{i}" for i in range(1000)],
        load_all=lambda **_: (torch.zeros(len(y), 1, 4, 4, dtype=torch.uint8), y),
    )
    _, _, said = ssl_data._monitor_images(ds, "lab")  # type: ignore[arg-type]
    assert said == "2,000 labelled images of 1,000 classes under lab"


def test_a_labelled_data_set_of_a_thousand_classes_carries_the_separator(monkeypatch) -> None:
    y = torch.arange(3000) % 1000
    run = SimpleNamespace(
        train_x=torch.zeros(len(y), 1, 4, 4), train_y=y, val_x=None, val_y=torch.zeros(0),
        train_classes=list(range(1000)), test_classes=[], class_names=[],
    )  # fmt: skip
    monkeypatch.setattr(ssl_data, "load_run_data", lambda cfg: run)
    source = ssl_data.load_ssl_data(SSLDataConfig(dataset="digits")).source
    assert source.startswith("3,000 digits images of 1,000 classes (0, 1, ")
