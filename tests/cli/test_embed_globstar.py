"""``siamkit embed MODEL photos/**`` (zsh, or bash with globstar) names the folder, its
sub-folders and every file in them: each image was embedded once for each, three rows with one
id, so 20,000 photos gave 60,000 rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli


def test_a_file_named_again_through_its_folder_is_embedded_once(tmp_path: Path) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    files = []
    for label in ("bag", "coat"):
        (photos / label).mkdir(parents=True)
        for i in range(2):
            files.append(photos / label / f"{i}.png")
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(files[-1])
    globstar = [photos, photos / "bag", *files[:2], photos / "coat", *files[2:]]
    out = tmp_path / "z.npy"
    res = CliRunner().invoke(cli, ["embed", str(model), *map(str, globstar), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert np.load(out).shape == (4, 4)
    assert (tmp_path / "z.ids.txt").read_text().splitlines() == [str(p) for p in files]
