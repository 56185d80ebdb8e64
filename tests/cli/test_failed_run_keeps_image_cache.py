"""A new run that stops after reading its image folder (a refused batch size, Ctrl-C) removed
its OUT with the image cache it had just written (and said it wrote): the 40 minutes of reading
50,000 photos were lost, and the rerun read them again."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit.experiment.run as run_module
from siamkit.cli.main import cli

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _photos(root: Path, classes: str, n: int) -> Path:
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            pixels = np.random.default_rng(100 * ord(c) + i).integers(0, 256, (12, 12, 3))
            Image.fromarray(pixels.astype(np.uint8)).save(root / c / f"{i}.png")
    return root


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _ssl(out: Path, photos: Path, batch: int, cache: str) -> list[str]:
    return [
        "train", str(CONFIGS / "simclr.yaml"), "--out", str(out), "--no-progress",
        "--set", "data.dataset=image-folder", "--set", f"data.root={photos}",
        "--set", "data.image_size=8", "--set", f"data.cache={cache}",
        "--set", f"train.batch_size={batch}", "--set", "train.epochs=1",
    ]  # fmt: skip


def test_a_refused_new_run_keeps_its_cache_and_the_same_command_uses_it(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos", "ab", 3)
    out = tmp_path / "runs" / "a"
    refused = CliRunner().invoke(cli, _ssl(out, photos, 64, "true"))
    assert refused.exit_code == 1 and "train.batch_size = 64 is more than" in refused.output
    assert _files(out) == ["image-cache/data.root-3x8x8.json", "image-cache/data.root-3x8x8.npy"]
    assert (
        f"The new folder {out} was removed but for its image cache in {out / 'image-cache'}: the "
        "same command reads the images from it, not from the files" in refused.output
    )
    rerun = CliRunner().invoke(cli, _ssl(out, photos, 4, "true"))  # not refused as a run's folder
    assert rerun.exit_code == 0, rerun.output
    assert "read 6 images of data.root from the cache " in rerun.output
    assert (out / "checkpoint.pt").is_file()


def test_an_interrupted_new_run_keeps_a_data_cache_folder_inside_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C just after the read: the data.cache folder the user named inside OUT stays (and
    the folders that hold it), the rest of OUT goes; a cache outside OUT is untouched."""
    photos = _photos(tmp_path / "photos", "abcd", 8)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "check_positives", interrupted)
    out, outside = tmp_path / "runs" / "b", tmp_path / "shared-cache"
    for cache, kept in ((out / "caches" / "photos", "caches/photos/"), (outside, None)):
        args = [
            "train", str(CONFIGS / "digits-tiny.yaml"), "--out", str(out), "--no-progress",
            "--set", "data.dataset=image-folder", "--set", f"data.root={photos}",
            "--set", "data.image_size=8", "--set", f"data.cache={cache}",
            "--set", "data.train_classes=2",
        ]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        # 130: the patched Ctrl-C, not a refusal of the config (digits-tiny's train_classes
        # [0..5] on this 4-class folder would end it with 1 before the interrupt)
        assert result.exit_code == 130, result.output
        if kept is None:  # OUT made again and removed, the cache beside it untouched
            assert not out.exists() and len(_files(outside)) == 2
        else:
            assert _files(out) == [f"{kept}data.root-3x8x8.json", f"{kept}data.root-3x8x8.npy"]
            assert f"removed but for its image cache in {cache}" in result.output
            shutil.rmtree(out)


def test_a_cache_named_through_a_symlink_is_known_as_the_run_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OUT is resolved to its real path, but the cache's files were compared on the text the
    user gave: ``runs -> ../big`` and data.cache=runs/x/caches, the cache was not the run's (its
    kept line not said, the cache called files the run did not write)."""
    photos = _photos(tmp_path / "photos", "abcd", 8)
    (tmp_path / "big").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "runs").symlink_to(tmp_path / "big")
    monkeypatch.chdir(work)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "check_positives", interrupted)
    args = [
        "train", str(CONFIGS / "digits-tiny.yaml"), "--out", "runs/x", "--no-progress",
        "--set", "data.dataset=image-folder", "--set", f"data.root={photos}",
        "--set", "data.image_size=8", "--set", "data.cache=runs/x/caches",
        "--set", "data.train_classes=2",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 130, result.output
    out = tmp_path / "big" / "x"
    assert _files(out) == ["caches/data.root-3x8x8.json", "caches/data.root-3x8x8.npy"]
    assert "removed but for its image cache in " in result.output
    assert "did not write" not in result.output
