"""``torchrun --nproc_per_node=2 -m siamkit train`` for ``task: ssl`` and ``task: siamfc`` on two
gloo processes: both train, rank 0 alone writes and prints."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from _gloo import torchrun_siamkit

ROOT = Path(__file__).resolve().parents[2]


def _torchrun(config: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["train", str(config), "--out", str(out), "--no-progress", "--device", "cpu", *extra]
    res = torchrun_siamkit(*args)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.mark.slow
def test_ssl_under_torchrun(tmp_path: Path) -> None:
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(
        "task: ssl\nmethod: simclr\ndata: {dataset: digits, limit: 200}\n"
        "model: {encoder: convnet, encoder_kwargs: {widths: [8, 16]}, embedding_dim: 16}\n"
        "ssl: {proj_dim: 16, proj_hidden: 32}\n"
        "train: {epochs: 2, batch_size: 16, steps_per_epoch: 2, knn_k: 5, monitor_images: 64}\n"
    )
    res = _torchrun(cfg, tmp_path / "run")
    assert res.stdout.count("model:") == 1 and res.stdout.count("epoch 2/2") == 1
    assert "2 processes on cpu" in res.stdout
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2]
    for name in ("config.yaml", "checkpoint.pt", "metrics.json", "model/model.safetensors"):
        assert (tmp_path / "run" / name).is_file(), name


@pytest.mark.slow
def test_siamfc_under_torchrun(tmp_path: Path) -> None:
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(
        "task: siamfc\nmodel: {backbone: tiny}\n"
        "data: {frame_size: [160, 120], n_frames: 20}\n"
        "train: {steps: 4, batch_size: 2, checkpoint_every: 2, threads: 1}\n"
        "eval: {n_sequences: 1, n_frames: 5, frame_size: [160, 120]}\n"
    )
    res = _torchrun(cfg, tmp_path / "run")
    assert res.stdout.count("model:") == 1 and res.stdout.count("step 4: loss") == 1
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train.steps"] == 4
    for name in ("config.yaml", "checkpoint.pt", "model/model.safetensors"):
        assert (tmp_path / "run" / name).is_file(), name
