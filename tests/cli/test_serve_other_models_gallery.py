"""siamkit serve refused a gallery of another model naming what it holds after the served
model: a text model refused an image gallery said "its texts cannot be compared", an image
model refused a text gallery "its images". What the gallery holds now decides
(``holds_texts``, as the image commands' refusal of a text gallery)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from test_gallery_zero_items import tiny_model

import siamkit
from siamkit.cli.serve_cmd import _other_models_gallery
from siamkit.index import Gallery
from siamkit.index.results import GalleryMismatchError


def test_a_text_model_refused_an_image_gallery_says_images(tmp_path: Path) -> None:
    images = tiny_model(tmp_path / "img", 0)
    db = tmp_path / "shop.db"
    with Gallery.open(db, siamkit.load_model(images)) as g:
        g.enroll("bag", np.zeros((1, 1, 8, 8), np.float32))
        g.remember_model_path(images)
    other = tmp_path / "text-model"
    other.mkdir()
    said = _other_models_gallery(
        GalleryMismatchError("refused"), str(db), str(other), SimpleNamespace(input_kind="text")
    )
    assert said is not None
    assert "its images cannot be compared with another model's" in str(said)
    assert f"serve {images.resolve()} to use it" in str(said)


def test_an_image_model_refused_a_text_gallery_says_texts(tmp_path: Path) -> None:
    texts = tmp_path / "hf-model"  # a Hugging Face folder: no siamkit.json, a text model
    texts.mkdir()
    db = tmp_path / "tickets.db"
    with Gallery.open(db, embedding_dim=4, distance="cosine") as g:
        g.enroll_embeddings("T-1", np.ones((1, 4), np.float32))
        g.remember_model_path(texts)
    images = tiny_model(tmp_path / "img", 0)
    said = _other_models_gallery(
        GalleryMismatchError("refused"), str(db), str(images), SimpleNamespace(input_kind="image")
    )
    assert said is not None and "its texts cannot be compared with another model's" in str(said)


def test_a_face_model_refused_an_image_gallery_says_images(tmp_path: Path) -> None:
    """The served face model is the other one: the gallery of a model for any images holds
    images, not the served model's faces."""
    images = tiny_model(tmp_path / "img", 0)
    db = tmp_path / "shop.db"
    with Gallery.open(db, siamkit.load_model(images)) as g:
        g.enroll("bag", np.zeros((1, 1, 8, 8), np.float32))
        g.remember_model_path(images)
    faces = tiny_model(tmp_path / "faces", 1)
    said = _other_models_gallery(
        GalleryMismatchError("refused"), str(db), str(faces), SimpleNamespace(input_kind="photo")
    )
    assert said is not None and "its images cannot be compared with another model's" in str(said)
