"""A self-supervised run holds every training image of its folder in memory (uint8), and nothing
compared their size with the machine's memory: 50,000 photos at data.image_size 512 in colour
(36.6 GiB) failed with PyTorch's allocator error on this 23 GiB machine, and a size within the
memory but above what is free is killed partway through reading. The size is now compared with
the memory free before any file is read, and a folder that does not fit is refused in one
sentence."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from PIL import Image

from siamkit.applications.ssl import data as ssl_data
from siamkit.cli.main import cli
from siamkit.data import memory as data_memory
from siamkit.progress import human_bytes


def _run(tmp_path: Path, **data: Any) -> tuple[Path, Result]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(12):
        Image.new("RGB", (20, 10), (20 * i, 200 - 10 * i, 40)).save(photos / f"{i}.png")
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 8, **data},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 1, "device": "cpu"},
    }  # fmt: skip
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )
    return photos, res


def test_a_folder_larger_than_the_free_memory_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need = 12 * 3 * 8 * 8  # the uint8 images the run would hold
    monkeypatch.setattr(data_memory, "available_memory", lambda: need - 1, raising=False)
    read: list[object] = []
    real = ssl_data.load_images

    def spy(*args: Any, **kwargs: Any) -> Any:
        read.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl_data, "load_images", spy)
    photos, res = _run(tmp_path)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines == [
        f"Error: data.root {photos}: the 12 images to train on take {human_bytes(need)} held "
        f"in memory at data.image_size 8 in colour, more than the {human_bytes(need - 1)} this "
        "machine has free: lower data.image_size, or keep a sample with data.limit well below 11 "
        "(which would fill it all)"
    ], lines
    assert read == [] and not (tmp_path / "o").exists()


def test_a_folder_that_fits_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_memory, "available_memory", lambda: 12 * 3 * 8 * 8, raising=False)
    _, res = _run(tmp_path)
    assert res.exit_code == 0, res.output


def test_the_free_memory_is_within_the_machines_memory() -> None:
    if not Path("/proc/meminfo").exists():
        pytest.skip("not Linux: no /proc/meminfo to compare with")
    free = data_memory.available_memory()
    assert free is not None
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < free <= total


def test_every_process_of_a_torchrun_launch_holds_the_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each process reads the whole folder (load_ssl_data runs in every one), so two processes
    on one machine need twice the memory: what fits one process is refused for two."""
    one = 100 * 3 * 16 * 16
    monkeypatch.setattr(data_memory, "available_memory", lambda: one)
    monkeypatch.setenv("WORLD_SIZE", "2")  # a launch: LOCAL_WORLD_SIZE counts only in one
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")  # two machines of one process each
    data_memory.check_images_fit(100, (3, 16, 16), "photos")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(ValueError) as err:
        data_memory.check_images_fit(100, (3, 16, 16), "photos")
    assert str(err.value) == (
        f"data.root photos: the 100 images to train on take {human_bytes(2 * one)} held in "
        "memory by the 2 processes on this machine (each holds them all) at data.image_size 16 "
        f"in colour, more than the {human_bytes(one)} this machine has free: lower "
        "data.image_size, or keep a sample with data.limit well below 50 (which would fill it "
        "all)"
    )


def _labeled(tmp_path: Path) -> Path:
    """labeled/: two classes of four images (the kNN monitor's data.val_root)."""
    labeled = tmp_path / "labeled"
    for c, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (labeled / c).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), tuple(v + 5 * i for v in colour)).save(
                labeled / c / f"{i}.png"
            )
    return labeled


def _spy_reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What is read: the training images (load_images) and the monitor's (load_all)."""
    from siamkit.data.folders import ImageFolderDataset

    read: list[object] = []
    real_images, real_all = ssl_data.load_images, ImageFolderDataset.load_all

    def images(*args: Any, **kwargs: Any) -> Any:
        read.append("data.root")
        return real_images(*args, **kwargs)

    def load_all(self: Any, *args: Any, **kwargs: Any) -> Any:
        read.append("data.val_root")
        return real_all(self, *args, **kwargs)

    monkeypatch.setattr(ssl_data, "load_images", images)
    monkeypatch.setattr(ImageFolderDataset, "load_all", load_all)
    return read


def test_the_monitors_labelled_images_are_counted_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data.val_root's images are held beside the training images for the whole run: what the
    training images alone fit in is refused, before either folder is read."""
    image = 3 * 8 * 8
    labeled = _labeled(tmp_path)
    monkeypatch.setattr(data_memory, "available_memory", lambda: 12 * image)
    read = _spy_reads(monkeypatch)
    photos, res = _run(tmp_path, val_root=str(labeled))
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: data.root {photos}: the 12 images to train on and the 8 labelled images of "
        f"data.val_root {labeled} take {human_bytes(20 * image)} held in memory at "
        f"data.image_size 8 in colour, more than the {human_bytes(12 * image)} this machine "
        "has free: lower data.image_size, or keep a sample with data.limit well below 4 (which "
        "would fill it all)"
    ], res.output
    assert read == [] and not (tmp_path / "o").exists()


def test_a_monitor_folder_that_alone_fills_the_memory_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    image = 3 * 8 * 8
    monkeypatch.setattr(data_memory, "available_memory", lambda: 5 * image)
    with pytest.raises(ValueError) as err:
        data_memory.check_images_fit(12, (3, 8, 8), "photos", 8, "labeled")
    assert str(err.value) == (
        f"data.root photos: the 12 images to train on and the 8 labelled images of data.val_root "
        f"labeled take {human_bytes(20 * image)} held in memory at data.image_size 8 in colour, "
        f"more than the {human_bytes(5 * image)} this machine has free: lower data.image_size, "
        "or give data.val_root fewer labelled images (the 8 alone fill it)"
    )


def test_a_folder_and_monitor_that_fit_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labeled = _labeled(tmp_path)
    monkeypatch.setattr(data_memory, "available_memory", lambda: 20 * 3 * 8 * 8)
    read = _spy_reads(monkeypatch)
    _, res = _run(tmp_path, val_root=str(labeled))
    assert res.exit_code == 0, res.output
    assert read == ["data.root", "data.val_root"]
    assert "8 labelled images of 2 classes" in res.output


def test_a_sample_that_fits_trains_though_the_whole_folder_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data.limit keeps 4 of the 12 images: those 4 are what is held, so what fits 4 (and not
    12) trains on them; the whole folder is refused in the same memory."""
    monkeypatch.setattr(data_memory, "available_memory", lambda: 4 * 3 * 8 * 8)
    photos, res = _run(tmp_path, limit=4)
    assert res.exit_code == 0, res.output
    assert f"self-supervised on 4 images under {photos}" in res.output
    with pytest.raises(ValueError, match="the 12 images to train on"):
        ssl_data.folder_images(str(photos), 8, False)
