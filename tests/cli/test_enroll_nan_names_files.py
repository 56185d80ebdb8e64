"""``siamkit enroll`` embeds in chunks (:data:`~siamkit.cli._enroll.CHUNK` images at once), and
a model's NaN embeddings were refused by each chunk's own count and row numbers: "1 of the 44
embeddings ... (rows 2)" for image 259 of 300, which names the third file given (s54_FA finding
3). The refusal now names the files, counted against every image given, and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli import _enroll
from siamkit.cli.main import cli
from siamkit.index import Gallery
from siamkit.index.base import UnrankableEmbeddingsError
from siamkit.models import SiameseNetwork

WHITE = 255  # the model below breaks on an all-white image; the others stay below 200


def _nan_for_white_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SiameseNetwork embeds an all-white image as NaN (a plain loop marks the rows)."""
    real = SiameseNetwork.embed

    def embed(self, x, *args, **kwargs):
        z = real(self, x, *args, **kwargs).clone()
        flat = x.float().flatten(1)
        top = flat.max()
        for i in range(len(flat)):
            if bool((flat[i] == top).all()) and float(top) > 0:
                z[i] = float("nan")
        return z

    monkeypatch.setattr(SiameseNetwork, "embed", embed)


def _photos(root: Path, white: set[int]) -> tuple[dict[str, list[Path]], torch.Tensor]:
    """Twelve 28x28 photos in two labels (six each), those numbered in ``white`` all white."""
    rng = np.random.default_rng(0)
    groups: dict[str, list[Path]] = {}
    pixels = []
    for i in range(12):
        label = "boot" if i < 6 else "bag"
        (root / label).mkdir(parents=True, exist_ok=True)
        img = (
            np.full((28, 28), WHITE, np.uint8)
            if i in white
            else rng.integers(0, 200, (28, 28), dtype=np.uint8)
        )
        path = root / label / f"{i:02d}.png"
        Image.fromarray(img).save(path)
        groups.setdefault(label, []).append(path)
        pixels.append(img)
    return groups, torch.from_numpy(np.stack(pixels)[:, None].astype(np.float32) / 255)


def _net() -> SiameseNetwork:
    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    return SiameseNetwork(encoder, embedding_dim=4, preprocess=pre)


def test_enroll_names_the_files_whose_embeddings_hold_nan_across_chunks(tmp_path, monkeypatch):
    groups, x = _photos(tmp_path / "photos", white={6, 10})
    files = [p for paths in groups.values() for p in paths]
    net = _net()
    _nan_for_white_images(monkeypatch)
    with Gallery.open(tmp_path / "g.db", net, create=True) as gallery:
        with pytest.raises(UnrankableEmbeddingsError) as err:
            _enroll.enroll_groups(gallery, net, groups, x, None, chunk=4)
        assert len(gallery) == 0
    # image 7 of 12, row 2 of the second chunk of four: refused there, before the third chunk
    # (image 11) is embedded, counted against the eight embedded and the twelve given
    assert str(err.value) == (
        "1 of the 8 embeddings the model made of the first 8 of the 12 images hold NaN or "
        f"infinite values ({str(files[6])!r}), which no search can rank; nothing was enrolled"
    )


def test_a_broken_model_is_refused_at_its_first_chunk(tmp_path, monkeypatch):
    """A model that embeds everything as NaN was refused only once every image was embedded
    (reviewer s55_FB finding 2: 40 of 40 with chunks of 4; a face model's folder took hours)."""
    files = [tmp_path / f"{i:02d}.png" for i in range(40)]
    net = _net()
    embedded: list[int] = []
    real = SiameseNetwork.embed

    def embed(self, x, *args, **kwargs):
        embedded.append(len(x))
        return real(self, x, *args, **kwargs) * float("nan")

    monkeypatch.setattr(SiameseNetwork, "embed", embed)
    with Gallery.open(tmp_path / "g.db", net, create=True) as gallery:
        with pytest.raises(UnrankableEmbeddingsError) as err:
            _enroll.enroll_groups(gallery, net, {"a": files}, torch.rand(40, 1, 28, 28), None, 4)
        assert len(gallery) == 0
    assert sum(embedded) == 4
    assert str(err.value).startswith(
        "4 of the 4 embeddings the model made of the first 4 of the 40 images hold NaN or "
        f"infinite values ({str(files[0])!r}, "
    )


