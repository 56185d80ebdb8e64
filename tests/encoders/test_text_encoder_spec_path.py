"""``create_encoder("text", path=P)`` recorded ``P`` as typed in the spec the fingerprint hashes,
so the same folder given as ``./m``, ``m/`` and its absolute path made three models as far as a
gallery could tell: one enrolled with ``./m`` refused the very model built with ``m/``. The spec
records the folder resolved now; the path as typed is kept as a former fingerprint, so the
galleries enrolled before (under the spelling used then) keep opening, saved and loaded too."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.encoders import create_encoder
from siamkit.index import Gallery, GalleryStore
from siamkit.index.results import GalleryMismatchError
from siamkit.models import SiameseNetwork

pytest.importorskip("transformers")


def _typed(net: SiameseNetwork, kwargs: dict[str, object]) -> str:
    """The fingerprint with the spec holding ``kwargs`` (a naive copy of the loop over the
    description), as a spec recorded the path as typed."""
    cfg = {**net.config(), "encoder": {"name": "text", "kwargs": kwargs}}
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _build(path: str, seed: int = 0) -> SiameseNetwork:
    torch.manual_seed(seed)
    return SiameseNetwork(create_encoder("text", path=path), embedding_dim=8).eval()


def _opens(db: Path, recorded: str, model: object) -> bool:
    with GalleryStore(db, create=False) as store:
        store.set_meta("model_fingerprint", recorded)
    try:
        with Gallery.open(db, model) as g:
            return len(g) == 1
    except GalleryMismatchError:
        return False


def test_one_folder_spelled_three_ways_is_one_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_tiny_bert(tmp_path / "m", layers=1)
    save_tiny_bert(tmp_path / "n", layers=1, seed=1)
    monkeypatch.chdir(tmp_path)
    spellings = ["m", "./m", "m/", str((tmp_path / "m").resolve())]
    nets = [_build(p) for p in spellings]
    assert len({siamkit.model_fingerprint(n) for n in nets}) == 1
    kwargs = nets[0].config()["encoder"]["kwargs"]
    assert kwargs["path"] == os.path.realpath(tmp_path / "m")
    window = {k: v for k, v in kwargs.items() if k != "path"}
    db = tmp_path / "g.db"
    with Gallery.open(db, nets[0]) as g:
        g.enroll_embeddings("a", torch.randn(1, 8))
    for typed, net in zip(spellings, nets):
        # a gallery enrolled while the spec held the path as typed: with the window (stop 55),
        # and before the window was recorded; each opens with the model built as it was then
        for old in ({"path": typed, **window}, {"path": typed}):
            assert _opens(db, _typed(net, old), _build(typed)), old
        # another folder's spelling (the same weights hashed, another tokenizer read): refused
        assert not _opens(db, _typed(net, {"path": "n", **window}), _build(typed))
        assert not _opens(db, _typed(_build(typed, seed=1), {"path": typed, **window}), net)


def test_a_saved_model_keeps_the_path_as_typed_as_a_former_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_tiny_bert(tmp_path / "m", layers=1)
    save_tiny_bert(tmp_path / "n", layers=1, seed=1)
    monkeypatch.chdir(tmp_path)
    net = _build("./m")
    db = tmp_path / "g.db"
    with Gallery.open(db, net) as g:
        g.enroll_embeddings("a", torch.randn(1, 8))
    folder = siamkit.save_model(net, tmp_path / "model")
    doc = json.loads((folder / "siamkit.json").read_text())
    assert doc["model"]["encoder"]["kwargs"]["path"] == os.path.realpath(tmp_path / "m")
    window = {k: v for k, v in doc["model"]["encoder"]["kwargs"].items() if k != "path"}
    reloaded = siamkit.load_model(siamkit.save_model(siamkit.load_model(folder), tmp_path / "b"))
    assert siamkit.model_fingerprint(reloaded) == siamkit.model_fingerprint(net)
    for old in ({"path": "./m", **window}, {"path": "./m"}):
        assert _opens(db, _typed(net, old), reloaded), old
    # a record edited to another folder's path is dropped, as a folder saved without one
    doc["former_encoder"]["kwargs"]["path"] = "n"
    (folder / "siamkit.json").write_text(json.dumps(doc))
    edited = siamkit.load_model(folder)
    assert edited.former_fingerprints() == ()
    assert not _opens(db, _typed(net, {"path": "n", **window}), edited)
