"""A supervised image-folder run (data.dataset: image-folder) read every image of data.root into
one uint8 tensor and copied its splits out of it (x[keep], x[held]: torch copies on indexing) with
no look at the memory free, as the self-supervised run did before bf254d9b: a folder above it was
killed partway through reading, or failed at once with PyTorch's allocator error. The folder is
now refused before any image is read when its images, twice (the read ones and their splits,
held at once), do not fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli
from siamkit.data import folders
from siamkit.data import memory as data_memory
from siamkit.data.sources import RUN_COPIES
from siamkit.progress import human_bytes
from siamkit.training.config import DataConfig
from siamkit.training.data import load_run_data

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
IMAGE = 3 * 8 * 8  # uint8 bytes of one image at data.image_size 8 in colour


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for c in range(4):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (12, 9), (50 * c, 30 * i, 90)).save(root / f"c{c}" / f"{i}.png")
    return root


def _spy_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    read: list[int] = []
    real = folders.load_images

    def spy(paths: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(len(paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(folders, "load_images", spy)
    return read


def _cfg(root: Path, **keys: Any) -> DataConfig:
    return DataConfig(dataset="image-folder", root=str(root), image_size=8, **keys)


def test_a_folder_that_does_not_fit_twice_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _folder(tmp_path)
    need = 20 * IMAGE * 2  # the 20 images read, and their splits copied out of them
    monkeypatch.setattr(data_memory, "available_memory", lambda: need - 1)
    read = _spy_reads(monkeypatch)
    with pytest.raises(ValueError) as err:
        load_run_data(_cfg(root, train_classes=2))
    assert str(err.value) == (
        f"data.root {root}: the 20 labelled images take {human_bytes(need)} held in memory (the "
        "run's splits are copied out of them: 2 copies at once) at data.image_size 8 in colour, "
        f"more than the {human_bytes(need - 1)} this machine has free: lower data.image_size, or "
        "give data.root well below 19 images (which would fill it all)"  # 19 * 2 * IMAGE fit
    )
    assert read == []


def test_the_run_command_says_it_in_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _folder(tmp_path)
    monkeypatch.setattr(data_memory, "available_memory", lambda: 20 * IMAGE)  # once, not twice
    read = _spy_reads(monkeypatch)
    out = tmp_path / "o"
    sets = ["--set", "data.dataset=image-folder", "--set", f"data.root={root}"]
    sets += ["--set", "data.image_size=8", "--set", "data.train_classes=2"]
    res = CliRunner().invoke(
        cli, ["train", str(CONFIGS / "digits-tiny.yaml"), "--out", str(out), "--no-progress", *sets]
    )
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: data.root {root}: the 20 labelled images take "), last
    assert "Traceback" not in res.output and not out.exists() and read == []


@pytest.mark.parametrize("keys", [{"train_classes": 2}, {"train_classes": None}])
def test_a_folder_that_fits_twice_is_read_and_split(
    keys: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _folder(tmp_path)
    monkeypatch.setattr(data_memory, "available_memory", lambda: 20 * IMAGE * RUN_COPIES)
    read = _spy_reads(monkeypatch)
    data = load_run_data(_cfg(root, **keys))
    assert read == [20]
    assert data.train_x.dtype == torch.uint8
    assert sum(len(y) for y in (data.train_y, data.val_y, data.test_y)) == 20


def test_the_split_copies_do_not_share_the_read_images(tmp_path: Path) -> None:
    """What the check counts twice: the splits are copies, not views of the images read."""
    root = _folder(tmp_path)
    data = load_run_data(_cfg(root, train_classes=None))
    parts = [data.train_x, data.val_x, data.test_x]
    bases = {p.untyped_storage().data_ptr() for p in parts}
    assert len(bases) == 3
    assert all(p.untyped_storage().nbytes() == p.numel() for p in parts)
