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


def test_a_project_moved_whole_loads_its_saved_model_as_at_ebdc710b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model built with ``./m`` and saved beside ``m`` loaded, at ebdc710b, in the project
    moved or copied whole, from its new place: the spec held ``./m``, read from the working
    directory, and its fingerprint stayed the same. Since the spec records the folder resolved,
    the folder it names is gone after the move and the load failed ('... is not a folder',
    s56_R5 finding 2). The path as typed, recorded beside the spec, is now read where the
    resolved one is gone: the model loads from the moved ``m`` with the fingerprint it was
    saved with, and still opens the galleries enrolled while the spec held ``./m``."""
    project = tmp_path / "project"
    save_tiny_bert(project / "m", layers=1)
    monkeypatch.chdir(project)
    net = _build("./m")
    window = {k: v for k, v in net.config()["encoder"]["kwargs"].items() if k != "path"}
    with Gallery.open(project / "g.db", net) as g:
        g.enroll_embeddings("a", torch.randn(1, 8))
    siamkit.save_model(net, "f")
    before = siamkit.model_fingerprint(siamkit.load_model("f"))
    assert before == siamkit.model_fingerprint(net)
    monkeypatch.chdir(tmp_path)
    moved = project.rename(tmp_path / "moved")
    monkeypatch.chdir(moved)
    loaded = siamkit.load_model("f")
    assert isinstance(loaded, SiameseNetwork)
    assert siamkit.model_fingerprint(loaded) == before
    assert loaded.config()["encoder"] == net.config()["encoder"]  # as saved, for the next save
    assert loaded.encoder.folder == os.path.realpath(moved / "m")
    ids = loaded.encoder.tokenizer("a moved project")["input_ids"]
    assert ids == net.encoder.tokenizer("a moved project")["input_ids"]
    # the galleries enrolled before the move, and those enrolled while the spec held ./m
    # (by the model unsaved, with and without the window: what ebdc710b's folder opened)
    assert _opens(moved / "g.db", before, loaded)
    for old in ({"path": "./m", **window}, {"path": "./m"}):
        assert _opens(moved / "g.db", _typed(net, old), loaded), old
    assert not _opens(moved / "g.db", _typed(net, {"path": "n", **window}), loaded)
    # saved again where it lies, it still loads and keeps the path as typed beside its spec
    again = siamkit.load_model(siamkit.save_model(loaded, "f2"))
    assert siamkit.model_fingerprint(again) == before
    assert _opens(moved / "g.db", _typed(net, {"path": "./m", **window}), again)
    # from a folder where ./m names nothing, it fails as at ebdc710b, naming the folder
    monkeypatch.chdir(tmp_path)
    with pytest.raises(siamkit.ModelFileError, match="is not a folder"):
        siamkit.load_model(moved / "f")


def test_a_folder_saved_with_the_path_as_typed_opens_what_the_same_model_built_now_enrolls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder saved while the spec held ``./m`` (before the folder was recorded resolved)
    keeps that spec, so its fingerprint; the same model built now from ``./m``, with its
    weights, records the folder resolved: at ebdc710b both held ``./m`` and the folder opened
    the galleries such a build enrolls, since then it refused them as another model's (s56_R5
    suspicion 3). The loaded folder now answers to the fingerprint its encoder, built anew,
    records; a build from another folder with the same weights is still refused."""
    save_tiny_bert(tmp_path / "m", layers=1)
    save_tiny_bert(tmp_path / "n", layers=1, seed=1)
    monkeypatch.chdir(tmp_path)
    folder = siamkit.save_model(_build("./m"), tmp_path / "old")
    doc = json.loads((folder / "siamkit.json").read_text())
    doc["model"]["encoder"]["kwargs"]["path"] = "./m"  # as saved before, weights the same
    (folder / "siamkit.json").write_text(json.dumps(doc))
    old = siamkit.load_model(folder)
    assert isinstance(old, SiameseNetwork)
    assert old.config()["encoder"]["kwargs"]["path"] == "./m"
    for path, opens in (("./m", True), ("m/", True), ("n", False)):
        now = _build(path, seed=2)
        now.load_state_dict(old.state_dict())
        assert siamkit.model_fingerprint(now) != siamkit.model_fingerprint(old)
        db = tmp_path / f"g{len(path)}{path[0]}.db"
        with Gallery.open(db, now) as g:
            g.enroll_embeddings("a", torch.randn(1, 8))
        assert _opens(db, siamkit.model_fingerprint(now), old) is opens, path
