"""`siamkit enroll` kept each label's thumbnails just after its commit without looking whether a
removal (another process's `siamkit gallery remove`, the service's DELETE /gallery) had taken
the items in between: that removal found no thumbnail to delete, and they stayed for good
under ids never handed out again. It now reads the new ids back, as the service's /enroll
does, and deletes the thumbnails of those gone."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.index import Gallery
from siamkit.index.thumbnail_store import ThumbnailStore


def removed_before_its_thumbnails(monkeypatch: pytest.MonkeyPatch, db: Path, label: str) -> None:
    """The first ``put_enrolled`` (just after a commit) first removes ``label`` from another
    Gallery on the same file, as a removal landing between the commit and the thumbnails."""
    real = ThumbnailStore.put_enrolled
    calls: list[int] = []

    def put_enrolled(self: ThumbnailStore, *args: Any) -> None:
        if not calls:
            calls.append(1)
            with Gallery.open(db) as other:
                other.remove(label)
        real(self, *args)

    monkeypatch.setattr(ThumbnailStore, "put_enrolled", put_enrolled)


def ids_of(db: Path, sql: str) -> list[tuple[int, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [tuple(r) for r in conn.execute(sql)]


def test_a_label_removed_before_its_thumbnails_leaves_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{i}.png")
    db = tmp_path / "shop.db"
    removed_before_its_thumbnails(monkeypatch, db, "bag")  # bag is enrolled first
    args = ["enroll", str(model), "--gallery", str(db), str(tmp_path / "photos")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    items = ids_of(db, "SELECT id, label FROM items ORDER BY id")
    assert items == [(3, "boot"), (4, "boot")]  # bag's 1 and 2 removed after their commit
    # every thumbnail is a stored item's, under its label: none of bag's removed items
    assert ids_of(Path(f"{db}.thumbs"), "SELECT item_id, label FROM thumbnails ORDER BY 1") == items
