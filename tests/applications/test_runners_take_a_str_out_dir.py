"""The signatures, half_twin and siamfc runners, called from Python as ``get_task(task)(doc,
out_dir, TaskOptions())`` (siamkit.training's documented call), took ``out_dir`` only as a
``Path``: a notebook's ``"runs/x"`` failed with ``AttributeError: 'str' object has no attribute
...`` (ssl takes a str since cf5c5aa, and the text runner now does too). half_twin ignores
``log`` and ``progress`` (it prints nothing); its docstring now says so."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from siamkit.training import TaskOptions, get_task

SIGNATURES = """
data: {synthetic_writers: 12, genuine: 7, forged: 4, image_size: [40, 56], split: [0.5, 0.25, 0.25]}
model: {embedding_dim: 16, encoder_kwargs: {widths: [4, 8, 8, 8], fc: 16, stem_stride: 1}}
train: {steps: 2, writers_per_batch: 4, genuine_per_writer: 3, forged_per_writer: 2, eval_every: 2}
eval: {references: 3}
"""
SIAMFC = """
model: {backbone: tiny}
data: {frame_size: [160, 120], n_frames: 20}
train: {steps: 2, batch_size: 2, threads: 1}
eval: {n_sequences: 1, n_frames: 5, frame_size: [160, 120]}
"""


def _half_twin(tmp: Path) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = rng.normal(size=(40, 5)).astype(np.float32)
    np.savez(tmp / "pairs.npz", x=x, y=y, labels=labels)
    return {
        "data": {"path": str(tmp / "pairs.npz"), "val_fraction": 0.25},
        "model": {"embedding_dim": 4},
        "train": {"epochs": 2, "batch_size": 16},
    }


CONFIGS = {
    "signatures": lambda tmp: yaml.safe_load(SIGNATURES),
    "half_twin": _half_twin,
    "siamfc": lambda tmp: yaml.safe_load(SIAMFC),
}


@pytest.mark.parametrize("task", list(CONFIGS))
def test_the_runner_takes_out_dir_as_a_str(task: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    quiet = TaskOptions(progress=False, log=lambda line: None)
    summary = get_task(task)(CONFIGS[task](tmp_path), str(out), quiet)
    assert (out / "metrics.json").is_file() and json.loads((out / "metrics.json").read_text())
    assert summary.model_dir is not None and Path(summary.model_dir).is_dir()


def test_half_twin_says_it_ignores_log_and_progress() -> None:
    doc = inspect.getdoc(get_task("half_twin")) or ""
    assert "``options.log`` and ``options.progress`` change nothing" in doc
    assert "a str or a path" in doc


def test_run_signatures_takes_out_dir_as_a_str(tmp_path: Path) -> None:
    """``run_signatures`` (the signatures package's own Python entry, listed in its ``__all__``)
    was typed ``Path | None`` and failed on a str (``str / str``); it now takes a str or a path,
    as the runner that calls it does."""
    from siamkit.applications.signatures.config import signature_config_from_dict
    from siamkit.applications.signatures.task import run_signatures

    cfg = signature_config_from_dict(yaml.safe_load(SIGNATURES), ())
    out = tmp_path / "run"
    quiet = TaskOptions(progress=False, log=lambda line: None)
    metrics = run_signatures(cfg, str(out), quiet)
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert (out / "model" / "siamkit.json").is_file() and (out / "config.yaml").is_file()
