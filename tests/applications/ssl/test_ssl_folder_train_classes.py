"""data.train_classes on a self-supervised run of an image folder with class sub-folders was
ignored without a word: train_classes [0] trained on every class's images. Another list than
the default (which configs/simclr.yaml carries for Fashion-MNIST) is now refused in one sentence
before anything is written; the default and null train on every image as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from PIL import Image

from siamkit.cli.main import cli
from siamkit.training.checkpoint import load_checkpoint, save_checkpoint


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    for c, colour in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200))):
        (root / f"kind{c}").mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), tuple(v + 10 * i for v in colour)).save(
                root / f"kind{c}" / f"{i}.png"
            )
    return root


def _train(tmp_path: Path, root: Path, train_classes: Any, *more: str, epochs: int = 1) -> Result:
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(root), "image_size": 8,
                 "train_classes": train_classes},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": epochs, "batch_size": 4, "steps_per_epoch": 1, "device": "cpu"},
    }  # fmt: skip
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "o"
    return CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress", *more])


def test_classes_picked_in_an_image_folder_are_refused(tmp_path: Path) -> None:
    res = _train(tmp_path, _folder(tmp_path), [0])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), res.exception
    last = res.output.strip().splitlines()
    assert len(last) == 1 and last[0].startswith(
        "Error: data.train_classes = [0] picks classes of fashion-mnist or digits; a "
        "self-supervised run on an image folder reads every image under data.root"
    ), res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("train_classes", [None, [0, 1, 2, 3, 4, 5]])
def test_the_default_or_none_trains_on_every_image(tmp_path: Path, train_classes: Any) -> None:
    res = _train(tmp_path, _folder(tmp_path), train_classes)
    assert res.exit_code == 0, res.output
    assert f"self-supervised on 12 images under {tmp_path / 'shop'}" in res.output


@pytest.mark.parametrize("now", [None, [0, 1, 2, 3, 4, 5]])
def test_a_run_started_with_classes_before_the_refusal_resumes(tmp_path: Path, now: Any) -> None:
    """A run on a folder started before such lists were refused, with train_classes [0] (it
    trained on every image), could be resumed no way: [0] is refused now, and the default or
    none was a different config than its checkpoint's. The key picks nothing in a folder, so a
    resume takes the one asked for now; [0] is still refused, saying to remove it, which
    resumes."""
    root = _folder(tmp_path)
    assert _train(tmp_path, root, None).exit_code == 0
    path = tmp_path / "o" / "checkpoint.pt"
    state = load_checkpoint(path)
    state["config"]["data"]["train_classes"] = [0]  # as the run before the refusal saved it
    save_checkpoint(state, path)
    res = _train(tmp_path, root, [0], "--resume", epochs=2)
    assert res.exit_code == 1 and "remove data.train_classes" in res.output, res.output
    res = _train(tmp_path, root, now, "--resume", epochs=2)
    assert res.exit_code == 0, res.output
    assert "resuming at epoch 2 of 2" in res.output, res.output
    assert [row["epoch"] for row in load_checkpoint(path)["history"]] == [0, 1, 2]


def test_a_resume_on_labelled_data_still_compares_the_classes(tmp_path: Path) -> None:
    """On digits the key picks the classes trained on: another list is a different run."""
    from siamkit.applications.ssl.config import ssl_config_from_dict, ssl_config_to_dict
    from siamkit.applications.ssl.trainer import check_resume

    doc = {"data": {"dataset": "digits", "train_classes": [0, 1, 2]}}
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1, "config": ssl_config_to_dict(ssl_config_from_dict(doc))}, path)
    check_resume(path, ssl_config_from_dict(doc))
    other = ssl_config_from_dict({"data": {"dataset": "digits", "train_classes": [0, 1]}})
    with pytest.raises(ValueError, match=r"different config \(data\.train_classes\)"):
        check_resume(path, other)
