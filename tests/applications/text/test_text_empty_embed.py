"""An empty list of texts: ``model.embed([])`` ended in an IndexError inside the tokenizer
(reached by ``Gallery.enroll("y", [])``). It now gives an empty ``(0, D)`` tensor, as an image
model's empty batch does, and the gallery refuses an empty list in one sentence, as it refuses
an empty image batch; ``Gallery.enroll``'s docstring names texts beside images."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.applications.text import load_text_model
from siamkit.index import Gallery


def test_an_empty_list_embeds_to_no_rows(tiny_hf: Path) -> None:
    model = load_text_model(tiny_hf).eval()
    one = model.embed(["a cat sat"])
    for role in ("query", "document"):
        z = model.embed([], role=role)
        assert tuple(z.shape) == (0, model.embedding_dim) and z.dtype == one.dtype


def test_the_gallery_refuses_an_empty_list_of_texts_in_a_sentence(
    tiny_hf: Path, tmp_path: Path
) -> None:
    with Gallery.open(tmp_path / "g.db", load_text_model(tiny_hf), create=True) as g:
        with pytest.raises(ValueError, match="inputs hold no texts") as err:
            g.enroll("y", [])
        assert "give at least one text" in str(err.value)
        assert len(g.enroll("y", ["a cat sat on the mat"])) == 1


def test_enroll_says_it_takes_texts_too() -> None:
    doc = Gallery.enroll.__doc__ or ""
    assert "texts (a list of strings, or one string) for a text model" in doc
    assert "images" in doc
