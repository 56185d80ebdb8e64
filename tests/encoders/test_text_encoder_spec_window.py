"""A generic model over ``create_encoder("text", max_length=W)`` saved its encoder's arguments as
given, so a reload worked the window's overlap out again under the default rule of the day: a
model saved while a given 128 got overlap 16 reloaded at 128/32 with the same fingerprint, its
long-text embeddings changed and nothing noticed. The spec now records the window the encoder
ran at."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.encoders import create_encoder
from siamkit.models import SiameseNetwork

pytest.importorskip("transformers")


def test_a_saved_text_encoder_reloads_at_the_window_it_ran_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siamkit.encoders.text as text

    bert = save_tiny_bert(tmp_path / "bert", layers=1)
    net = SiameseNetwork(create_encoder("text", path=str(bert), max_length=128))
    assert (net.encoder.max_length, net.encoder.overlap) == (128, 32)
    long = [" ".join(["the pipe under the kitchen sink is leaking again"] * 40)]  # > 128 tokens
    with torch.no_grad():
        before = net.encoder.encode_texts(long)
    folder = siamkit.save_model(net, tmp_path / "model")
    # another default rule (as a given window under 256 got an eighth during one stop)
    monkeypatch.setattr(text, "default_overlap", lambda size, given=False: size // 8)
    reloaded = siamkit.load_model(folder)
    assert (reloaded.encoder.max_length, reloaded.encoder.overlap) == (128, 32)
    assert siamkit.model_fingerprint(reloaded) == siamkit.model_fingerprint(net)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.encoder.encode_texts(long), before)


def _spec_as_given(net: SiameseNetwork, given: dict[str, object]) -> str:
    """The fingerprint as create_encoder's spec gave it before it recorded the window (a naive
    copy of the loop, over the description with the spec holding the given arguments only)."""
    import hashlib
    import json

    cfg = {**net.config(), "encoder": {"name": "text", "kwargs": given}}
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    ("window", "opens"),
    [({}, True), ({"max_length": 300}, True), ({"max_length": 128, "overlap": 16}, True),
     ({"max_length": 128}, False)],
)  # fmt: skip
def test_a_model_built_in_python_opens_the_galleries_it_enrolled_before_the_window_was_recorded(
    tmp_path: Path, window: dict[str, int], opens: bool
) -> None:
    """The same ``SiameseNetwork(create_encoder("text", path=P))``, never saved, got a new
    fingerprint when the spec began to record the window, and a gallery it had enrolled was
    refused as another model's. It opens again where that call ran at the same window then (a
    window given under 256 without an overlap ran at an eighth then, at 32 now: refused);
    another model's is still refused."""
    from siamkit.index import Gallery, GalleryStore
    from siamkit.index.results import GalleryMismatchError

    bert = save_tiny_bert(tmp_path / "bert", layers=1)

    def build(seed: int) -> SiameseNetwork:
        torch.manual_seed(seed)
        return SiameseNetwork(create_encoder("text", path=str(bert), **window), embedding_dim=8)

    net, other = build(0), build(1)
    given = {"path": str(bert), **window}
    moved = siamkit.model_fingerprint(net) != _spec_as_given(net, given)
    assert moved == (len(window) < 2)  # the spec moved, unless the whole window was given
    db = tmp_path / "g.db"
    with Gallery.open(db, net) as g:
        g.enroll_embeddings("a", torch.randn(1, 8))
    for recorded, ok in (
        (_spec_as_given(net, given), opens),
        (_spec_as_given(other, given), False),
    ):
        with GalleryStore(db, create=False) as store:
            store.set_meta("model_fingerprint", recorded)
        if ok:
            with Gallery.open(db, build(0)) as g:
                assert len(g) == 1
        else:
            with pytest.raises(GalleryMismatchError, match="different model"):
                Gallery.open(db, build(0))
    # the very model, saved and loaded again (and again): it opens what it opened unsaved
    # (s55_R5 finding 2: a model rebuilt from its folder kept the saved spec only)
    reloaded = siamkit.load_model(siamkit.save_model(net, tmp_path / "model"))
    reloaded = siamkit.load_model(siamkit.save_model(reloaded, tmp_path / "again"))
    assert siamkit.model_fingerprint(reloaded) == siamkit.model_fingerprint(net)
    for recorded, ok in (
        (_spec_as_given(net, given), opens),
        (_spec_as_given(other, given), False),
    ):
        with GalleryStore(db, create=False) as store:
            store.set_meta("model_fingerprint", recorded)
        if ok:
            with Gallery.open(db, reloaded) as g:
                assert len(g) == 1
        else:
            with pytest.raises(GalleryMismatchError, match="different model"):
                Gallery.open(db, reloaded)


def test_a_recorded_former_spec_is_kept_only_where_it_is_one(tmp_path: Path) -> None:
    """save_model records the former spec outside the hashed description, and load_model gives
    it back only where it is this encoder's: arguments other than the saved ones, or ones that
    resolved then to another window than the encoder runs at, are dropped (such a spec's
    fingerprint is another model's, which the loaded one would then open)."""
    import json

    bert = save_tiny_bert(tmp_path / "bert", layers=1)
    net = SiameseNetwork(create_encoder("text", path=str(bert), max_length=300))
    folder = siamkit.save_model(net, tmp_path / "model")
    doc = json.loads((folder / "siamkit.json").read_text())
    given = {"path": str(bert), "max_length": 300}
    assert doc["model"]["encoder"]["kwargs"] == {**given, "overlap": 32}
    assert doc["former_encoder"] == {"name": "text", "kwargs": given}
    # the former a folder has without the record: the spec's path spelled with a trailing /
    rest = (_spec_as_given(net, {"path": f"{bert}/", "max_length": 300, "overlap": 32}),)
    assert siamkit.load_model(folder).former_fingerprints() == (_spec_as_given(net, given), *rest)
    for kwargs in (
        {"path": str(bert)},  # a window left out: 256 then, not 300
        {"path": str(bert), "overlap": 32},  # the same
        {"max_length": 300},  # the default model's folder
        {"path": str(tmp_path / "elsewhere"), "max_length": 300},
        {"path": str(bert), "max_length": 300, "overlap": 32},  # the saved spec itself
    ):
        doc["former_encoder"]["kwargs"] = kwargs
        (folder / "siamkit.json").write_text(json.dumps(doc))
        assert siamkit.load_model(folder).former_fingerprints() == rest
    # a window given under 256 without an overlap ran at an eighth then, at 32 now: none
    small = SiameseNetwork(create_encoder("text", path=str(bert), max_length=128))
    folder = siamkit.save_model(small, tmp_path / "small")
    doc = json.loads((folder / "siamkit.json").read_text())
    assert "former_encoder" not in doc
    rest = siamkit.load_model(folder).former_fingerprints()
    doc["former_encoder"] = {"name": "text", "kwargs": {"path": str(bert), "max_length": 128}}
    (folder / "siamkit.json").write_text(json.dumps(doc))
    assert siamkit.load_model(folder).former_fingerprints() == rest
