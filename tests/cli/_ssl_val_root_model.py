"""A colour model saved as a self-supervised run on loose photos records it, with or without a
labelled validation folder (``data.val_root``): shared by the tests of the commands that read
that folder without --data (evaluate, calibrate, export --int8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import siamkit
from siamkit.models import Preprocess


def save_images(folder: Path, count: int, rng: np.random.Generator) -> None:
    """``count`` random 14x14 colour PNGs in the new ``folder``."""
    folder.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (14, 14, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def ssl_photo_model(tmp_path: Path, val_root: Path | None, ssl: bool = True) -> Path:
    """A colour model saved as ``task: ssl`` records a run on the loose photos of ``photos/``,
    with ``val_root`` (3 classes of 8 images) where given; ``ssl=False``: a supervised run's."""
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    save_images(photos, 6, rng)
    for other in ("elsewhere/ant", "elsewhere/bee"):
        save_images(tmp_path / other, 6, rng)
    if val_root is not None:
        for c in ("cat", "dog", "owl"):
            save_images(val_root / c, 8, rng)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[8])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=4, preprocess=Preprocess(input_shape=(3, 12, 12))
    )
    run: dict[str, Any] = {"dataset": "image-folder", "data_root": str(photos),
                           "train_classes": None, "test_classes": None, "labels_used": not ssl}  # fmt: skip
    data = {"dataset": "image-folder", "root": str(photos)}
    if val_root is not None:
        run["val_root"] = data["val_root"] = str(val_root)
    meta = {"run": run, "config": {"data": data}}  # as task: ssl records them
    return siamkit.save_model(net.eval(), tmp_path / "model", metadata=meta)
