"""recommend_like / liked_item_ids refuse likes of the wrong type in one sentence."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.index import Gallery, recommend_like
from siamkit.index.recommend import liked_item_ids


@pytest.fixture
def gallery(tmp_path):
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    g = Gallery.open(tmp_path / "shop.db", embedding_dim=3)
    for i in range(4):
        g.enroll_embeddings(f"item-{i}", z[i : i + 1])
    yield g
    g.close()


def test_one_string_of_likes_is_refused_not_read_letter_by_letter(gallery):
    """recommend_like(g, "item-1") liked the labels 'i', 't', ...: "label 'i' is not in the
    gallery"."""
    with pytest.raises(TypeError) as err:
        recommend_like(gallery, "item-1", k=2)  # type: ignore[arg-type]
    assert str(err.value) == "likes is a list of labels and '#ID's, not one string: give ['item-1']"
    assert len(recommend_like(gallery, ["item-1"], k=3)) == 3  # the three other items


def test_an_item_id_given_as_an_int_says_how_to_like_it(gallery):
    """An int like said "'int' object has no attribute 'strip'"."""
    with pytest.raises(TypeError) as err:
        liked_item_ids(gallery, [2])  # type: ignore[list-item]
    assert str(err.value) == (
        "a like is a label or '#ID' string, got 2 (int); for item N give '#N', or pass item ids "
        "to Gallery.recommend"
    )
    assert liked_item_ids(gallery, ["#2"]) == [2]
