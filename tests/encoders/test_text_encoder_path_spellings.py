"""One text-model folder is one model however its path is spelled: ``create_encoder("text",
path=P)`` recorded ``P`` as typed in the spec its model's fingerprint hashes, so ``./m``, ``m/``
and ``m`` made three fingerprints and a gallery enrolled with one refused the model built with
another as 'a different model'. The spec records the path in one form, from the string alone
(``m``; an absolute path stays absolute), so a moved project keeps its fingerprints
(test_text_model_moved_project.py); the galleries enrolled while the spec held the path as typed
open by the model's former fingerprints."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.encoders import create_encoder
from siamkit.encoders.text_spec_path import path_spellings, spec_path
from siamkit.encoders.text_zoo import DEFAULT_MODEL_NAME, NAMED_TEXT_MODELS
from siamkit.export import ModelFileError
from siamkit.index import Gallery, GalleryStore
from siamkit.index.results import GalleryMismatchError
from siamkit.models import SiameseNetwork

pytest.importorskip("transformers")

RELATIVE = ("./m", "m/", "m")


def _build(path: str, seed: int = 0) -> SiameseNetwork:
    torch.manual_seed(seed)
    return SiameseNetwork(create_encoder("text", path=path), embedding_dim=8).eval()


def _as_typed(net: SiameseNetwork, path: str, window: bool = True) -> str:
    """The fingerprint of ``net`` as 427768a5 gave it built from ``path``: the spec holding the
    path as typed, and the window unless ``window`` is false (as before stop 55), a naive copy
    of fingerprint_of over that description."""
    kwargs = {**(net.config()["encoder"]["kwargs"] if window else {}), "path": path}
    cfg = {**net.config(), "encoder": {"name": "text", "kwargs": kwargs}}
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _gallery(db: Path, net: SiameseNetwork, recorded: str | None = None) -> Path:
    """A gallery of one item enrolled by ``net``, recording ``recorded`` as its model's
    fingerprint where given (what a gallery enrolled by an earlier siamkit records)."""
    db.unlink(missing_ok=True)
    with Gallery.open(db, net) as g:
        g.enroll_embeddings("a", torch.randn(1, 8))
    if recorded is not None:
        with GalleryStore(db, create=False) as store:
            store.set_meta("model_fingerprint", recorded)
    return db


def _opens(db: Path, net: SiameseNetwork) -> bool:
    try:
        with Gallery.open(db, net) as g:
            return len(g) == 1
    except GalleryMismatchError as err:
        assert "different model" in str(err)
        return False


def test_the_relative_spellings_of_one_folder_open_one_anothers_galleries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_tiny_bert(tmp_path / "m", layers=1)
    save_tiny_bert(tmp_path / "n", layers=1)  # the same weights in another folder
    monkeypatch.chdir(tmp_path)
    prints = {siamkit.model_fingerprint(_build(p)) for p in (*RELATIVE, "./m/", "m//")}
    assert len(prints) == 1
    for enrolled in RELATIVE:
        db = _gallery(tmp_path / "g.db", _build(enrolled))
        for opened in RELATIVE:
            assert _opens(db, _build(opened)), (enrolled, opened)
        # another model is still refused: other weights, or the same weights in another folder
        assert not _opens(db, _build(enrolled, seed=1))
        assert not _opens(db, _build("./n"))
    # an absolute path stays absolute (from the string alone, not the working directory)
    net = _build(str(tmp_path / "m") + "/")
    assert net.config()["encoder"]["kwargs"]["path"] == str(tmp_path / "m")


def test_a_gallery_enrolled_with_the_path_as_typed_opens_with_every_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Galleries enrolled at 427768a5 (the spec held the path as typed) record the fingerprint
    of that spelling: they open with the model built now from any of them, and after the
    project moved; another model's are refused."""
    project = tmp_path / "alice" / "proj"
    save_tiny_bert(project / "m", layers=1)
    save_tiny_bert(project / "n", layers=1)
    monkeypatch.chdir(project)
    net, other = _build("m"), _build("m", seed=1)
    dbs = {
        p: _gallery(project / f"g{i}.db", net, _as_typed(net, p)) for i, p in enumerate(RELATIVE)
    }
    for db in dbs.values():
        for opened in (*RELATIVE, "./m/"):
            assert _opens(db, _build(opened)), (db, opened)
        assert not _opens(db, _build("m", seed=1))
        assert not _opens(db, _build("n"))
    # other weights under the same spelling, or the same weights' ./n: refused
    assert not _opens(_gallery(project / "o.db", net, _as_typed(other, "./m")), net)
    assert not _opens(_gallery(project / "p.db", net, _as_typed(net, "./n")), net)
    # an odd spelling is the model's former fingerprint where it was built so
    odd = _gallery(project / "odd.db", net, _as_typed(net, "./m//"))
    assert _opens(odd, _build("./m//"))
    monkeypatch.chdir(tmp_path)
    moved = tmp_path / "bob"
    (tmp_path / "alice").rename(moved)
    monkeypatch.chdir(moved / "proj")
    for i, _ in enumerate(RELATIVE):
        assert _opens(moved / "proj" / f"g{i}.db", _build("m"))


