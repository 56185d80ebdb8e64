"""`siamkit gallery` takes the gallery file first or the command first, and each command's
options anywhere: `siamkit gallery remove --id 57 staff.db`, the order most users type, was
refused "No such option '--id'" (the option went to the group, which has none), as were
`gallery check --model M shop.db` and `gallery backup --force a.db b.db`."""

from __future__ import annotations

import contextlib
import json
import shutil
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
    """A tiny model and a gallery of 3 images (bag 2, boot 1); copy the gallery to change it."""
    import torch

    root = tmp_path_factory.mktemp("option-order")
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=4, preprocess=siamkit.Preprocess(input_shape=(1, 8, 8))
    )
    model = Path(siamkit.save_model(net, root / "model"))
    rng = np.random.default_rng(0)
    for label, n in (("bag", 2), ("boot", 1)):
        (root / "photos" / label).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "photos" / label / f"{i}.png")
    db = root / "shop.db"
    run(["enroll", model, "--gallery", db, root / "photos"])
    return {"db": db, "model": model}


def run(args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def words_of(order: str, **names: Path) -> list[str]:
    """``order``'s words with each of ``names`` (DB, M ...) put in, also after ``--opt=``."""
    out = []
    for word in order.split():
        option, eq, value = word.rpartition("=")
        out.append(f"{option}{eq}{names[value]}" if value in names else word)
    return out


def copy_of(enrolled: dict[str, Path], folder: Path, name: str = "shop.db") -> Path:
    db = folder / name
    for suffix in ("", ".thumbs"):
        shutil.copyfile(str(enrolled["db"]) + suffix, str(db) + suffix)
    return db


def items_of(db: Path) -> dict[int, str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT id, label FROM items ORDER BY id").fetchall())


def test_the_fixture_holds_three_items(enrolled):
    assert items_of(enrolled["db"]) == {1: "bag", 2: "bag", 3: "boot"}


@pytest.mark.parametrize(
    "order",
    [
        "remove --id 1 DB",  # the command first, the option before the file: was refused
        "remove --id=1 DB",
        "remove --json --id 1 DB",
        "remove DB --id 1",
        "remove --id 1 DB --json",
        "DB remove --id 1",
        "DB remove --json --id 1",
        "--id 1 DB remove",
        "DB --id 1 remove",
    ],
)
def test_remove_by_id_in_any_order(enrolled, tmp_path, order):
    db = copy_of(enrolled, tmp_path)
    res = run(["gallery", *words_of(order, DB=db)])
    assert items_of(db) == {2: "bag", 3: "boot"}
    if "--json" in order:
        assert json.loads(res.output)["item_ids"] == [1]
    else:
        assert res.output.startswith("removed 1 item: #1 ('bag')")


@pytest.mark.parametrize("order", ["remove --json DB boot", "--json remove DB boot"])
def test_remove_a_label_with_an_option_before_the_file(enrolled, tmp_path, order):
    db = copy_of(enrolled, tmp_path)
    res = run(["gallery", *words_of(order, DB=db)])
    assert json.loads(res.output) == {"label": "boot", "removed": 1}
    assert items_of(db) == {1: "bag", 2: "bag"}


@pytest.mark.parametrize(
    "order",
    [
        "check --model M DB",
        "check --model=M DB",
        "check --json --model M DB",
        "check DB --model M",
        "DB check --model M",
        "--model M DB check",
        "DB --model M check --json",
    ],
)
def test_check_with_its_model_in_any_order(enrolled, order):
    res = run(["gallery", *words_of(order, DB=enrolled["db"], M=enrolled["model"])])
    if "--json" in order:
        doc = json.loads(res.output)
        assert doc["ok"] is True and doc["num_items"] == 3
    else:
        assert f"model              {enrolled['model']}" in res.output
        assert res.output.rstrip().endswith("\nok")


def test_check_with_another_model_before_the_file_still_checks_it(enrolled, tmp_path):
    """--model given before the file is the model checked against, not dropped on the way."""
    import torch

    torch.manual_seed(1)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    other = siamkit.SiameseNetwork(
        enc, embedding_dim=4, preprocess=siamkit.Preprocess(input_shape=(1, 8, 8))
    )
    model = Path(siamkit.save_model(other, tmp_path / "other"))
    res = run(["gallery", "check", "--model", model, enrolled["db"]], code=1)
    assert "ok" not in res.output.splitlines()


@pytest.mark.parametrize(
    "order",
    [
        "backup --force A B",
        "backup --overwrite A B",
        "backup A --force B",
        "backup A B --force",
        "A backup --force B",
        "--force A backup B",
        "backup --json --force A B",
    ],
)
def test_backup_over_an_existing_file_in_any_order(enrolled, tmp_path, order):
    src = copy_of(enrolled, tmp_path)
    out = tmp_path / "backup.db"
    out.write_bytes(b"an older backup")
    res = run(["gallery", *words_of(order, A=src, B=out)])
    assert items_of(out) == {1: "bag", 2: "bag", 3: "boot"}
    if "--json" in order:
        assert json.loads(res.output)["num_items"] == 3
    else:
        assert res.output.startswith(f"backed up {src} (3 items, 2 labels) to {out}")


@pytest.mark.parametrize(
    "order", ["list DB", "list --json DB", "stats --json DB", "DB --json list"]
)
def test_list_and_stats_take_the_command_first_too(enrolled, order):
    res = run(["gallery", *words_of(order, DB=enrolled["db"])])
    if "list" in order and "--json" in order:
        assert [d["label"] for d in json.loads(res.output)["labels"]] == ["bag", "boot"]
    elif "stats" in order:
        assert json.loads(res.output)["num_items"] == 3
    else:
        assert "bag" in res.output and "boot" in res.output


def test_a_gallery_file_named_like_a_command_is_read_file_first(enrolled, tmp_path, monkeypatch):
    """`gallery list stats`: both words name commands; the file-first reading (a gallery called
    `list`) is kept, as before, also with an option between them."""
    copy_of(enrolled, tmp_path, "list")
    monkeypatch.chdir(tmp_path)
    assert json.loads(run(["gallery", "list", "stats", "--json"]).output)["num_items"] == 3
    assert json.loads(run(["gallery", "list", "--json", "stats"]).output)["num_items"] == 3


def test_a_gallery_file_starting_with_a_dash_after_double_dash(enrolled, tmp_path, monkeypatch):
    """`gallery -- -odd.db remove --id 1`, the way to name such a file first, was refused "Got
    unexpected extra argument (1)": the `--` was passed on to remove too."""
    db = copy_of(enrolled, tmp_path, "-odd.db")
    monkeypatch.chdir(tmp_path)
    assert json.loads(run(["gallery", "--", "-odd.db", "stats", "--json"]).output)["num_items"] == 3
    res = run(["gallery", "--", "-odd.db", "remove", "--id", "1"])
    assert res.output.startswith("removed 1 item: #1 ('bag')")
    assert items_of(db) == {2: "bag", 3: "boot"}
    res = run(["gallery", "remove", "--id", "2", "--", "-odd.db"])  # the command first
    assert items_of(db) == {3: "boot"}


@pytest.mark.parametrize("words", [["remove", "--id", "1"], ["check", "--model", "M"]])
def test_no_gallery_file_is_one_sentence_naming_it(enrolled, words):
    res = run(["gallery", *words_of(" ".join(words), M=enrolled["model"])], code=2)
    assert f"no gallery file given: name it before or after {words[0]}" in res.output
    assert "No such option" not in res.output


@pytest.mark.parametrize("words", [["remove", "--help"], ["remove", "--id", "1", "--help"]])
def test_the_commands_own_help_with_options_before_it(words):
    res = run(["gallery", *words])
    assert "--id ID" in res.output and "Remove LABEL and all its items" in res.output


def test_an_option_the_command_lacks_is_named_for_that_command(enrolled):
    res = run(["gallery", "list", "--id", "1", enrolled["db"]], code=2)
    assert "No such option" in res.output and "--id" in res.output
    assert "gallery PATH list [OPTIONS]" in res.output  # list's usage: it lacks --id
