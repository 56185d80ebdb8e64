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


def _thumbs_of(side: Path) -> dict[int, bytes]:
    thumbs = ThumbnailStore(str(side))
    try:
        return thumbs.get([1, 2])
    finally:
        thumbs.close()


def test_a_symlinked_spelling_of_the_gallery_does_not_get_past_the_refusal(
    gallery: Path, tmp_path: Path
) -> None:
    """The side files are named after the path the gallery is opened by: the service started
    with ``link.db`` (a symlink to staff.db) keeps its thumbnails in ``link.db.thumbs``, and
    SQLite its log at ``staff.db-wal``. Spelled through the link either way, the names were
    compared as spelled, and the backup (with force) replaced the thumbnails by the gallery."""
    link = tmp_path / "link.db"
    link.symlink_to(gallery)
    side = Path(thumbnails_path_for(gallery))
    with pytest.raises(ValueError, match="is the gallery's thumbnail file, where it keeps"):
        backup_gallery_file(link, side, force=True)  # the real side file, the gallery via link
    assert _thumbs_of(side) == {1: b"png-1", 2: b"png-2"}

    beside_link = Path(thumbnails_path_for(link))
    side.rename(beside_link)  # where a service started with link.db keeps them
    with pytest.raises(ValueError, match="is the gallery's thumbnail file, where it keeps"):
        backup_gallery_file(gallery, beside_link, force=True)
    assert _thumbs_of(beside_link) == {1: b"png-1", 2: b"png-2"}
    with pytest.raises(ValueError, match="is a file SQLite keeps beside the gallery; give"):
        backup_gallery_file(link, f"{gallery}-wal", force=True)
    with Gallery.open(gallery, create=False) as g:
        assert len(g) == 2


def test_the_files_a_backup_writes_beside_it_are_not_the_gallerys(tmp_path: Path) -> None:
    """A gallery named ``staff.thumbs``: a backup to ``staff`` writes ``staff.thumbs`` beside
    it (its thumbnail file) or, the gallery having none, deletes it. The refusal without force
    named the gallery as the backup's existing file and advised force, which deleted it."""
    path = tmp_path / "staff.thumbs"
    with Gallery.open(path, embedding_dim=4, distance="euclidean") as g:
        g.enroll_embeddings("alice", np.eye(4, dtype=np.float32)[:2])
    before = path.read_bytes()
    for force in (False, True):
        with pytest.raises(ValueError) as info:
            backup_gallery_file(path, tmp_path / "staff", force=force)
        assert str(info.value) == (
            f"the backup {tmp_path / 'staff'} would write or delete {path} beside it, which is "
            "the gallery itself; give another path for the backup"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staff.thumbs"]
    assert path.read_bytes() == before
    made = backup_gallery_file(path, tmp_path / "copy.db")  # another name is backed up
    assert (made.num_items, made.thumbnails) == (2, None)