def test_the_cli_names_the_file_of_a_late_images_nan_embedding(tmp_path, monkeypatch):
    _photos(tmp_path / "photos", white={10})
    siamkit.save_model(_net(), tmp_path / "model")
    monkeypatch.setattr(_enroll, "CHUNK", 4)  # bag/10.png, the fifth file, was "rows 0" of 4
    _nan_for_white_images(monkeypatch)
    db = tmp_path / "g.db"
    res = CliRunner().invoke(
        cli, ["enroll", str(tmp_path / "model"), "--gallery", str(db), str(tmp_path / "photos")]
    )
    assert res.exit_code == 1, res.output
    # refused in the second chunk, before the third is embedded
    assert "1 of the 8 embeddings the model made of the first 8 of the 12 images hold NaN" in (
        res.output
    )
    assert "bag/10.png" in res.output and "rows" not in res.output
    assert not db.exists()  # a gallery it created is removed again: nothing was stored


class _PhotoModel:
    """A face model's shape: whole photos at their own sizes; a photo whose pixels are all 7
    gets a NaN embedding."""

    input_kind = "photo"

    def __init__(self) -> None:
        self.embedded = 0  # photos embedded, all calls together

    def embed_photos(self, photos: list[torch.Tensor]) -> np.ndarray:
        self.embedded += len(photos)
        z = np.stack([float(p.mean()) + np.arange(4.0) for p in photos]).astype(np.float32)
        z[[i for i, p in enumerate(photos) if bool((p == 7).all())]] = np.nan
        return z


def test_a_photo_models_nan_is_named_by_file_across_its_chunks_of_eight(tmp_path):
    files = [tmp_path / f"p{i + 1:02d}.png" for i in range(12)]
    photos = [torch.rand(3, 20 + i, 20) for i in range(12)]
    photos[10] = torch.full((3, 9, 9), 7.0)  # photo 11 of 12: row 2 of the second chunk
    with Gallery.open(tmp_path / "g.db", embedding_dim=4) as gallery:
        with pytest.raises(UnrankableEmbeddingsError) as err:
            _enroll.enroll_groups(gallery, _PhotoModel(), {"a": files}, photos, None)
        assert len(gallery) == 0
    assert str(err.value) == (
        "1 of the 12 embeddings the model made of the photos' largest faces hold NaN or "
        f"infinite values ({str(files[10])!r}), which no search can rank; nothing was enrolled"
    )


def test_a_photo_models_nan_in_its_first_chunk_is_refused_before_the_next_is_embedded(tmp_path):
    files = [tmp_path / f"p{i + 1:02d}.png" for i in range(20)]
    photos = [torch.rand(3, 20 + i, 20) for i in range(20)]
    photos[2] = torch.full((3, 9, 9), 7.0)  # photo 3 of 20, in the first chunk of eight
    model = _PhotoModel()
    with Gallery.open(tmp_path / "g.db", embedding_dim=4) as gallery:
        with pytest.raises(UnrankableEmbeddingsError) as err:
            _enroll.enroll_groups(gallery, model, {"a": files}, photos, None)
        assert len(gallery) == 0
    assert model.embedded == _enroll.PHOTO_CHUNK == 8
    assert str(err.value) == (
        "1 of the 8 embeddings the model made of the largest faces of the first 8 of the 20 "
        f"photos hold NaN or infinite values ({str(files[2])!r}), which no search can rank; "
        "nothing was enrolled"
    )
