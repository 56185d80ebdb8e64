"""``siamkit enroll FOLDER`` lists its label folders through training's class walk: a folder link
from one label into another (``alice/bob -> ../bob``) enrolled Bob's photos under Alice too,
without a word (reviewer s53_FB finding 2). The link is left out and named in one ``warning:``
line, as training names it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.index.gallery import Gallery


def test_enroll_leaves_a_link_into_another_label_out_and_says_so(tmp_path: Path) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(siamkit.SiameseNetwork(enc, 4, preprocess=pre), tmp_path / "m")
    root = tmp_path / "staff"
    rng = np.random.default_rng(0)
    for rel in ("alice/0.png", "bob/1.png", "bob/2.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / rel)
    os.symlink("../bob", root / "alice" / "bob")
    gallery = tmp_path / "g.db"
    res = CliRunner().invoke(cli, ["enroll", str(model), "--gallery", str(gallery), str(root)])
    assert res.exit_code == 0, res.output
    assert f"warning: left out the folder {root / 'alice' / 'bob'}: it leads to " in res.output
    assert "Traceback" not in res.output and "LeftOutFilesWarning" not in res.output
    with Gallery.open(gallery, create=False) as g:
        assert {info.label: info.count for info in g.labels()} == {"alice": 1, "bob": 2}
