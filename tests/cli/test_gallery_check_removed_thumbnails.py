"""`siamkit gallery check` counted only the thumbnails above the last item id handed out (an
enrollment stopped before its commit), never those of items removed under ids handed out: an
image's thumbnail is kept just after its enrollment's commit (the service's /enroll, `siamkit
enroll`), so a removal of the label (`gallery remove`, DELETE /gallery/LABEL) in between leaves
it for good, as an older siamkit's removal or items deleted by hand do; no enrollment deletes
those, as their ids are not handed out again. They are now counted, in a note of their own
(exit status 0), and nothing is deleted."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.index import Gallery
from siamkit.index.store_files import check_gallery_file
from siamkit.index.thumbnail_store import ThumbnailStore


def _left_after_removal(db: Path) -> None:
    """Items 1-3 of alice and 4 of bob, with thumbnails; alice's label removed while her
    enrollment was still keeping its thumbnails (they are written after the removal), and
    item 5 of bob enrolled and removed, its thumbnail written after: 4 thumbnails of no item
    (1-3, 5) under ids handed out, one (4) of a stored item."""
    with Gallery.open(db, embedding_dim=2) as g:
        g.enroll_embeddings("alice", np.eye(3, 2, dtype=np.float32) + [[0, 1]] * 3)
        g.enroll_embeddings("bob", np.ones((1, 2), np.float32))
        g.enroll_embeddings("bob", np.full((1, 2), 2, np.float32))
        g.remove("alice")
        g.remove_items([5])
    with contextlib.closing(ThumbnailStore(f"{db}.thumbs")) as store:
        store.put("alice", [1, 2, 3], [b"a1", b"a2", b"a3"])  # the enrollment's late write
        store.put("bob", [4, 5], [b"b4", b"b5"])


def _no_item(db: Path) -> int:
    """The thumbnails of no item, counted naively: every thumbnail id against every item id."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        items = {r[0] for r in conn.execute("SELECT id FROM items")}
    with contextlib.closing(sqlite3.connect(f"{db}.thumbs")) as conn:
        return sum(r[0] not in items for r in conn.execute("SELECT item_id FROM thumbnails"))


def test_check_counts_thumbnails_of_removed_items_in_a_note(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    _left_after_removal(db)
    assert _no_item(db) == 4
    found = check_gallery_file(db)
    assert (found.ok, found.num_items, found.orphan_thumbnails) == (True, 1, 4)
    assert found.notes == (
        f"{db}.thumbs holds 4 thumbnails or text previews of items no longer in {db} "
        "(an enrollment killed while keeping them, items removed by an older siamkit, or by "
        "hand); no enrollment deletes them, as their ids are never handed out again",
    )
    res = CliRunner().invoke(cli, ["gallery", "check", str(db), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["orphan_thumbnails"] == 4
    with contextlib.closing(ThumbnailStore(f"{db}.thumbs")) as store:  # checked, not deleted
        assert sorted(store.get([1, 2, 3, 4, 5])) == [1, 2, 3, 4, 5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db", "shop.db.thumbs"]


def test_both_kinds_are_counted_each_in_its_note(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    _left_after_removal(db)
    with contextlib.closing(ThumbnailStore(f"{db}.thumbs")) as store:  # a stopped enrollment's
        store.put("carol", [6, 7], [b"c6", b"c7"])
    found = check_gallery_file(db)
    assert found.orphan_thumbnails == _no_item(db) == 6
    assert [n.split(" holds ")[1][:2] for n in found.notes] == ["2 ", "4 "]
    assert "the next enrollment into" in found.notes[0]
    assert "no enrollment deletes them" in found.notes[1]
