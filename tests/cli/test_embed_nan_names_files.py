"""``siamkit embed`` with a model that embeds an image as NaN wrote the NaN rows to OUT and
exited 0. It now refuses them at the first chunk that holds one, naming the files, counted
against the images embedded so far and all of them (as ``siamkit enroll`` does), and writes
nothing: no OUT, and an OUT there before (--force) as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from _nan_for_white import nan_for_white
from siamkit.cli.main import cli
from siamkit.models import SiameseNetwork


@pytest.fixture
def setup(tmp_path, monkeypatch):
    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    siamkit.save_model(SiameseNetwork(encoder, embedding_dim=4, preprocess=pre), tmp_path / "m")
    rng = np.random.default_rng(0)
    paths = [tmp_path / f"img{i}.png" for i in range(5)]
    for i, path in enumerate(paths):  # the fourth all white, which the model breaks on
        img = np.full((28, 28), 255, np.uint8) if i == 3 else rng.integers(0, 200, (28, 28))
        Image.fromarray(img.astype(np.uint8)).save(path)
    return tmp_path / "m", paths


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_embed_refuses_a_nan_by_its_file_and_writes_nothing(setup, tmp_path, monkeypatch, suffix):
    model, paths = setup
    out = tmp_path / f"z{suffix}"
    calls = nan_for_white(monkeypatch)
    args = ["embed", str(model), *map(str, paths), "--out", str(out), "--batch-size", "2"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (  # after any progress lines
        "Error: 1 of the 4 embeddings the model made of the first 4 of the 5 images hold NaN "
        f"or infinite values ({str(paths[3])!r}), which nothing can rank or compare; nothing "
        f"was written to {out}"
    )
    # refused at the chunk that holds it: the fifth image (a chunk of 1, last) not embedded
    assert calls[-2:] == [2, 2], calls
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m", *(p.name for p in paths)])


def test_embed_keeps_an_earlier_out_whole_when_refused(setup, tmp_path, monkeypatch):
    model, paths = setup
    out = tmp_path / "z.npy"
    res = CliRunner().invoke(cli, ["embed", str(model), *map(str, paths), "--out", str(out)])
    assert res.exit_code == 0, res.output
    before = out.read_bytes(), (tmp_path / "z.ids.txt").read_bytes()
    assert np.isfinite(np.load(out)).all()
    nan_for_white(monkeypatch)
    res = CliRunner().invoke(
        cli, ["embed", str(model), *map(str, paths), "--out", str(out), "--force"]
    )
    assert res.exit_code == 1, res.output
    assert "hold NaN or infinite values" in res.output
    assert (out.read_bytes(), (tmp_path / "z.ids.txt").read_bytes()) == before


def test_embed_of_built_in_data_refuses_a_nan_by_its_rows_id(tmp_path, monkeypatch):
    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 8, 8))
    model = tmp_path / "m8"  # digits' 8x8 images
    siamkit.save_model(SiameseNetwork(encoder, embedding_dim=4, preprocess=pre), model)
    real = SiameseNetwork.embed
    monkeypatch.setattr(SiameseNetwork, "embed", lambda s, x, *a, **k: real(s, x) * float("nan"))
    out = tmp_path / "d.npy"
    res = CliRunner().invoke(cli, ["embed", str(model), "--data", "digits", "--out", str(out)])
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: 1797 of the 1797 embeddings the model made of the images hold")
    assert "('digits:test:0', 'digits:test:1', 'digits:test:2'" in last, last
    assert last.endswith(f"which nothing can rank or compare; nothing was written to {out}"), last
    assert not out.exists()
