"""``siamkit evaluate MODEL --data pairs.csv`` (and a text model's, which shares it) counted the
model's threshold's TAR, FAR and accuracy by a strict ``distance <= threshold``, while the model
accepts a pair within float32 rounding above it (siamkit.decision.accepts): a genuine pair 0.5e-5
over the threshold, which ``siamkit verify`` calls the same, was counted a false reject."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.data import load_images
from siamkit.index import verify_pair

SHAPE = (1, 16, 16)
PAIRS = [("n0", "n0b", 1), ("n1", "n1b", 1), ("n2", "n2b", 1), ("n0", "n1", 0), ("n1", "n2", 0),
         ("n0b", "n2", 0)]  # fmt: skip


def _net() -> siamkit.SiameseNetwork:
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(mean=(0.5,), std=(0.25,), input_shape=SHAPE)
    return siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre).eval()


@pytest.mark.parametrize("over", [0.5e-5, 2e-5, 1e-4])
@pytest.mark.parametrize("edge", [1, 3])  # a genuine pair, an impostor pair
def test_the_thresholds_rates_count_the_models_verdicts(
    tmp_path: Path, edge: int, over: float
) -> None:
    """The threshold ``over`` under pair ``edge``'s distance: an impostor 0.5e-5 over it is a
    false accept (a strict count of the impostors passed the genuine case alone), one 2e-5 over
    it is not."""
    rng = np.random.default_rng(0)
    for i in range(3):
        noise = rng.integers(0, 256, (20, 20))
        near = np.clip(noise + rng.integers(-40, 41, noise.shape), 0, 255)
        Image.fromarray(noise.astype(np.uint8)).save(tmp_path / f"n{i}.png")
        Image.fromarray(near.astype(np.uint8)).save(tmp_path / f"n{i}b.png")
    body = "".join(f"{a}.png,{b}.png,{s}\n" for a, b, s in PAIRS)
    (tmp_path / "pairs.csv").write_text("path_a,path_b,same\n" + body)
    net = _net()
    x = {n: load_images([tmp_path / f"{n}.png"], SHAPE) for pair in PAIRS for n in pair[:2]}
    d = [verify_pair(net, x[a][0], x[b][0]).distance for a, b, _ in PAIRS]
    t = d[edge] - over  # that pair `over` beyond the threshold
    model = siamkit.save_model(net, tmp_path / "model", threshold=t)
    res = CliRunner().invoke(cli, ["evaluate", str(model), "--data", str(tmp_path / "pairs.csv"),
                                   "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    test = json.loads(res.stdout)["calibration"]["test"]
    # the reference: the saved model's own verdict on each pair, as siamkit verify gives it
    saved = siamkit.load_model(model)
    same = np.array([bool(verify_pair(saved, x[a][0], x[b][0]).same) for a, b, _ in PAIRS])
    assert same[edge] == (over < 1e-5)  # within the rounding the model calls it the same
    label = np.array([s for *_, s in PAIRS]) == 1
    assert test["tar"] == pytest.approx(same[label].mean())
    assert test["far"] == pytest.approx(same[~label].mean())
    assert test["accuracy"] == pytest.approx((same == label).mean())
