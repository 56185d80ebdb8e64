"""A label written like an item id ('#12') would hide item 12 in recommend's ``--like '#12'``
and the service's ``"like": ["#12"]``: every enrollment refuses it in one sentence, while a
gallery that holds one from before still reads, recommends and removes it."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from siamkit.index import Gallery, GalleryStore
from siamkit.index.recommend import liked_item_ids

SENTENCE = (
    "label '#12' looks like an item id: '#' followed by digits names one item in "
    "recommend's likes ('#12'), so choose another label, e.g. 'item-12'"
)


def test_enrolling_a_label_like_an_item_id_is_refused(tmp_path):
    z = np.eye(3, dtype=np.float32)
    with Gallery.open(tmp_path / "g.db", embedding_dim=3) as g:
        with pytest.raises(ValueError) as err:
            g.enroll_embeddings("#12", z[:1])
        assert str(err.value) == SENTENCE
        assert len(g) == 0
        for fine in ("#x", "#12a", "item-12", "12"):  # a like of '#x' is no item id
            g.enroll_embeddings(fine, z[:1] + len(g))
    with GalleryStore(":memory:") as store:
        store.init_meta({"embedding_dim": "3"})
        with pytest.raises(ValueError, match="looks like an item id"):
            store.add("#7", z[:1])


def test_the_cli_refuses_it_before_any_gallery_is_made(tmp_path):
    from siamkit.cli.main import cli

    (tmp_path / "photos" / "#12").mkdir(parents=True)
    (tmp_path / "photos" / "#12" / "a.png").write_bytes(b"")
    db = tmp_path / "g.db"
    for args in (["--label", "#12", str(tmp_path / "photos" / "#12" / "a.png")],
                 [str(tmp_path / "photos")]):  # fmt: skip
        res = CliRunner().invoke(cli, ["enroll", str(tmp_path), "--gallery", str(db), *args])
        assert res.exit_code != 0 and "looks like an item id" in res.output, res.output
        assert not db.exists()


def test_a_gallery_holding_such_a_label_from_before_still_reads_and_removes_it(tmp_path):
    path = tmp_path / "old.db"
    z = np.eye(3, dtype=np.float32)
    with Gallery.open(path, embedding_dim=3) as g:
        g.enroll_embeddings("a", z[:2])
    with sqlite3.connect(path) as conn:  # as an older siamkit enrolled it
        conn.execute(
            "INSERT INTO items(label, metadata, embedding, created) VALUES (?, NULL, ?, 0)",
            ("#12", z[2].astype("<f4").tobytes()),
        )
    with Gallery.open(path, embedding_dim=3) as g:
        assert g.items("#12").labels == ["#12"]
        assert liked_item_ids(g, ["#12"]) == g.items("#12").ids.tolist()  # the label, as before
        assert g.remove("#12") == 1 and "#12" not in g


def _legacy_gallery(path, n_items=12):
    """Items 1..n_items under 'a', then the label '#12' as an older siamkit enrolled it."""
    z = np.random.default_rng(0).normal(size=(n_items + 1, 3)).astype(np.float32)
    with Gallery.open(path, embedding_dim=3) as g:
        g.enroll_embeddings("a", z[:n_items])
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO items(label, metadata, embedding, created) VALUES (?, NULL, ?, 0)",
            ("#12", z[n_items].astype("<f4").tobytes()),
        )
    return z


def test_a_like_that_is_both_an_old_label_and_an_item_is_refused_naming_both(tmp_path):
    """'#12' liked the old label '#12' without a word when item 12 was in the gallery too, so a
    user after item 12 (as the help says '#ID' means) got the label's items instead."""
    from siamkit.index.recommend import AmbiguousLikeError

    _legacy_gallery(tmp_path / "old.db")
    with Gallery.open(tmp_path / "old.db", embedding_dim=3) as g:
        with pytest.raises(AmbiguousLikeError) as err:
            liked_item_ids(g, ["#12"])
        assert str(err.value) == (
            "'#12' is both item 12 and the label '#12' (enrolled before labels like item ids "
            "were refused): like item 12 as '#012', or the label as its items '#13'"
        )
        assert liked_item_ids(g, ["#012"]) == [12]  # each reading, as the sentence says
        assert liked_item_ids(g, ["#13"]) == g.items("#12").ids.tolist() == [13]
    _legacy_gallery(tmp_path / "small.db", n_items=5)  # no item 12: the label, as before
    with Gallery.open(tmp_path / "small.db", embedding_dim=3) as g:
        assert liked_item_ids(g, ["#12"]) == [6]
