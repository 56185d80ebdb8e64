"""A one-process command run where the shell sets ``RANK`` (a cluster job's environment) took
itself for a later process of a torchrun launch wherever "the main process" was ``RANK`` unset or
"0" (s58_r2 findings 1-3): a siamfc run saved no model, metrics or config.yaml and exited 0 without
a word, an image run printed none of its log lines, a failed new run left its config.yaml behind,
and ``data.cache`` was neither written nor reported. One rule now
(:func:`siamkit.distributed.is_main_process`): only a launch (``WORLD_SIZE`` > 1) has later
processes, which keep still (a real torchrun launch: tests/cli/test_train_launch.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image

import siamkit.data.image_io as image_io
from siamkit.cli.main import cli
from siamkit.launch_env import other_rank
from siamkit.training.ddp import is_main_process

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRACKER = {  # a tiny siamfc run of 2 steps (tests/cli/test_train_resume_finished.py)
    "task": "siamfc",
    "model": {"backbone": "tiny"},
    "data": {"frame_size": [160, 120], "n_frames": 20},
    "train": {"steps": 2, "batch_size": 2, "threads": 1, "checkpoint_every": 1},
    "eval": {"n_sequences": 1, "n_frames": 5, "frame_size": [160, 120]},
}


@pytest.fixture
def bare_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv("RANK", "1")


def _photos(root: Path, classes: str, n: int) -> Path:
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(n):
            pixels = np.random.default_rng(100 * ord(c) + i).integers(0, 256, (12, 12, 3))
            Image.fromarray(pixels.astype(np.uint8)).save(root / c / f"{i}.png")
    return root


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("env", "main"),
    [
        ({}, True),
        ({"RANK": "1"}, True),  # no launch: a bare RANK
        ({"RANK": "1", "WORLD_SIZE": "1"}, True),
        ({"WORLD_SIZE": "4"}, True),  # no RANK: the first
        ({"RANK": "1", "WORLD_SIZE": "x"}, True),  # not a launch's
        ({"RANK": "0", "WORLD_SIZE": "2"}, True),  # a launch's first process
        ({"RANK": "1", "WORLD_SIZE": "2"}, False),  # a later one
        ({"RANK": "3", "WORLD_SIZE": "4"}, False),
        ({"RANK": "01", "WORLD_SIZE": "2"}, False),  # read as numbers, as other_rank reads them
        ({"RANK": "00", "WORLD_SIZE": "2"}, True),  # was False for both: said and wrote nothing
        ({"RANK": "x", "WORLD_SIZE": "2"}, True),  # not a launch's
        ({"RANK": "-1", "WORLD_SIZE": "2"}, True),
    ],
)
def test_a_later_process_is_one_of_a_launch_alone(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], main: bool
) -> None:
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert not torch.distributed.is_initialized()
    assert is_main_process() is main
    # the CLI's own test, read before torch is imported, is the same rule
    assert other_rank() is (not main)


@pytest.mark.usefixtures("bare_rank")
def test_a_siamfc_run_under_a_bare_rank_saves_and_says_its_results(tmp_path: Path) -> None:
    cfg = tmp_path / "trk.yaml"
    cfg.write_text(yaml.safe_dump(TRACKER))
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert {"config.yaml", "metrics.json", "checkpoint.pt"} <= set(_files(out))
    assert (out / "model").is_dir()
    assert f"metrics: {out / 'metrics.json'}" in res.output


@pytest.mark.usefixtures("bare_rank")
def test_a_failed_image_run_under_a_bare_rank_logs_and_leaves_no_folder(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos", "abcd", 6)
    out = tmp_path / "nan"
    args = [
        "train", str(CONFIGS / "digits-tiny.yaml"), "--out", str(out), "--no-progress",
        "--set", "data.dataset=image-folder", "--set", f"data.root={photos}",
        "--set", "data.image_size=8", "--set", "data.train_classes=2",
        "--set", "train.epochs=1", "--set", "optim.lr=1e30",
    ]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert "Error: embeddings contain NaN or inf" in res.output
    assert not out.exists()  # a failed new run leaves nothing (cli/_run_folder.py)
    assert "loading image-folder ..." in res.output  # the run's log lines


@pytest.mark.usefixtures("bare_rank")
def test_an_ssl_run_under_a_bare_rank_writes_and_says_its_image_cache(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos", "ab", 3)
    out = tmp_path / "ssl"
    args = [
        "train", str(CONFIGS / "simclr.yaml"), "--out", str(out), "--no-progress",
        "--set", "data.dataset=image-folder", "--set", f"data.root={photos}",
        "--set", "data.image_size=8", "--set", "data.cache=true",
        "--set", "train.batch_size=4", "--set", "train.epochs=1",
    ]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert {"image-cache/data.root-3x8x8.json", "image-cache/data.root-3x8x8.npy"} <= set(
        _files(out)
    )
    npy = out / "image-cache" / "data.root-3x8x8.npy"
    assert f"wrote 6 images of data.root to the cache {npy} (" in res.output
    assert f"metrics: {out / 'metrics.json'}" in res.output


@pytest.mark.usefixtures("bare_rank")
def test_reading_an_image_folder_under_a_bare_rank_shows_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _photos(tmp_path / "photos", "a", 2)
    shown: list[str] = []

    def track(items: object, what: str, **kw: object) -> object:
        shown.append(what)
        return items

    monkeypatch.setattr(image_io, "track", track)
    files = [str(p) for p in sorted((photos / "a").iterdir())]
    image_io._load_folder(files, torch.empty(2, 3, 8, 8), 10**8, "data.root")
    assert shown == ["reading the images of data.root"]
