"""A self-supervised run on a photo folder held every image as float32 (N, C, H, W), four times
what uint8 needs, after the supervised image folder moved to uint8 (894fbc8): it now holds the
training photos and data.val_root's labelled ones as uint8, and each batch, the kNN and collapse
monitors and the channel statistics still see them in [0, 1] (the same first-step loss)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from siamkit.applications.ssl import data as ssl_data
from siamkit.applications.ssl.config import ssl_config_from_dict
from siamkit.applications.ssl.data import load_ssl_data
from siamkit.applications.ssl.task import run
from siamkit.data.image_io import load_images
from siamkit.training.tasks import TaskOptions

QUIET = TaskOptions(progress=False, log=lambda s: None)


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    """photos/ (16 random 10x10 photos) and labeled/ (two classes of four)."""
    photos, labeled = tmp_path / "photos", tmp_path / "labeled"
    photos.mkdir()
    gen = torch.Generator().manual_seed(0)
    for i in range(16):
        arr = (torch.rand(10, 10, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(photos / f"{i}.png")
    for c, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (labeled / c).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (10, 10), tuple(v + 5 * i for v in colour)).save(
                labeled / c / f"{i}.png"
            )
    return photos, labeled


def _doc(photos: Path, labeled: Path, size: int = 8) -> dict[str, Any]:
    return {
        "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "val_root": str(labeled),
                 "image_size": size},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 8, "steps_per_epoch": 1, "knn_k": 3, "device": "cpu"},
    }  # fmt: skip


def test_a_photo_folder_and_its_labelled_folder_are_held_as_uint8(tmp_path: Path) -> None:
    photos, labeled = _folders(tmp_path)
    d = load_ssl_data(ssl_config_from_dict(_doc(photos, labeled)).data)
    assert d.train_x.dtype == torch.uint8 and d.train_x.shape == (16, 3, 8, 8)
    assert d.val_x is not None and d.val_x.dtype == torch.uint8
    # each value the float image's, rounded to 0-255
    files = sorted(photos.glob("*.png"), key=lambda p: int(p.stem))
    as_float = load_images(files, (3, 8, 8))
    order = [int(p.stem) for p in sorted(photos.glob("*.png"))]  # the folder's own order
    assert torch.equal(d.train_x, as_float[order].mul(255).round().to(torch.uint8))
    mean, std = d.channel_stats()  # of [0, 1] values, not 0-255
    assert all(0 < m < 1 for m in mean) and all(0 < s < 1 for s in std)


@pytest.mark.parametrize(("size", "rel"), [(10, 0.0), (8, 1e-2)])
def test_a_run_on_uint8_photos_trains_as_one_on_float_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, rel: float
) -> None:
    """Photos read at their own size (10) are the same numbers either way, so the run is the
    same; resized ones (to 8) differ by the rounding to 0-255 alone (here 0.13% of the loss)."""
    photos, labeled = _folders(tmp_path)
    doc = _doc(photos, labeled, size)
    run(doc, tmp_path / "u8", QUIET)
    real = ssl_data.load_images

    def as_float(*args: Any, **kw: Any) -> torch.Tensor:  # the images as the run held them before
        return real(*args, **{**kw, "dtype": torch.float32})

    monkeypatch.setattr(ssl_data, "load_images", as_float)
    monkeypatch.setattr(
        "siamkit.data.folders.FileImageDataset.load_all",
        lambda self, folder=None, dtype=None: (
            real([p for p, _ in self.samples], self.input_shape, folder=folder),
            self.labels.clone(),
        ),
    )
    run(doc, tmp_path / "f32", QUIET)
    u8, f32 = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("u8", "f32"))
    assert [r["epoch"] for r in u8] == [0, 1]
    # the first (only) step's loss, the monitors before and after it: the same within rounding
    for a, b in zip(u8, f32, strict=True):
        assert (a["loss"] is None) == (b["loss"] is None) == (a["epoch"] == 0)
        if a["loss"] is not None:
            assert a["loss"] == pytest.approx(b["loss"], rel=rel)
        assert a["collapse_std"] == pytest.approx(b["collapse_std"], rel=rel)
        assert a["knn"] == pytest.approx(b["knn"], abs=1e-6)
