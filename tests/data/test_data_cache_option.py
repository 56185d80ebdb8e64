"""data.cache through a run: written in the run folder (or the one it names), read by its
--resume, refused where no image folder is read, and nothing written without it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli
from siamkit.data.folder_cache import cache_folder, image_cache
from siamkit.data.folders import find_images
from siamkit.data.image_io import load_images
from siamkit.training.config_io import config_from_dict

SHAPE = (3, 16, 16)
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _photo(path: Path, seed: int, size: tuple[int, int] = (12, 12)) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def _folder(root: Path) -> list[Path]:
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            _photo(root / c / f"{i}.png", 10 * ord(c) + i)
    return find_images(root)


def _read(paths: list[Path]) -> torch.Tensor:
    return load_images(paths, SHAPE, folder="data.root", dtype=torch.uint8)


def test_without_the_option_nothing_is_written_and_the_images_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "photos"
    paths = _folder(root)
    before = sorted(p for p in tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)
    with image_cache(cache_folder(config_from_dict({}).data.cache, tmp_path / "run")):
        images = _read(paths)
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert torch.equal(images, load_images(paths, SHAPE, dtype=torch.uint8))


def test_the_option_is_refused_for_data_that_reads_no_image_folder() -> None:
    """A cache asked of the built-in digits would be ignored without a word."""
    from siamkit.applications.ssl.config import ssl_config_from_dict

    with pytest.raises(ValueError, match=r"data.dataset = digits reads no image files to cache"):
        config_from_dict({"data": {"dataset": "digits", "cache": True}})
    with pytest.raises(ValueError, match=r"data.dataset = digits reads no image files to cache"):
        ssl_config_from_dict({"data": {"dataset": "digits", "cache": "c/"}})
    assert config_from_dict({"data": {"dataset": "image-folder", "cache": True}}).data.cache


@pytest.mark.slow  # three short runs, ~12 s
def test_a_run_with_data_cache_writes_it_and_its_resume_reads_it(tmp_path: Path) -> None:
    """The option through `siamkit train`: the first run writes the cache in its folder, the
    --resume says it read the images from it; without the option no cache is written."""
    root = tmp_path / "photos"
    for c in "abcd":
        (root / c).mkdir(parents=True)
        for i in range(8):
            _photo(root / c / f"{i}.png", 100 * ord(c) + i, (12, 12))
    sets = [
        *("--set", "data.dataset=image-folder", "--set", f"data.root={root}"),
        *("--set", "data.train_classes=2", "--set", "data.image_size=8"),
        *("--set", "train.epochs=1", "--set", "train.steps_per_epoch=1", "--no-progress"),
        *("--set", "train.classes_per_batch=2", "--set", "train.samples_per_class=2"),
        *("--set", "eval.episodes=5", "--set", "eval.ways=[2]", "--set", "eval.shots=[1]"),
    ]
    config = str(CONFIGS / "digits-tiny.yaml")
    plain = CliRunner().invoke(cli, ["train", config, "--out", str(tmp_path / "p"), *sets])
    assert plain.exit_code == 0, plain.output
    assert not (tmp_path / "p" / "image-cache").exists() and "the cache" not in plain.output
    run = ["train", config, "--out", str(tmp_path / "r"), *sets, "--set", "data.cache=true"]
    first = CliRunner().invoke(cli, run)
    assert first.exit_code == 0, first.output
    assert "wrote 32 images of data.root to the cache" in first.output
    assert (tmp_path / "r" / "image-cache" / "data.root-3x8x8.npy").is_file()
    again = CliRunner().invoke(cli, [*run, "--resume", "--set", "train.epochs=2"])
    assert again.exit_code == 0, again.output
    assert "read 32 images of data.root from the cache" in again.output


@pytest.mark.slow  # two short self-supervised runs, ~10 s
def test_a_self_supervised_run_caches_its_folder_and_its_labelled_folder(tmp_path: Path) -> None:
    """task: ssl reads a classless data.root and a labelled data.val_root: both are kept."""
    loose, labelled = tmp_path / "loose", tmp_path / "labelled"
    loose.mkdir()
    for i in range(6):
        _photo(loose / f"{i}.png", i, (12, 12))
    for c in "ab":
        (labelled / c).mkdir(parents=True)
        for i in range(3):
            _photo(labelled / c / f"{i}.png", 50 * ord(c) + i, (12, 12))
    run = [
        *("train", str(CONFIGS / "simclr.yaml"), "--out", str(tmp_path / "s"), "--no-progress"),
        *("--set", "data.dataset=image-folder", "--set", f"data.root={loose}"),
        *("--set", f"data.val_root={labelled}", "--set", "data.image_size=8"),
        *("--set", "data.cache=true", "--set", "train.batch_size=2"),
        *("--set", "train.steps_per_epoch=1", "--set", "train.knn_k=1"),
    ]
    first = CliRunner().invoke(cli, [*run, "--set", "train.epochs=1"])
    assert first.exit_code == 0, first.output
    assert "wrote 6 images of data.root to the cache" in first.output
    assert "wrote 6 images of data.val_root to the cache" in first.output
    again = CliRunner().invoke(cli, [*run, "--set", "train.epochs=2", "--resume"])
    assert again.exit_code == 0, again.output
    assert "read 6 images of data.root from the cache" in again.output
    assert "read 6 images of data.val_root from the cache" in again.output


def test_a_resume_may_turn_the_cache_on_and_reads_a_checkpoint_made_before_it() -> None:
    """Where the images are kept changes none of them: a run started without data.cache (every
    run before it existed) must resume with it, and an SSL checkpoint that has no data.cache
    key (made before this option) was refused as "a different config (data.cache)"."""
    from siamkit.applications.ssl.config import ssl_config_from_dict, ssl_config_to_dict
    from siamkit.applications.ssl.trainer import ssl_config_guard
    from siamkit.training.config_io import config_to_dict
    from siamkit.training.preflight import run_config_guard

    data = {"dataset": "image-folder", "root": "/photos"}
    saved = config_to_dict(config_from_dict({"data": data}))
    run_config_guard(config_from_dict({"data": {**data, "cache": True}})).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"different config \(data.root\)"):  # still guarded
        other = config_from_dict({"data": {**data, "root": "/other", "cache": True}})
        run_config_guard(other).load_state_dict(saved)
    ssl = ssl_config_from_dict({"data": data})
    before = ssl_config_to_dict(ssl)
    del before["data"]["cache"]
    ssl_config_guard(ssl).load_state_dict(before)
    on = ssl_config_from_dict({"data": {**data, "cache": "/scratch/c"}})
    ssl_config_guard(on).load_state_dict(ssl_config_to_dict(ssl))


def test_a_tune_study_started_before_the_option_is_continued() -> None:
    """A study's stored signature holds its base config; one stored before data.cache existed
    (or with another data.cache) must not read as "a study of a different config"."""
    from siamkit.tuning.study import _read_signature, _signature

    base = config_from_dict({"data": {"dataset": "image-folder", "root": "/photos"}})
    signature = _signature(base, [])
    old = json.loads(signature)
    del old["config"]["data"]["cache"]
    now = json.loads(signature)["config"]
    assert _read_signature(json.dumps(old, sort_keys=True, default=str), now) == signature
    on = config_from_dict({"data": {"dataset": "image-folder", "root": "/photos", "cache": True}})
    assert _read_signature(signature, json.loads(_signature(on, []))["config"]) == _signature(
        on, []
    )
