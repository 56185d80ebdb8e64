"""--threshold of verify and identify: a score-normalised model's scores (z-scores) and its own
calibrated threshold may be negative, so a negative override is taken for such a model; for any
other model (distances >= 0) it is refused in one sentence, since it would accept no pair. It
was refused for every model at parse time (reviewer s52_R5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli
from siamkit.encoders import create_encoder
from siamkit.export.bundle import save_model
from siamkit.models import SiameseNetwork


def _model(root: Path, snorm: bool) -> tuple[Path, list[str]]:
    """A model (S-norm against a cohort of noisy images, or plain) and three images."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 8).eval()
    base = [rng.integers(0, 255, (16, 16)) for _ in range(8)]
    cohort = [np.clip(b + rng.integers(-10, 10, b.shape), 0, 255) for b in base for _ in range(5)]
    with torch.no_grad():
        x = torch.tensor(np.stack(cohort), dtype=torch.float32)[:, None] / 255.0
        z = net.embed(x)  # also records the input shape
    if snorm:
        net.set_score_norm(z, k=10)
    images = []  # two near-copies of one cohort image and another image
    for i, b in enumerate([base[0] + 3, base[0] - 3, base[1]]):
        images.append(str(root / f"{i}.png"))
        Image.fromarray(np.clip(b, 0, 255).astype(np.uint8)).save(images[-1])
    return save_model(net, root / "model"), images


def test_a_score_normalised_model_takes_a_negative_threshold(tmp_path: Path) -> None:
    model, (a, b, _) = _model(tmp_path, snorm=True)
    run = CliRunner().invoke(cli, ["verify", str(model), a, b, "--json"])
    assert run.exit_code == 0, run.output
    score = json.loads(run.output)["distance"]
    assert score < -0.5  # the case: a close pair's z-score is negative
    for t in (score - 0.1, score + 0.1):  # each side of the pair's own score, both below 0
        run = CliRunner().invoke(cli, ["verify", str(model), a, b, "--threshold", str(t), "--json"])
        assert run.exit_code == 0, run.output
        doc = json.loads(run.output)
        assert doc["threshold"] == t and doc["same"] == (score <= t)


def test_a_negative_threshold_for_distances_is_refused_in_one_sentence(tmp_path: Path) -> None:
    model, (a, b, _) = _model(tmp_path, snorm=False)
    for args in (["verify", str(model), a, b], ["identify", str(model), "--gallery", "g.db", a]):
        run = CliRunner().invoke(cli, [*args, "--threshold", "-1"])
        assert run.exit_code == 2, run.output
        assert run.output.strip().splitlines()[-1] == (
            "Error: Invalid value for '--threshold': -1 is below 0, and this model's distances "
            "are >= 0, so it would accept no pair; give a finite number of at least 0 (only a "
            "score-normalised model's threshold is negative)."
        )
    run = CliRunner().invoke(cli, ["verify", str(model), a, b, "--threshold", "nan"])
    assert run.exit_code == 2 and "is not a distance threshold" in run.output


def test_face_commands_check_the_sign_against_the_model_too(tmp_path: Path) -> None:
    """face verify and face identify refused any negative --threshold when it was parsed, even
    for a score-normalised siamkit model whose own threshold is negative (reviewer s52_R12); the
    sign is now checked against the model, as verify and identify check it: dlib's encoder
    scores distances >= 0, so -1 is refused in the same sentence, before any face is looked for
    (face identify makes the same call after opening its gallery's model)."""
    _, (a, b, _) = _model(tmp_path, snorm=False)
    run = CliRunner().invoke(cli, ["face", "verify", a, b, "--threshold", "-1"])
    assert run.exit_code == 2, run.output
    assert (
        run.output.strip()
        .splitlines()[-1]
        .startswith(
            "Error: Invalid value for '--threshold': -1 is below 0, and this model's distances "
        )
    )
