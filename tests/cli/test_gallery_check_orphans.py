"""A text enroll stopped (kill -9) between its previews' commit and the gallery's commit leaves
those previews in the side file (GALLERY.thumbs), under item ids no item has, until the next
enrollment deletes them; `siamkit gallery check` said nothing of them. It now counts them in a
note (exit status 0: an enrollment under way has them too, for a moment) that says how they
go, deletes nothing, and counts no thumbnail of a stored item."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.index.store_files import check_gallery_file
from siamkit.index.thumbnail_store import ThumbnailStore


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    import torch

    root = tmp_path_factory.mktemp("orphans")
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), root / "m"
    )
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (root / "photos" / label).mkdir(parents=True)
        pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "photos" / label / "0.png")
    (root / "more" / "sandal").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(
        root / "more" / "sandal" / "0.png"
    )
    return {"model": Path(model), "photos": root / "photos", "more": root / "more"}


def run(args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def killed_enrollment(db: Path, first_id: int, n: int) -> None:
    """What a text enroll killed after its previews' commit leaves: previews under the ids it
    was handing out, and no item."""
    with contextlib.closing(ThumbnailStore(f"{db}.thumbs")) as store:
        store.put("ticket-9", list(range(first_id, first_id + n)), [b"VPN down"] * n)


def test_check_counts_previews_of_no_item_and_says_how_they_go(made, tmp_path):
    db = tmp_path / "shop.db"
    run(["enroll", made["model"], "--gallery", db, made["photos"]])  # items 1, 2 + thumbnails
    assert check_gallery_file(db).orphan_thumbnails == 0  # those of stored items are no orphans
    killed_enrollment(db, 3, 4)
    res = run(["gallery", "check", db])
    assert res.stdout.splitlines()[-2] == "ok"
    assert res.stdout.splitlines()[-1] == (
        f"note: {db}.thumbs holds 4 thumbnails or text previews of no item, written for an "
        f"enrollment stopped before its commit (or for one under way now); the next enrollment "
        f"into {db} that stores an item deletes them"
    )
    doc = json.loads(run(["gallery", "check", db, "--json"]).stdout)
    assert (doc["ok"], doc["orphan_thumbnails"], len(doc["notes"])) == (True, 4, 1)
    with contextlib.closing(ThumbnailStore(f"{db}.thumbs")) as store:  # checked, never deleted
        assert sorted(store.get(list(range(1, 7)))) == [1, 2, 3, 4, 5, 6]
    # as the note says: the next enrollment deletes them, and check counts none
    run(["enroll", made["model"], "--gallery", db, made["more"]])
    found = check_gallery_file(db)
    assert (found.orphan_thumbnails, found.notes, found.num_items) == (0, (), 3)


def test_ids_of_removed_items_below_the_last_id_are_not_counted(made, tmp_path):
    # the last id handed out stays when its item is removed: previews above it are orphans,
    # not those at or below it (the next enrollment hands out ids above it)
    db = tmp_path / "shop.db"
    run(["enroll", made["model"], "--gallery", db, made["photos"]])
    run(["gallery", db, "remove", "--id", "2"])
    killed_enrollment(db, 3, 2)
    assert check_gallery_file(db).orphan_thumbnails == 2
