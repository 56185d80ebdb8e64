"""``siamkit identify`` with a face model embeds its queries :data:`~siamkit.cli._enroll.PHOTO_CHUNK`
photos at a time, and a NaN embedding was refused by its chunk's own count and row: "1 of the 4
embeddings ... (rows 2)" for query 11 of 12, which names the third query given (reviewer s55_FB
finding 3, the twin of s54_FA finding 3 for enroll). It now names the query's file, counted
against the queries embedded so far and all given, at the first chunk that holds one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _nan_for_white import nan_for_white
from siamkit.cli._enroll import PHOTO_CHUNK
from siamkit.cli._image_files import PhotoFiles
from siamkit.cli.gallery_cmds import _identify_queries
from siamkit.index import Gallery
from siamkit.index.base import UnrankableEmbeddingsError


class _PhotoModel:
    """A face model's shape, enough for a gallery: whole photos at their own sizes; an all-white
    photo gets a NaN embedding."""

    input_kind = "photo"
    embedding_dim = 4
    distance = distance_name = "euclidean"
    threshold = None
    fingerprint = "f" * 64
    input_shape = None

    def __init__(self) -> None:
        self.embedded = 0  # photos embedded, all calls together

    def embed(self, x):  # a face model embeds photos only
        raise AssertionError("embed_photos is a face model's embedding")

    def embed_photos(self, photos) -> np.ndarray:
        self.embedded += len(photos)
        z = np.stack([float(p.mean()) + np.arange(4.0) for p in photos]).astype(np.float32)
        z[[i for i, p in enumerate(photos) if float(p.min()) > 0.99]] = np.nan
        return z


def _queries(folder: Path, n: int, white: int) -> list[Path]:
    """``n`` small photos q01.png ..., the one numbered ``white`` (from 1) all white."""
    paths = [folder / f"q{i + 1:02d}.png" for i in range(n)]
    for i, path in enumerate(paths):
        grey = 255 if i + 1 == white else 40 + 3 * i
        Image.fromarray(np.full((20, 20, 3), grey, np.uint8)).save(path)
    return paths


def _gallery(tmp_path: Path, model: _PhotoModel, photos: list[Path]) -> Gallery:
    gallery = Gallery.open(tmp_path / "g.db", model, create=True, threshold=1000.0)
    gallery.enroll("a", PhotoFiles(photos[:2])[0:2])
    model.embedded = 0
    return gallery


def test_identify_names_the_query_of_a_nan_in_a_later_chunk(tmp_path):
    paths = _queries(tmp_path, 12, white=11)  # query 11: row 2 of the second chunk of eight
    model = _PhotoModel()
    with _gallery(tmp_path, model, paths) as g, pytest.raises(UnrankableEmbeddingsError) as err:
        _identify_queries(g, PhotoFiles(paths), [str(p) for p in paths], 3)
    assert str(err.value) == (
        "1 of the 12 embeddings the model made of the photos' largest faces hold NaN or "
        f"infinite values ({str(paths[10])!r}), which no search can rank"
    )


def test_identify_refuses_at_the_first_chunk_that_holds_a_nan(tmp_path):
    paths = _queries(tmp_path, 20, white=3)
    model = _PhotoModel()
    with _gallery(tmp_path, model, paths) as g, pytest.raises(UnrankableEmbeddingsError) as err:
        _identify_queries(g, PhotoFiles(paths), [str(p) for p in paths], 3)
    assert model.embedded == PHOTO_CHUNK == 8  # the later chunks are not embedded
    assert str(err.value) == (
        "1 of the 8 embeddings the model made of the largest faces of the first 8 of the 20 "
        f"photos hold NaN or infinite values ({str(paths[2])!r}), which no search can rank"
    )


def test_identify_in_chunks_finds_what_one_search_of_all_finds(tmp_path):
    paths = _queries(tmp_path, 20, white=0)
    model = _PhotoModel()
    with _gallery(tmp_path, model, paths) as gallery:
        gallery.enroll("b", PhotoFiles(paths[10:13])[0:3])
        got = _identify_queries(gallery, PhotoFiles(paths), [str(p) for p in paths], 2)
        whole = gallery.identify_batch(PhotoFiles(paths)[0:20], k=2)
    assert len(got) == len(whole) == 20
    for a, b in zip(got, whole):
        assert a.label == b.label
        assert [(m.label, m.item_id, m.distance) for m in a.matches] == [
            (m.label, m.item_id, m.distance) for m in b.matches
        ]


def test_identify_with_an_image_model_names_the_query_file_of_a_nan(tmp_path, monkeypatch):
    """Without a face model, ``siamkit identify`` searched the batch in one call and the gallery
    refused a NaN by its row ("(rows 2)"); it names the query's file now, as ``siamkit enroll``
    names an image's (final35 "NaN wording")."""
    import torch
    from click.testing import CliRunner

    import siamkit
    from siamkit.cli.main import cli
    from siamkit.models import SiameseNetwork

    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    siamkit.save_model(SiameseNetwork(encoder, embedding_dim=4, preprocess=pre), tmp_path / "m")
    rng = np.random.default_rng(0)
    (tmp_path / "photos" / "a").mkdir(parents=True)
    for i in range(2):
        img = rng.integers(0, 200, (28, 28), dtype=np.uint8)
        Image.fromarray(img).save(tmp_path / "photos" / "a" / f"{i}.png")
    queries = [tmp_path / f"q{i}.png" for i in range(4)]
    for i, path in enumerate(queries):  # the third all white, which the model breaks on
        img = np.full((28, 28), 255, np.uint8) if i == 2 else rng.integers(0, 200, (28, 28))
        Image.fromarray(img.astype(np.uint8)).save(path)
    db, model = str(tmp_path / "g.db"), str(tmp_path / "m")
    run = CliRunner().invoke
    assert run(cli, ["enroll", model, "--gallery", db, str(tmp_path / "photos")]).exit_code == 0
    nan_for_white(monkeypatch)  # an all-white image's row is NaN
    res = run(cli, ["identify", model, "--gallery", db, *map(str, queries)])
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (  # after any progress lines
        "Error: 1 of the 4 embeddings the model made of the images hold NaN or infinite values "
        f"({str(queries[2])!r}), which no search can rank"
    )
