"""`siamkit face enroll` kept its thumbnails just after the commit without looking whether a
removal (another process's `siamkit gallery remove`, the service's DELETE /gallery) had taken
the faces in between: that removal found no thumbnail to delete, and they stayed for good under
ids never handed out again. It now reads the new ids back, as the service's /enroll does, and
deletes the thumbnails of those gone."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli
from siamkit.index import Gallery
from siamkit.index.thumbnail_store import ThumbnailStore


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [tuple(r) for r in conn.execute(sql)]


def test_a_face_label_removed_before_its_thumbnail_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astronaut: Any, megamind: Any
) -> None:
    Image.fromarray(astronaut).save(tmp_path / "eileen.png")
    Image.fromarray(megamind[110]).save(tmp_path / "mega.png")
    db = tmp_path / "staff.db"

    def enroll(label: str, photo: str) -> None:
        args = ["face", "enroll", "--gallery", str(db), "--label", label, str(tmp_path / photo)]
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output

    enroll("mega", "mega.png")  # item 1, kept with its thumbnail
    real = ThumbnailStore.put_enrolled

    def put_enrolled(self: ThumbnailStore, *args: Any) -> None:
        with Gallery.open(db) as other:  # a removal between the commit and the thumbnail
            other.remove("eileen")
        real(self, *args)

    monkeypatch.setattr(ThumbnailStore, "put_enrolled", put_enrolled)
    enroll("eileen", "eileen.png")  # item 2, removed before its thumbnail is written
    assert rows(db, "SELECT id, label FROM items") == [(1, "mega")]
    thumbs = Path(f"{db}.thumbs")
    assert rows(thumbs, "SELECT item_id, label FROM thumbnails ORDER BY 1") == [(1, "mega")]
