"""``siamkit verify A B`` with an image model refused a NaN embedding by each input's own row,
"1 of the 1 embeddings the model made of the inputs hold NaN or infinite values (rows 0), which
no search can rank": neither file named, and verify runs no search. :func:`siamkit.index.verify_pair`
(which the service's ``/verify`` shares) now names the input, as ``siamkit face verify`` names
the photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from _nan_for_white import nan_for_white
from siamkit.cli.main import cli
from siamkit.index import verify_pair
from siamkit.index.base import UnrankableEmbeddingsError
from siamkit.models import SiameseNetwork


def _model(tmp_path):
    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    net = SiameseNetwork(encoder, embedding_dim=4, preprocess=pre)
    siamkit.save_model(net, tmp_path / "m")
    return net


@pytest.mark.parametrize("white", [0, 1])
def test_verify_names_the_file_whose_embedding_is_nan(tmp_path, monkeypatch, white):
    _model(tmp_path)
    rng = np.random.default_rng(0)
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for i, path in enumerate(paths):
        img = np.full((28, 28), 255, np.uint8) if i == white else rng.integers(0, 200, (28, 28))
        Image.fromarray(img.astype(np.uint8)).save(path)
    nan_for_white(monkeypatch)
    res = CliRunner().invoke(cli, ["verify", str(tmp_path / "m"), *map(str, paths)])
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: 1 of the 2 embeddings the model made of the two inputs hold NaN or infinite "
        f"values ({str(paths[white])!r}), which no verdict can be given on"
    )


def test_verify_pair_names_its_inputs_by_default_and_gives_finite_pairs_a_verdict(
    tmp_path, monkeypatch
):
    net = _model(tmp_path)
    a, white = torch.rand(1, 28, 28) * 0.5, torch.ones(1, 28, 28)
    want = verify_pair(net, a, a * 0.9, threshold=10.0)
    nan_for_white(monkeypatch)
    got = verify_pair(net, a, a * 0.9, threshold=10.0)  # a sound pair: the same verdict
    assert (got.same, got.distance) == (want.same, want.distance)
    with pytest.raises(UnrankableEmbeddingsError) as err:
        verify_pair(net, white, white)
    assert str(err.value) == (
        "2 of the 2 embeddings the model made of the two inputs hold NaN or infinite values "
        "('the first input', 'the second input'), which no verdict can be given on"
    )


def test_verify_against_a_label_names_the_file_whose_embedding_is_nan(tmp_path, monkeypatch):
    """The label form (``--gallery G --label L``) said "the inputs (rows 0), which no search can
    rank", naming no file, where ``identify`` of the same file names it (s57_FA Q1)."""
    net = _model(tmp_path)
    net.threshold = 0.5
    siamkit.save_model(net, tmp_path / "m")
    rng = np.random.default_rng(0)
    (tmp_path / "ref" / "bob").mkdir(parents=True)
    for k in range(2):
        img = rng.integers(0, 200, (28, 28)).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / "ref" / "bob" / f"{k}.png")
    white = tmp_path / "white.png"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(white)
    runner, g = CliRunner(), str(tmp_path / "g.db")
    enrolled = runner.invoke(
        cli, ["enroll", str(tmp_path / "m"), str(tmp_path / "ref"), "--gallery", g]
    )
    assert enrolled.exit_code == 0, enrolled.output
    sound = runner.invoke(
        cli,
        [
            "verify",
            str(tmp_path / "m"),
            str(tmp_path / "ref" / "bob" / "0.png"),
            "--json",
            "--gallery",
            g,
            "--label",
            "bob",
        ],
    )
    assert sound.exit_code == 0, sound.output  # an enrolled image of bob: bob, at distance ~0
    doc = json.loads(sound.output)
    assert doc["same"] is True and doc["label"] == "bob" and doc["distance"] < 1e-6, doc
    nan_for_white(monkeypatch)
    res = runner.invoke(
        cli, ["verify", str(tmp_path / "m"), str(white), "--gallery", g, "--label", "bob"]
    )
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: 1 of the 1 embeddings the model made of the image hold NaN or infinite values "
        f"({str(white)!r}), which no verdict can be given on"
    )
