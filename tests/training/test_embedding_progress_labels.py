"""The progress lines of a run's embedding passes say what they embed: the collapse monitor's
and the kNN monitor's images, the validation images, the test images. They all read a bare
"embedding: n/8 batches" before and after SSL and fine-tune training."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from tests._tiny_ssl import save_photos

import siamkit.encode as encode_mod
import siamkit.experiment.run as run_mod
from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _spy_labels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The description of every embedding pass's progress lines, in order."""
    said: list[str] = []
    real = encode_mod.track

    def track(items: Iterable[Any], desc: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        said.append(desc)
        return real(items, desc, *args, **kwargs)

    monkeypatch.setattr(encode_mod, "track", track)
    return said


def test_a_supervised_run_labels_each_embedding_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_mod, "try_write_report", lambda *args, **kwargs: None)
    said = _spy_labels(monkeypatch)
    res = CliRunner().invoke(cli, [
        "train", str(TINY), "--out", str(tmp_path / "o"), "--no-progress", "--episodes", "5",
        "--set", "train.epochs=1", "--set", "data.val_classes=[4, 5]",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "embedding" not in said, said
    assert said[0] == "embedding the collapse monitor's images"  # before the first epoch
    assert "embedding validation images" in said  # val_metric and the threshold
    assert said[-1] == "embedding test images"
    assert set(said) == {
        "embedding the collapse monitor's images", "embedding validation images",
        "embedding test images",
    }  # fmt: skip


def test_an_ssl_run_labels_its_monitors_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = save_photos(tmp_path / "photos", 20, size=8)
    labeled = tmp_path / "labeled"
    for c, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (labeled / c).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), tuple(v + 5 * i for v in colour)).save(
                labeled / c / f"{i}.png"
            )
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump({
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 8,
                 "val_root": str(labeled)},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8], "taps": [0]},
                  "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "embed": "backbone"},
        "train": {"epochs": 1, "batch_size": 20, "steps_per_epoch": 1, "device": "cpu",
                  "knn_k": 3},
    }))  # fmt: skip
    said = _spy_labels(monkeypatch)
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert "embedding" not in said, said
    assert "embedding the kNN monitor's images" in said, said
    assert "embedding the collapse monitor's images" in said, said  # backbone: not the watched head
    assert set(said) <= {
        "embedding the kNN monitor's images", "embedding the collapse monitor's images",
        "embedding test images",
    }, said  # fmt: skip
