"""A gallery file that holds items but records no embedding size, as the ``siamkit gallery``
commands meet it: ``list`` and ``remove`` called it "a new gallery: open it with a model (or
embedding_dim=...) to create it", false (it holds items) and advice no command can follow, and
the store's own refusal advised ``init_meta``, a library call (s54_R2, beside its findings)."""

from __future__ import annotations

import sqlite3

import numpy as np
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.index import Gallery, GalleryStore


def test_list_and_remove_say_the_gallery_is_damaged_and_what_a_command_can_do(tmp_path):
    path = tmp_path / "g.db"
    with Gallery.open(path, embedding_dim=4) as gallery:
        gallery.enroll_embeddings("a", np.ones((2, 4), np.float32))
        gallery.enroll_embeddings("b", np.eye(4, dtype=np.float32)[:2])
    with sqlite3.connect(path) as conn:  # another program's write, or an old siamkit's
        conn.execute("DELETE FROM meta WHERE key = 'embedding_dim'")
    conn.close()
    expected = (
        f"the gallery {path} is damaged: it holds items but never recorded the size of their "
        "embeddings (its meta table has no embedding_dim), so none can be read; enroll their "
        "images again into a new gallery file (`siamkit enroll MODEL --gallery NEW.db "
        "IMAGES`), or, from Python, record the size the model made them with: "
        f'GalleryStore({str(path)!r}).init_meta({{"embedding_dim": "N"}})'
    )
    said = {}
    for command in (["list"], ["remove", "a"], ["stats"]):
        result = CliRunner().invoke(cli, ["gallery", str(path), *command])
        said[command[0]] = (result.exit_code, result.output.strip())
    assert said == dict.fromkeys(said, (1, f"Error: {expected}")), said
    with GalleryStore(path) as store:
        assert store.count() == (4, 2)  # nothing removed
        store.init_meta({"embedding_dim": "4"})  # the sentence's other advice mends it
    with Gallery.open(path) as gallery:
        assert len(gallery) == 4 and [i.label for i in gallery.labels()] == ["a", "b"]
