"""A generic text model built in Python with a relative path (``create_encoder("text",
path="./m")``) must keep opening its own galleries once the project is moved or cloned
elsewhere: same weights, same folder, same spelling. f416795a hashed the folder resolved to an
absolute path, so the same script's model at the new place was refused as 'a different model'
(s56_FB finding 1); the spec holds the path as typed again, as at ebdc710b."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.encoders import create_encoder
from siamkit.index import Gallery
from siamkit.index.results import GalleryMismatchError
from siamkit.models import SiameseNetwork

pytest.importorskip("transformers")


def _build(path: str, seed: int = 0) -> SiameseNetwork:
    torch.manual_seed(seed)
    return SiameseNetwork(create_encoder("text", path=path), embedding_dim=8).eval()


def _moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    moved = tmp_path / "bob" / "proj"
    moved.parent.mkdir()
    project.rename(moved)
    monkeypatch.chdir(moved)
    return moved


def test_the_same_scripts_model_opens_its_gallery_after_the_project_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "alice" / "proj"
    save_tiny_bert(project / "m", layers=1)
    monkeypatch.chdir(project)
    with Gallery.open(project / "g.db", _build("./m")) as g:
        g.enroll_embeddings("a", torch.randn(1, 8))
    moved = _moved(tmp_path, monkeypatch, project)
    with Gallery.open(moved / "g.db", _build("./m")) as g:
        assert len(g) == 1
    # still another model's weights are refused: the check is not simply off
    with pytest.raises(GalleryMismatchError, match="different model"):
        Gallery.open(moved / "g.db", _build("./m", seed=1))


def test_a_saved_folder_and_the_same_scripts_build_agree_after_the_project_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "alice" / "proj"
    save_tiny_bert(project / "m", layers=1)
    monkeypatch.chdir(project)
    siamkit.save_model(_build("./m"), "f")
    with Gallery.open(project / "g.db", siamkit.load_model("f")) as g:
        g.enroll_embeddings("a", torch.randn(1, 8))
    moved = _moved(tmp_path, monkeypatch, project)
    loaded = siamkit.load_model("f")
    built = _build("./m")
    assert siamkit.model_fingerprint(loaded) == siamkit.model_fingerprint(built)
    for net in (loaded, built):
        with Gallery.open(moved / "g.db", net) as g:
            assert len(g) == 1
