"""`siamkit gallery check GALLERY [--model MODEL]` and `siamkit gallery backup GALLERY OUT`
(also written `siamkit gallery GALLERY check`, as the other gallery commands): a report and a
non-zero exit with one sentence naming what is wrong; a consistent copy while the gallery is in
use, never written over an existing file without --force."""

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
from siamkit.index.store import GalleryStore


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> dict[str, Path]:
    """Two tiny models and a gallery of 4 images of 2 labels enrolled with the first; copy the
    gallery before changing it."""
    import torch

    root = tmp_path_factory.mktemp("check")
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
        net = siamkit.SiameseNetwork(
            enc, embedding_dim=4, preprocess=siamkit.Preprocess(input_shape=(1, 8, 8))
        )
        models.append(Path(siamkit.save_model(net, root / f"m{seed}")))
    rng = np.random.default_rng(0)
    for label in ("bag", "boot"):
        (root / "photos" / label).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "photos" / label / f"{i}.png")
    db = root / "shop.db"
    run(["enroll", models[0], "--gallery", db, root / "photos"])
    return {"db": db, "model": models[0], "other": models[1]}


def run(args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def copy_of(db: Path, to: Path) -> Path:
    to.write_bytes(db.read_bytes())
    return to


def items_of(db: Path) -> list[tuple[int, str, bytes]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id, label, embedding FROM items ORDER BY id").fetchall()


@pytest.mark.parametrize("first", ["command", "path"])
def test_a_sound_gallery_checks_ok_either_way_round(enrolled, first):
    db = enrolled["db"]
    args = ["check", db] if first == "command" else [db, "check"]
    res = run(["gallery", *args, "--model", enrolled["model"]])
    lines = res.stdout.splitlines()
    assert lines[:2] == [f"path               {db}", "integrity          ok"]
    assert lines[2:4] == ["num_items          4", "num_labels         2"]
    assert lines[-1] == "ok"
    doc = json.loads(run(["gallery", "check", db, "--json"]).stdout)
    assert (doc["ok"], doc["problems"], doc["embedding_dim"]) == (True, [], 4)


def test_a_nan_embedding_exits_non_zero_naming_the_item(enrolled, tmp_path):
    db = copy_of(enrolled["db"], tmp_path / "shop.db")
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        nan = np.array([np.nan, 0, 0, 0], "<f4").tobytes()
        conn.execute("UPDATE items SET embedding = ? WHERE id = 3", (nan,))
    res = run(["gallery", "check", db], code=1)
    assert res.stderr == (
        f"Error: {db} has 1 embedding with NaN or infinite values, which no search can rank: "
        f"item 3 ('boot'); remove them (`siamkit gallery {db} remove --id 3`) and enroll them "
        "again\n"
    )
    run(["gallery", db, "remove", "--id", "3"])  # the advice, as given, works
    run(["gallery", "check", db])
    assert "num_items          4" in res.stdout  # the report is printed all the same


def test_many_bad_items_are_listed_in_json_not_in_the_report(enrolled, tmp_path):
    db = tmp_path / "big.db"
    with GalleryStore(db) as store:
        store.init_meta({"embedding_dim": "4", "distance": "euclidean", "model_fingerprint": "x"})
        store.add("bag", np.zeros((2000, 4), np.float32))
    with sqlite3.connect(db) as conn:  # written by another program: siamkit refuses inf rows
        conn.execute("UPDATE items SET embedding = ?", (np.full(4, np.inf, "<f4").tobytes(),))
    conn.close()
    res = run(["gallery", "check", db], code=1)
    assert "bad_item_ids" not in res.stdout  # 2,000 ids, not in the report
    assert len(res.stderr) < 1000, res.stderr  # 20 ids in the command, not 2,000
    assert "--id 20`" in res.stderr and "--id 21 " not in res.stderr
    assert f"`siamkit gallery {db} check --json` lists every bad item's id" in res.stderr
    doc = json.loads(run(["gallery", "check", db, "--json"], code=1).stdout)
    assert doc["bad_item_ids"] == list(range(1, 2001))


def test_a_corrupted_file_exits_non_zero(enrolled, tmp_path):
    db = tmp_path / "big.db"
    rng = np.random.default_rng(1)
    with GalleryStore(db) as store:
        store.init_meta({"embedding_dim": "64", "distance": "euclidean", "model_fingerprint": "x"})
        for k in range(20):
            store.add(f"label-{k}", rng.normal(size=(10, 64)).astype(np.float32))
    run(["gallery", "check", db])
    with open(db, "r+b") as f:  # the middle of the items table's pages
        f.seek(5 * 4096 + 100)
        f.write(b"\xa5" * 2000)
    res = run(["gallery", "check", db], code=1)
    assert res.stderr.startswith(f"Error: SQLite's integrity check finds {db} damaged (")
    assert res.stderr.endswith(
        "restore it from a backup, or enroll its images again into a new gallery file\n"
    )


def test_another_model_and_several_problems_are_said(enrolled, tmp_path):
    db = copy_of(enrolled["db"], tmp_path / "shop.db")
    res = run(["gallery", "check", db, "--model", enrolled["other"]], code=1)
    assert f"Error: {db} was built by a different model (fingerprint" in res.stderr
    assert "Use the original model or enroll into a new gallery file" in res.stderr
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE items SET embedding = ? WHERE id = 1", (b"abc",))
    res = run(["gallery", "check", db, "--model", enrolled["other"]], code=1)
    assert res.stderr.startswith("Error: 2 problems: (1) ")
    assert "has 1 embedding that is not 4 float32 values" in res.stderr


def test_several_problems_end_with_one_period_each(enrolled, tmp_path, monkeypatch):
    # the half-twin's problem ends with its own period: joined it read "...into a new gallery
    # file.." before the next one
    from siamkit.index import provenance

    db = copy_of(enrolled["db"], tmp_path / "shop.db")
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        nan = np.array([np.nan, 0, 0, 0], "<f4").tobytes()
        conn.execute("UPDATE items SET embedding = ? WHERE id = 3", (nan,))
    real = provenance.wanted_meta

    def half_twin(*args, **kwargs):  # a two-tower model's record, as a half-twin's would be
        return {**real(*args, **kwargs), provenance.ENROLLED_TOWER_KEY: "document"}

    monkeypatch.setattr(provenance, "wanted_meta", half_twin)
    res = run(["gallery", "check", db, "--model", enrolled["model"]], code=1)
    assert res.stderr.startswith("Error: 2 problems: (1) ")
    assert "and enroll them again. (2) " in res.stderr
    assert ".." not in res.stderr
    assert res.stderr.endswith("enroll them again into a new gallery file.\n")


def test_check_of_a_missing_gallery_and_its_help(enrolled, tmp_path):
    res = run(["gallery", "check", tmp_path / "missing.db"], code=1)
    assert res.stderr == f"Error: no gallery at {tmp_path / 'missing.db'}; check the path\n"
    assert not (tmp_path / "missing.db").exists()
    help_text = run(["gallery", "check", "--help"]).stdout
    assert "SQLite's integrity check" in help_text
    assert "--model DIRECTORY" in help_text
    backup_help = " ".join(run(["gallery", "backup", "--help"]).stdout.split())
    assert "online backup API" in backup_help
    # a restore of OUT alone lost the thumbnails, and a crashed gallery's log replayed onto it
    assert "delete GALLERY-wal and GALLERY-shm if a crash left them" in backup_help
    assert "OUT.thumbs to GALLERY.thumbs" in backup_help


def test_a_backup_equals_the_source_while_another_connection_holds_it(enrolled, tmp_path):
    db = copy_of(enrolled["db"], tmp_path / "shop.db")
    copy_of(Path(f"{enrolled['db']}.thumbs"), tmp_path / "shop.db.thumbs")
    committed = items_of(db)
    out = tmp_path / "backups" / "shop-monday.db"
    with GalleryStore(db) as writer:  # `siamkit serve`, in the middle of an enrollment
        writer._conn.execute("BEGIN IMMEDIATE")
        writer._conn.execute(
            "INSERT INTO items(label, embedding, created) VALUES ('late', ?, 0)",
            (np.zeros(4, "<f4").tobytes(),),
        )
        res = run(["gallery", "backup", db, out])
        writer._conn.execute("ROLLBACK")
    assert res.stdout == (
        f"backed up {db} (4 items, 2 labels) to {out} and its thumbnails to {out}.thumbs\n"
    )
    assert items_of(out) == committed
    run(["gallery", "check", out, "--model", enrolled["model"]])
    listed = run(["gallery", out, "list", "--json"]).stdout
    assert [d["label"] for d in json.loads(listed)["labels"]] == ["bag", "boot"]


def test_a_backup_counts_one_item_and_one_label_as_one(enrolled, tmp_path):
    """The backup of a gallery of one image said "(1 items, 1 labels)"."""
    db = tmp_path / "one.db"
    photo = tmp_path / "photos" / "bag" / "0.png"
    photo.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(photo)
    run(["enroll", enrolled["model"], "--gallery", db, tmp_path / "photos"])
    out = tmp_path / "one-monday.db"
    said = run(["gallery", "backup", db, out]).stdout
    assert said.startswith(f"backed up {db} (1 item, 1 label) to {out}"), said


def test_a_backup_refuses_an_existing_file_unless_forced(enrolled, tmp_path):
    out = tmp_path / "out.db"
    out.write_bytes(b"an older backup")
    res = run(["gallery", "backup", enrolled["db"], out], code=1)
    assert (
        res.stderr
        == f"Error: {out} already exists; give another path, or --force to overwrite it\n"
    )
    assert out.read_bytes() == b"an older backup"
    doc = json.loads(run(["gallery", enrolled["db"], "backup", out, "--force", "--json"]).stdout)
    assert (doc["out"], doc["num_items"]) == (str(out), 4)
    assert items_of(out) == items_of(enrolled["db"])
    res = run(["gallery", "backup", enrolled["db"], enrolled["db"], "--force"], code=1)
    assert "is the gallery itself; give another path for the backup" in res.stderr