def test_saved_folders_open_the_galleries_of_every_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder saved now records ``m``; one saved at 427768a5 from ``./m`` records ``./m`` and
    keeps that fingerprint. Each opens the galleries the other's build enrolls, and those
    enrolled with the path as typed; the record of the spec before the window (``./m`` as
    typed) is still given back on load."""
    save_tiny_bert(tmp_path / "m", layers=1)
    monkeypatch.chdir(tmp_path)
    net = _build("./m")
    new = siamkit.save_model(net, "new")
    saved = json.loads((new / "siamkit.json").read_text())["model"]["encoder"]["kwargs"]
    assert saved["path"] == "m"
    old = siamkit.save_model(net, "old")
    doc = json.loads((old / "siamkit.json").read_text())
    doc["model"]["encoder"]["kwargs"]["path"] = "./m"  # as 427768a5 saved it, weights the same
    (old / "siamkit.json").write_text(json.dumps(doc))
    loaded_new, loaded_old = siamkit.load_model(new), siamkit.load_model(old)
    assert siamkit.model_fingerprint(loaded_new) == siamkit.model_fingerprint(net)
    assert siamkit.model_fingerprint(loaded_old) == _as_typed(net, "./m")  # its galleries' own
    now = _gallery(tmp_path / "now.db", _build("m/"))
    for loaded in (loaded_new, loaded_old):
        assert _opens(now, loaded)
        for p in RELATIVE:
            assert _opens(_gallery(tmp_path / "then.db", net, _as_typed(net, p)), loaded), p
        assert not _opens(
            _gallery(tmp_path / "x.db", net, _as_typed(_build("m", 1), "./m")), loaded
        )
    # the spec before the window was recorded, ./m as typed, recorded beside and given back
    before = _as_typed(net, "./m", window=False)
    assert before in net.former_fingerprints()
    assert before in loaded_new.former_fingerprints()


@pytest.mark.parametrize("typed", ["./{}", "{}/", "./{}/", "{}//"])
def test_a_folder_named_as_a_model_keeps_the_dot_slash_that_makes_it_a_folder(typed: str) -> None:
    """``./all-MiniLM-L6-v2`` is a folder and ``all-MiniLM-L6-v2`` the bundled model wherever
    no such folder is (resolve_text_model): the form a spec records keeps them apart."""
    for name in (DEFAULT_MODEL_NAME, *NAMED_TEXT_MODELS):
        assert spec_path(typed.format(name)) == f"./{name}"
        assert spec_path(name) == name
        assert name not in path_spellings(typed.format(name))
        assert path_spellings(name) == [name]


def test_a_saved_folder_named_as_a_model_loads_that_folder_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local folder ``./all-MiniLM-L6-v2`` (the bundled model's name) built, saved and loaded
    from another folder is refused as at 427768a5 ('is not a folder'), not rebuilt as the
    bundled model under the saved weights (r2 finding 1); the galleries it enrolled at 427768a5
    under each folder spelling still open, and one recording the bare name's fingerprint (what
    the named model with the same weights enrolls) is refused by the folder's model both ways."""
    project = tmp_path / "proj"
    save_tiny_bert(project / DEFAULT_MODEL_NAME, layers=1)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(project)
    spellings = (f"./{DEFAULT_MODEL_NAME}", f"{DEFAULT_MODEL_NAME}/", f"./{DEFAULT_MODEL_NAME}/")
    nets = {p: _build(p) for p in spellings}
    net = nets[spellings[0]]
    assert {siamkit.model_fingerprint(n) for n in nets.values()} == {_as_typed(net, spellings[0])}
    folder = siamkit.save_model(net, project / "saved")
    kwargs = json.loads((folder / "siamkit.json").read_text())["model"]["encoder"]["kwargs"]
    assert kwargs["path"] == f"./{DEFAULT_MODEL_NAME}"
    loaded = siamkit.load_model(folder)  # from the project: its own folder
    then = {
        p: _gallery(project / f"g{i}.db", net, _as_typed(net, p)) for i, p in enumerate(spellings)
    }
    named = _gallery(project / "named.db", net, _as_typed(net, DEFAULT_MODEL_NAME))
    for model in (*nets.values(), loaded):
        assert all(_opens(db, model) for db in then.values())
        assert not _opens(named, model)
    # the bare name's build records the name, and takes none of the folder's galleries
    by_name = _build(DEFAULT_MODEL_NAME)
    assert by_name.config()["encoder"]["kwargs"]["path"] == DEFAULT_MODEL_NAME
    assert not any(_opens(db, by_name) for db in then.values())
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(ModelFileError, match=f"{DEFAULT_MODEL_NAME} is not a folder"):
        siamkit.load_model(folder)
