"""``siamkit enroll`` of a large folder counts its images in one progress report: each chunk's
own embedding (a "1/1 batches" report when a chunk took seconds on a busy machine) interleaved
"embedding: 100% (1/1 batches)" lines with "embedding: 51% (10,240/20,005 images)" in the log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

import siamkit
from siamkit import progress as prog
from siamkit.cli._enroll import enroll_groups
from siamkit.index import Gallery


def test_enrolling_in_chunks_reports_one_progress_of_images(tmp_path, monkeypatch) -> None:
    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(encoder, embedding_dim=4, preprocess=pre)
    rng = np.random.default_rng(0)
    groups: dict[str, list[Path]] = {}
    for label in ("boot", "bag"):
        (tmp_path / label).mkdir()
        for j in range(3):
            path = tmp_path / label / f"{j}.png"
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(path)
            groups.setdefault(label, []).append(path)
    x = torch.rand(6, 1, 28, 28)
    opened: list[tuple[str, str]] = []
    real = prog.progress

    def recording(total, desc, unit="it", **kwargs):
        if prog.is_enabled():
            opened.append((desc, unit))
        return real(total, desc, unit, **kwargs)

    monkeypatch.setattr(prog, "progress", recording)
    prog.set_enabled(True)
    try:
        with Gallery.open(tmp_path / "g.db", net, create=True) as gallery:
            done = enroll_groups(gallery, net, groups, x, None, chunk=2)
    finally:
        prog.set_enabled(False)
    assert sum(len(v) for v in done.ids.values()) == 6
    assert opened == [("embedding", "images")]
