"""A backup written onto the gallery's thumbnail side file (``staff.db.thumbs``) with
``force=True``, as the "already exists; give another path, or force=True to overwrite it"
refusal advised, replaced every thumbnail of the gallery by a copy of the gallery (the service
then refused the side file); onto SQLite's files beside the gallery (its ``-wal``, which holds
committed enrollments not yet copied into the file while it is open) it would replace those.
Each is refused now, naming what the path is, with every file left as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siamkit.index import Gallery
from siamkit.index.store_files import backup_gallery_file
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for


@pytest.fixture
def gallery(tmp_path: Path) -> Path:
    path = tmp_path / "staff.db"
    with Gallery.open(path, embedding_dim=4, distance="euclidean") as g:
        ids = g.enroll_embeddings("alice", np.eye(4, dtype=np.float32)[:2])
    thumbs = ThumbnailStore(thumbnails_path_for(path))
    thumbs.put("alice", ids, [b"png-1", b"png-2"])
    thumbs.close()
    return path


@pytest.mark.parametrize("force", [False, True])
def test_a_backup_onto_the_gallerys_thumbnails_is_refused(gallery: Path, force: bool) -> None:
    side = Path(thumbnails_path_for(gallery))
    before = side.read_bytes()
    with pytest.raises(ValueError) as info:
        backup_gallery_file(gallery, side, force=force)
    assert str(info.value) == (
        f"{side} is the gallery's thumbnail file, where it keeps its items' thumbnails; give "
        "another path for the backup"
    )
    assert side.read_bytes() == before
    thumbs = ThumbnailStore(str(side))
    try:
        assert thumbs.get([1, 2]) == {1: b"png-1", 2: b"png-2"}
    finally:
        thumbs.close()


@pytest.mark.parametrize("end", ["-wal", "-shm", "-journal"])
def test_a_backup_onto_a_file_sqlite_keeps_beside_the_gallery_is_refused(
    gallery: Path, end: str
) -> None:
    beside = Path(f"{gallery}{end}")
    with pytest.raises(ValueError, match="is a file SQLite keeps beside the gallery; give"):
        backup_gallery_file(gallery, beside, force=True)
    with Gallery.open(gallery, create=False) as g:
        assert len(g) == 2
