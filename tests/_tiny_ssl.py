"""A one-step self-supervised run (``task: ssl``, SimCLR) on a folder of random colour photos:
the tests' stand-in for a model that learned without labels (its run records
``labels_used: false``), trained in about a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from click.testing import CliRunner
from PIL import Image


def save_photos(folder: Path, n: int, size: int = 12, sub: str | None = None) -> Path:
    """Write ``n`` seeded random ``size``-pixel colour PNGs ``0.png`` ... into ``folder``; with
    ``sub``, the even-numbered ones go into ``folder/sub`` instead (photos beside a sub-folder
    of more photos). Returns ``folder``."""
    (folder / sub if sub else folder).mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        arr = (torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save((folder / sub if sub and i % 2 == 0 else folder) / f"{i}.png")
    return folder


def train_tiny_ssl(
    tmp_path: Path,
    photos: Path,
    image_size: int = 12,
    name: str = "o",
    encoder_kwargs: dict[str, Any] | None = None,
    ssl: dict[str, Any] | None = None,
) -> Path:
    """Train one SimCLR step on the image folder ``photos`` through ``siamkit train`` (config
    ``tmp_path/<name>.yaml``, run ``tmp_path/<name>``) and return its model folder. A ConvNet of
    ``encoder_kwargs`` (default one 8-channel block), an 8-d embedding; ``ssl`` adds to the
    ssl section."""
    from siamkit.cli.main import cli

    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": image_size},
        "model": {"encoder": "convnet", "encoder_kwargs": encoder_kwargs or {"widths": [8]},
                  "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, **(ssl or {})},
        "train": {"epochs": 1, "batch_size": 20, "steps_per_epoch": 1, "device": "cpu"},
    }))  # fmt: skip
    out = tmp_path / name
    trained = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress"])
    assert trained.exit_code == 0, trained.output
    return out / "model"
