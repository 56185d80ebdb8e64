"""Write ``skip_in_loss.pt``: the checkpoint after epoch 1 of 2 of a digits run with the appearance
features in the loss, made by siamkit before JoinedEmbedding (commit 7d9e73b: flat
``model.appearance_skip_*`` keys in the saved config, a SiameseNetwork with an appearance skip as
the trained module), for ``tests/training/test_resume.py``. Run once with that siamkit::

    PYTHONPATH=<siamkit 7d9e73b>/src python tests/training/legacy/make_legacy_checkpoint.py
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import torch

import siamkit.training.trainer as trainer_mod
from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SETS = [
    "train.epochs=2",
    "train.ema_decay=0.9",
    "model.appearance_skip_weight=1.0",
    "model.appearance_skip_pool=4",
]


def main() -> None:
    cfg = apply_overrides(load_config(ROOT / "configs" / "digits-tiny.yaml"), SETS)
    data = load_run_data(cfg.data)
    real, calls = trainer_mod.train_step, {"n": 0}

    def dying_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # the first batch of epoch 2 (6 batches per epoch)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    trainer_mod.train_step = dying_step
    out = Path(tempfile.mkdtemp())
    torch.manual_seed(123)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    with contextlib.suppress(KeyboardInterrupt):
        Trainer.from_config(net, cfg, data, out_dir=out, progress=False).fit()
    shutil.copy(out / "checkpoint.pt", HERE / "skip_in_loss.pt")
    shutil.rmtree(out)


if __name__ == "__main__":
    main()
