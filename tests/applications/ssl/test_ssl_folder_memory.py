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
from siamkit.progress import human_bytes


def _run(tmp_path: Path) -> tuple[Path, Result]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(12):
        Image.new("RGB", (20, 10), (20 * i, 200 - 10 * i, 40)).save(photos / f"{i}.png")
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 8},
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
    monkeypatch.setattr(ssl_data, "available_memory", lambda: need - 1, raising=False)
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
    monkeypatch.setattr(ssl_data, "available_memory", lambda: 12 * 3 * 8 * 8, raising=False)
    _, res = _run(tmp_path)
    assert res.exit_code == 0, res.output


def test_the_free_memory_is_within_the_machines_memory() -> None:
    if not Path("/proc/meminfo").exists():
        pytest.skip("not Linux: no /proc/meminfo to compare with")
    free = ssl_data.available_memory()
    assert free is not None
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < free <= total


def test_every_process_of_a_torchrun_launch_holds_the_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each process reads the whole folder (load_ssl_data runs in every one), so two processes
    on one machine need twice the memory: what fits one process is refused for two."""
    one = 100 * 3 * 16 * 16
    monkeypatch.setattr(ssl_data, "available_memory", lambda: one)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    ssl_data.check_images_fit(100, (3, 16, 16), "photos")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(ValueError) as err:
        ssl_data.check_images_fit(100, (3, 16, 16), "photos")
    assert str(err.value) == (
        f"data.root photos: the 100 images to train on take {human_bytes(2 * one)} held in "
        "memory by the 2 processes on this machine (each holds them all) at data.image_size 16 "
        f"in colour, more than the {human_bytes(one)} this machine has free: lower "
        "data.image_size, or keep a sample with data.limit well below 50 (which would fill it "
        "all)"
    )
