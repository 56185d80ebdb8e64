"""End to end: photos per person -> `siamkit face crop` -> `siamkit train` -> `siamkit face ...`."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "faces-chips.yaml"


def _scaled(img: np.ndarray, k: int) -> np.ndarray:
    """Photo ``k`` of a person: mirrored on odd ``k``, scaled by 0.9, 1.0 or 1.1."""
    s = 0.9 + 0.1 * (k % 3)
    return cv2.resize(np.ascontiguousarray(img if k % 2 == 0 else img[:, ::-1]), None, fx=s, fy=s)


def _people(root, astronaut, messi, megamind):
    """Three 'people', 10 photos each (variants of one photo, or of two video frames)."""
    sets = {
        "eileen": [_scaled(astronaut, k) for k in range(10)],
        "lionel": [_scaled(messi, k) for k in range(10)],
        "mega": [_scaled(megamind[110 if k < 5 else 120], k) for k in range(10)],
    }
    for name, images in sets.items():
        (root / name).mkdir(parents=True)
        for j, img in enumerate(images):
            Image.fromarray(np.ascontiguousarray(img)).save(root / name / f"{j}.png")


@pytest.mark.slow
def test_crop_train_then_identify_with_the_trained_model(tmp_path, astronaut, messi, megamind):
    _people(tmp_path / "people", astronaut, messi, megamind)
    run = lambda *a: CliRunner().invoke(cli, [str(x) for x in a])  # noqa: E731
    res = run("face", "crop", tmp_path / "people", tmp_path / "chips", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["written"] >= 27, res.output
    sets = ["data.root=" + str(tmp_path / "chips"), "data.image_size=32", "train.epochs=1"]
    sets += ["data.val_fraction=0.3"]  # 2+ validation chips per person for calibration pairs
    sets += ["eval.shots=[1]", "eval.queries=1", "eval.episodes=10"]
    args = ["train", CONFIG, "--out", tmp_path / "run"]
    res = run(*args, *[x for s in sets for x in ("--set", s)])
    assert res.exit_code == 0, res.output
    model = tmp_path / "run" / "model"
    db = tmp_path / "g.db"
    res = run(
        "face",
        "enroll",
        "--gallery",
        db,
        "--model",
        model,
        "--label",
        "eileen",
        tmp_path / "people" / "eileen" / "0.png",
    )
    assert res.exit_code == 0, res.output
    res = run(
        "face",
        "identify",
        "--gallery",
        db,
        "--model",
        model,
        tmp_path / "people" / "eileen" / "2.png",
        "--json",
    )
    assert res.exit_code == 0, res.output
    faces = json.loads(res.stdout)["images"][0]["faces"]
    assert faces and faces[0]["matches"][0]["label"] == "eileen"
