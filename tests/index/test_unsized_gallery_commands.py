"""A gallery file that holds items but records no embedding size, as the ``siamkit gallery``
commands meet it: ``list`` and ``remove`` called it "a new gallery: open it with a model (or
embedding_dim=...) to create it", false (it holds items) and advice no command can follow, and
the store's own refusal advised ``init_meta``, a library call (s54_R2, beside its findings)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.index import Gallery, GalleryStore
from siamkit.index.store import GalleryDamagedError


def _gallery_that_lost_its_size(path: Path, size: str | None = None, **items: int) -> Path:
    """A gallery at ``path`` holding ``items[label]`` embeddings of 4 values under each label
    (two under 'a' by default), whose meta then lost its ``embedding_dim`` (another program's
    write, or an old siamkit's) or, with ``size``, had it set by hand to that."""
    with Gallery.open(path, embedding_dim=4) as gallery:
        for label, count in (items or {"a": 2}).items():
            gallery.enroll_embeddings(label, np.ones((count, 4), np.float32))
    with sqlite3.connect(path) as conn:
        if size is None:
            conn.execute("DELETE FROM meta WHERE key = 'embedding_dim'")
        else:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'embedding_dim'", (size,))
    conn.close()
    return path


@pytest.fixture
def unsized(tmp_path: Path) -> Path:
    """A gallery of two items under 'a' that records no embedding size."""
    return _gallery_that_lost_its_size(tmp_path / "g.db")


def test_list_and_remove_say_the_gallery_is_damaged_and_what_a_command_can_do(tmp_path):
    """The sentence of `list`, `remove` and `stats`, which remove nothing. The file records no
    kind of model, so the advice named `siamkit enroll ... IMAGES` for a text or face gallery
    too, a command that cannot enroll texts or embed faces with dlib. Each kind's command is
    named now, with options its own --help lists. (`check`, and the advice followed:
    test_check_and_list_give_the_opens_sentence_and_its_advice_mends_it.)"""
    path = _gallery_that_lost_its_size(tmp_path / "g.db", a=2, b=2)
    expected = (
        f"the gallery {path} is damaged: it holds items but never recorded the size of their "
        "embeddings (its meta table has no embedding_dim), so none can be read; enroll them "
        "again into a new gallery file (`siamkit enroll MODEL --gallery NEW.db IMAGES`; texts: "
        "`siamkit text enroll CORPUS --gallery NEW.db`; faces: `siamkit face enroll --gallery "
        "NEW.db --label LABEL IMAGES`), or, from Python, record the size the model made them "
        "with: "
        f'GalleryStore({str(path)!r}).init_meta({{"embedding_dim": "N"}})'
    )
    said = {}
    for command in (["list"], ["remove", "a"], ["stats"]):
        result = CliRunner().invoke(cli, ["gallery", str(path), *command])
        said[command[0]] = (result.exit_code, result.output.strip())
    assert said == dict.fromkeys(said, (1, f"Error: {expected}")), said
    with GalleryStore(path) as store:
        assert store.count() == (4, 2)  # nothing removed
    commands = re.findall(r"`(siamkit [^`]+)`", said["list"][1])
    assert [c.split(" --")[0].split()[:3] for c in commands] == [
        ["siamkit", "enroll", "MODEL"],
        ["siamkit", "text", "enroll"],
        ["siamkit", "face", "enroll"],
    ], commands
    for command in commands:
        words = command.split()[1:]
        group = words[: 2 if words[0] in ("text", "face") else 1]
        shown = CliRunner().invoke(cli, [*group, "--help"])
        assert shown.exit_code == 0, shown.output
        assert all(w in shown.output for w in words if w.startswith("--")), (command, shown.output)


def test_opening_it_with_a_model_writes_nothing_and_leaves_the_advice_open(unsized):
    """Opened with a model (or embedding_dim=...), the gallery wrote that size into the file
    before it read the items: a wrong size then refused the gallery as damaged at "the size it
    records", which it had just written, and the advice (init_meta, INSERT OR IGNORE) could no
    longer mend it; a right one silently took items of an unknown model as its own (s54_FA)."""
    path = unsized
    for dim in (2, 4):
        with pytest.raises(GalleryDamagedError, match="never recorded the size"):
            Gallery.open(path, embedding_dim=dim)
        with GalleryStore(path) as store:
            assert "embedding_dim" not in store.meta()  # nothing written
    with GalleryStore(path) as store:
        store.init_meta({"embedding_dim": "4"})  # the advice still mends it
    with Gallery.open(path, embedding_dim=4) as gallery:
        assert len(gallery) == 2


@pytest.mark.parametrize("size", [None, "abc", "0", "-3"])
def test_check_and_list_give_the_opens_sentence_and_its_advice_mends_it(tmp_path, size):
    """No size recorded (None): `siamkit gallery FILE check` said such a gallery "was never
    opened with a model, so enroll into a new gallery file": false for items an old siamkit or
    another program wrote, and without the command to run or the size to record (s54_FA).
    With ``embedding_dim`` set by hand to 'abc', `gallery FILE check` still said the gallery
    "was never opened with a model", `gallery FILE list` said "invalid literal for int()", and a
    library read the same (s55_R2 finding 6). A '0' or '-3' was read as a size: the open and
    `list` said "dim must be a positive integer, got 0", a read and `check` that every item is
    "not 0 float32 values", and `check` advised removing them all (final35 "NaN wording").
    Each now gives the store's sentence, word for word, saying what the value is, and its
    Python advice mends the file (``init_meta`` where there is none; ``set_meta`` else, as
    ``init_meta`` keeps a value already there); the refusals write nothing."""
    path = _gallery_that_lost_its_size(tmp_path / "g.db", size=size)
    with pytest.raises(GalleryDamagedError) as refused:
        Gallery.open(path)
    said = str(refused.value)
    if size is None:
        assert "never recorded the size of their embeddings" in said
        advice = f'GalleryStore({str(path)!r}).init_meta({{"embedding_dim": "N"}})'
    else:
        assert f"its meta embedding_dim is {size!r}, not a positive whole number" in said
        advice = f'GalleryStore({str(path)!r}).set_meta("embedding_dim", "N")'
    assert said.endswith(f"from Python, record the size the model made them with: {advice}")
    with GalleryStore(path) as store, pytest.raises(GalleryDamagedError) as read:
        store.load()
    assert str(read.value) == said
    check = CliRunner().invoke(cli, ["gallery", str(path), "check", "--json"])
    assert check.exit_code == 1, check.output
    assert json.loads(check.stdout)["problems"] == [said]
    assert "never opened" not in check.output
    if size is not None:  # None: test_list_and_remove_say_the_gallery_is_damaged_...
        listed = CliRunner().invoke(cli, ["gallery", str(path), "list"])
        assert listed.exit_code == 1
        assert listed.output.strip().splitlines()[-1] == f"Error: {said}"
    with GalleryStore(path) as store:
        assert store.meta().get("embedding_dim") == size  # nothing written by the refusals
        if size is None:  # the advice, followed
            store.init_meta({"embedding_dim": "4"})
        else:
            store.set_meta("embedding_dim", "4")
    with Gallery.open(path) as gallery:
        assert len(gallery) == 2 and [i.label for i in gallery.labels()] == ["a"]


@pytest.mark.parametrize("size", ["abc", "0", "-3"])
def test_an_empty_gallery_whose_size_is_no_number_is_refused_in_one_true_sentence(tmp_path, size):
    """A gallery that holds no items, whose ``embedding_dim`` was set by hand to '0', '-3' or
    'abc' after a model opened it: `gallery FILE check` said "it was never opened with a model"
    (false: it was), `list` said "dim must be a positive integer, got 0" or "invalid literal for
    int()" (s56_R3 finding 3). Both now give one sentence, and its advice (enroll into it with a
    model) mends the file."""
    path = tmp_path / "g.db"
    with Gallery.open(path, embedding_dim=4):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'embedding_dim'", (size,))
    conn.close()
    said = (
        f"the gallery {path} holds no items and records no embedding size that can be read (its "
        f"meta embedding_dim is {size!r}, not a positive whole number): enroll into it with a "
        "model, which records the model's size, or into a new gallery file"
    )
    with pytest.raises(ValueError) as refused:
        Gallery.open(path)
    assert str(refused.value) == said
    check = CliRunner().invoke(cli, ["gallery", str(path), "check", "--json"])
    assert check.exit_code == 1, check.output
    assert json.loads(check.stdout)["problems"] == [said]
    listed = CliRunner().invoke(cli, ["gallery", str(path), "list"])
    assert listed.exit_code == 1
    assert listed.output.strip().splitlines()[-1] == f"Error: {said}"
    with GalleryStore(path) as store:
        assert store.meta()["embedding_dim"] == size  # nothing written by the refusals
    with Gallery.open(path, embedding_dim=4) as gallery:  # the advice, followed
        gallery.enroll_embeddings("a", np.ones((2, 4), np.float32))
    with Gallery.open(path) as gallery:
        assert len(gallery) == 2 and gallery.embedding_dim == 4


@pytest.mark.parametrize("items", [0, 2])
@pytest.mark.parametrize("size", ["abc", "0", "-3"])
def test_the_stores_add_refuses_a_size_that_is_no_size_in_the_opens_sentence(tmp_path, size, items):
    """``GalleryStore.add`` read ``embedding_dim`` with ``int()``: '0' or '-3' refused the rows
    as "the gallery records embeddings of 0", 'abc' raised "invalid literal for int()" (s56_R3's
    suspicion; ``Gallery.open`` refuses such a gallery first, so only a store's own user met it).
    It now says what the open and `gallery FILE check` say of the same file, storing nothing."""
    path = tmp_path / "g.db"
    with Gallery.open(path, embedding_dim=4) as gallery:
        if items:
            gallery.enroll_embeddings("a", np.ones((items, 4), np.float32))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'embedding_dim'", (size,))
    conn.close()
    with pytest.raises(ValueError) as opened:
        Gallery.open(path)
    with GalleryStore(path) as store, pytest.raises(ValueError) as added:
        store.add("b", np.ones((1, 4), np.float32))
    assert type(added.value) is type(opened.value)  # GalleryDamagedError where it holds items
    assert str(added.value) == str(opened.value)
    assert f"its meta embedding_dim is {size!r}, not a positive whole number" in str(added.value)
    with GalleryStore(path) as store:
        assert store.count()[0] == items and store.meta()["embedding_dim"] == size
