"""`siamkit gallery GALLERY remove --id 57 [--id 58 ...]` (also `gallery remove GALLERY ...`):
a user who sees one wrongly enrolled photo (#57 under "alice") removes that item, not all of
alice. Unknown ids are refused in one sentence naming them and nothing is removed; the items'
thumbnails go with them; a label left without items is no longer listed; identify never
returns a removed item."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> dict[str, Path]:
    """A tiny model and a gallery of 5 images (bag 3, boot 2) enrolled with thumbnails; copy
    the gallery before changing it."""
    import torch

    root = tmp_path_factory.mktemp("remove-items")
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=4, preprocess=siamkit.Preprocess(input_shape=(1, 8, 8))
    )
    model = Path(siamkit.save_model(net, root / "model"))
    rng = np.random.default_rng(0)
    for label, n in (("bag", 3), ("boot", 2)):
        (root / "photos" / label).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "photos" / label / f"{i}.png")
    db = root / "shop.db"
    run(["enroll", model, "--gallery", db, root / "photos"])
    return {"db": db, "model": model, "photos": root / "photos"}


def run(args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def copy_of(enrolled: dict[str, Path], tmp_path: Path) -> Path:
    db = tmp_path / "shop.db"
    for suffix in ("", ".thumbs"):
        src = Path(str(enrolled["db"]) + suffix)
        Path(str(db) + suffix).write_bytes(src.read_bytes())
    return db


def items_of(db: Path) -> dict[int, str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT id, label FROM items ORDER BY id").fetchall())


def thumbnails_of(db: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(str(db) + ".thumbs")) as conn:
        return [r[0] for r in conn.execute("SELECT item_id FROM thumbnails ORDER BY item_id")]


def test_the_fixture_has_a_thumbnail_per_item(enrolled):
    assert items_of(enrolled["db"]) == {1: "bag", 2: "bag", 3: "bag", 4: "boot", 5: "boot"}
    assert thumbnails_of(enrolled["db"]) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("first", ["path", "command"])
def test_one_item_goes_with_its_thumbnail_and_the_label_keeps_the_rest(enrolled, tmp_path, first):
    db = copy_of(enrolled, tmp_path)
    args = [db, "remove"] if first == "path" else ["remove", db]
    out = run(["gallery", *args, "--id", "2"]).output
    assert out.strip() == "removed 1 item: #2 ('bag')"
    assert items_of(db) == {1: "bag", 3: "bag", 4: "boot", 5: "boot"}
    assert thumbnails_of(db) == [1, 3, 4, 5]
    listed = json.loads(run(["gallery", db, "list", "--json"]).output)["labels"]
    assert [(x["label"], x["count"]) for x in listed] == [("bag", 2), ("boot", 2)]


def test_several_ids_in_json_and_an_emptied_label_leaves_the_list(enrolled, tmp_path):
    db = copy_of(enrolled, tmp_path)
    res = run(["gallery", db, "remove", "--id", "#5", "--id", "4", "--id", "1", "--json"])
    assert json.loads(res.output) == {
        "item_ids": [1, 4, 5],
        "removed": 3,
        "labels": {"bag": 1, "boot": 2},
        "labels_gone": ["boot"],
    }
    assert items_of(db) == {2: "bag", 3: "bag"} and thumbnails_of(db) == [2, 3]
    listed = json.loads(run(["gallery", db, "list", "--json"]).output)["labels"]
    assert [x["label"] for x in listed] == ["bag"]
    text = run(["gallery", copy_of(enrolled, tmp_path), "remove", "--id", "4", "--id", "5"])
    assert text.output.strip() == (
        "removed 2 items: #4 ('boot'), #5 ('boot'); 'boot' had no other items and is no "
        "longer in the gallery"
    )


def test_unknown_ids_are_named_and_nothing_is_removed(enrolled, tmp_path):
    db = copy_of(enrolled, tmp_path)
    args = ["gallery", db, "remove", "--id", "2", "--id", "99", "--id", str(2**70), "--id", "0"]
    out = run(args, code=1).output
    assert out.count("\n") == 1 and out.startswith("Error: ")
    assert f"item ids not in the gallery: 0, 99, {2**70}; nothing was removed" in out
    assert items_of(db) == items_of(enrolled["db"])
    assert thumbnails_of(db) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--id", "bag"], "'bag' is not an item id"),
        (["--id", "-3"], "'-3' is not an item id"),
        (["bag", "--id", "2"], "not both"),
        ([], "give the LABEL to remove"),
    ],
)
def test_a_bad_removal_is_refused_before_anything_is_removed(enrolled, tmp_path, args, words):
    db = copy_of(enrolled, tmp_path)
    assert words in run(["gallery", db, "remove", *args], code=2).output
    assert items_of(db) == items_of(enrolled["db"])


def test_identify_never_returns_a_removed_item(enrolled, tmp_path):
    db = copy_of(enrolled, tmp_path)
    query = enrolled["photos"] / "bag" / "1.png"  # item 2 itself

    def matched() -> list[int]:
        res = run(["identify", enrolled["model"], "--gallery", db, query, "--k", "5", "--json"])
        return [m["item_id"] for m in json.loads(res.output)["queries"][0]["matches"]]

    assert matched()[0] == 2
    run(["gallery", db, "remove", "--id", "2"])
    assert 2 not in matched()


def test_help_names_the_id_option(enrolled):
    for args in (["gallery", "x.db", "remove", "--help"], ["gallery", "remove", "--help"]):
        assert "--id ID" in run(args).output
    assert "remove --id 57" in run(["gallery", "--help"]).output


def test_a_stored_id_beside_one_no_item_can_have_is_not_removed(enrolled, tmp_path):
    # 0 was never looked up, and item 2 was deleted with its thumbnail before the refusal
    db = copy_of(enrolled, tmp_path)
    out = run(["gallery", db, "remove", "--id", "2", "--id", "0"], code=1).output
    assert "item ids not in the gallery: 0; nothing was removed" in out
    assert items_of(db) == items_of(enrolled["db"])
    assert thumbnails_of(db) == [1, 2, 3, 4, 5]


def test_a_label_written_as_an_item_id_is_told_to_use_id(enrolled, tmp_path):
    db = copy_of(enrolled, tmp_path)
    out = run(["gallery", db, "remove", "#2"], code=1).output
    assert out == (
        "Error: label '#2' is not in the gallery; to remove the item #2, give its id with "
        f"--id: siamkit gallery {db} remove --id 2\n"
    )
    assert items_of(db) == items_of(enrolled["db"])
    assert "did you mean" in run(["gallery", db, "remove", "bags"], code=1).output


def test_the_removal_counts_its_items_in_their_number(enrolled, tmp_path):
    """`gallery remove` said "removed 'boot' (2 item(s))" and "removed 1 item(s): #2"."""
    db = copy_of(enrolled, tmp_path)
    assert (
        run(["gallery", db, "remove", "--id", "4"]).output.strip() == "removed 1 item: #4 ('boot')"
    )
    assert run(["gallery", db, "remove", "boot"]).output.strip() == "removed 'boot' (1 item)"
    assert run(["gallery", db, "remove", "bag"]).output.strip() == "removed 'bag' (3 items)"
