"""benchmarks/bench_transfer.py: the image folder it writes, its fixed split, and a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _bench_scripts import load_script

from siamkit.training import apply_overrides, load_config, load_run_data
from siamkit.training.config_io import dump_config


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_transfer")


def test_folder_and_split_are_what_siamkit_train_loads(bench, tmp_path: Path) -> None:
    x, y = bench.DATASETS["digits"]()
    root = bench.write_folder(x, y, tmp_path / "digits")
    assert sorted(p.name for p in root.iterdir()) == [str(c) for c in range(10)]
    cfg = bench.recipe_config(bench.DEFAULT_CONFIG, root, 0, ["data.image_size=8"])
    data = load_run_data(cfg.data)
    # the split fixed in the script: 0-5 train, two of them drawn for validation, 6-9 unseen
    assert set(data.train_classes) | set(data.val_classes) == set(bench.TRAIN_CLASSES)
    assert len(data.val_classes) == bench.VAL_CLASSES
    assert not set(data.train_classes) & set(data.val_classes)
    assert data.test_classes == (6, 7, 8, 9)
    assert set(data.test_y.tolist()) == {6, 7, 8, 9}
    assert set(data.val_y.tolist()) == set(data.val_classes)
    # PNG round trip at the source's size: the loaded pixels are the data set's own
    order = np.argsort(y[y >= 6], kind="stable")
    want = torch.from_numpy(x[y >= 6][order])
    got = data.test_x[:, 0]  # the loader holds an image folder as uint8 0-255
    assert got.dtype == torch.uint8 and got.shape == want.shape and torch.equal(got, want)
    # the recipe is the config's: only data keys, normalisation, seed and device are set
    recipe = load_config(bench.DEFAULT_CONFIG)
    assert cfg.model.input_mean is None and cfg.model.encoder == recipe.model.encoder
    assert (cfg.loss, cfg.optim, cfg.data.augmentation) == (
        recipe.loss,
        recipe.optim,
        recipe.data.augmentation,
    )


@pytest.mark.slow
def test_a_tiny_run_reads_the_recipe_from_the_config(bench, tmp_path: Path) -> None:
    """~30 s: a config without appearance features has no "learned part" or feature rows."""
    plain = tmp_path / "plain.yaml"
    cfg = load_config(bench.DEFAULT_CONFIG)
    dump_config(apply_overrides(cfg, ["model.appearance=null", "model.embedding_dim=16"]), plain)
    out = tmp_path / "rows.json"
    for config, name in ((bench.DEFAULT_CONFIG, "demo"), (plain, "plain")):
        args = ["--config", str(config), "--datasets", "digits", "--epochs", "1", "--episodes", "20",
                "--set", "train.steps_per_epoch=2", "--no-progress", "--json", str(out)]  # fmt: skip
        assert bench.main(args) == 0
        rows = json.loads(out.read_text())["digits"]
        metrics = rows["pml-batch-hard"][0]
        assert 0.25 <= metrics["1-shot"] <= 1.0 and 0.0 <= metrics["EER"] <= 0.75
        assert rows["pixels"][0]["1-shot"] > 0.5  # digits are easy for raw pixels
        if name == "plain":
            assert set(rows) == {"siamkit-default", "pml-batch-hard", "pixels"}
        elif cfg.model.appearance is not None:
            assert {"siamkit-default learned part", "appearance-only"} <= set(rows)
