"""``siamkit embed``'s summary line counts in the number the count takes: one file said
"embedded 1 images", and 1,234 said "embedded 1234 images" while evaluate writes "1,234"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli


@pytest.mark.parametrize(("n", "said"), [(1, "1 image"), (2, "2 images"), (1234, "1,234 images")])
def test_embed_says_its_count_in_its_number(tmp_path: Path, n: int, said: str) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(photos / f"{i}.png")
    out = tmp_path / "z.npy"
    res = CliRunner().invoke(cli, ["embed", str(model), str(photos), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1].startswith(f"embedded {said} -> 4-d; wrote {out}")
