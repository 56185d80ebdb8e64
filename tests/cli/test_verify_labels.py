"""verify and identify name what they print: a distance, or with the model's cohort score
normalisation (eval.score_norm) a normalised score, which is no distance (it can be negative)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli


def _model_and_images(root: Path, score_norm: bool) -> tuple[Path, list[Path]]:
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    pre = siamkit.models.Preprocess((0.3,), (0.4,), (1, 28, 28))
    net = siamkit.SiameseNetwork(enc, 16, preprocess=pre).eval()
    if score_norm:
        with torch.no_grad():
            net.set_score_norm(net.embed(torch.rand(20, 1, 28, 28)), k=5, method="snorm")
    siamkit.save_model(net, root / "model", threshold=0.0)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        paths.append(root / f"img{i}.png")
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(paths[-1])
    return root / "model", paths


@pytest.mark.parametrize(
    ("score_norm", "kind"), [(False, "distance"), (True, "snorm-normalised score")]
)
def test_verify_and_identify_name_the_score(tmp_path: Path, score_norm: bool, kind: str) -> None:
    """With eval.score_norm both printed 'distance' for a normalised score."""
    model, (a, b) = _model_and_images(tmp_path, score_norm)
    res = CliRunner().invoke(cli, ["verify", str(model), str(a), str(b)])
    assert res.exit_code == 0, res.output
    assert f"({kind} " in res.output and ("distance" in res.output) == (kind == "distance")
    db = str(tmp_path / "g.db")
    res = CliRunner().invoke(cli, ["enroll", str(model), "--gallery", db, "--label", "x", str(a)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["identify", str(model), "--gallery", db, str(b)])
    assert res.exit_code == 0, res.output
    assert f" {kind} " in res.output and ("distance" in res.output) == (kind == "distance")
