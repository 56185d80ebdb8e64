"""A gallery recorded under a text model's former fingerprint formula (before 9d52db86) opens
with the PyTorch model (its ``former_fingerprints()``), but the model's fresh ONNX export
recorded one fingerprint only, so ``--runtime onnx`` refused the very galleries the model opens
as another model's; and a re-export of an old bundle (recording the former fingerprint)
refused the galleries its model enrolls now. An export now records the model's other
fingerprints and the runtime accepts them as the model does, and nothing more."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit import model_fingerprint
from siamkit.applications.text import TextSiameseNetwork
from siamkit.index import Gallery, GalleryStore
from siamkit.index.results import GalleryMismatchError

pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")


def _former_formula(net: TextSiameseNetwork) -> str:
    """The fingerprint as model_fingerprint computed it before 9d52db86 (a naive copy of its
    loop): the whole config, then each tensor's bytes in name order."""
    cfg = {k: v for k, v in net.config().items() if k != "tokenizer_sha256"}
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _gallery(path: Path, net: TextSiameseNetwork, fingerprint: str | None = None) -> Path:
    with Gallery.open(path, net) as g:
        g.enroll("guitar", ["A man is playing guitar."])
        g.enroll("sink", ["The sink is leaking."])
    if fingerprint is not None:
        with GalleryStore(path, create=False) as store:
            store.set_meta("model_fingerprint", fingerprint)
    return path


def _identifies(path: Path, model: object) -> str | None:
    with Gallery.open(path, model, threshold=2.0) as g:
        return g.identify(["A man plays the guitar."]).label


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("onnxformer") / "bert", layers=1)


def test_a_fresh_export_opens_the_galleries_its_model_opens(bert: Path, tmp_path: Path) -> None:
    from siamkit.applications.text.onnx_model import load_text_onnx_model

    folder = siamkit.save_model(TextSiameseNetwork.pretrained(bert), tmp_path / "model")
    net = siamkit.load_model(folder)
    net.export_onnx_folder(folder / "onnx")
    runtime = load_text_onnx_model(folder)
    assert runtime.fingerprint == model_fingerprint(net)
    old = _gallery(tmp_path / "old.db", net, _former_formula(net))
    assert _identifies(old, net) == "guitar"  # the PyTorch model opens it ...
    assert _identifies(old, runtime) == "guitar"  # ... and so does its export
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "other", layers=1, seed=1))
    foreign = _gallery(tmp_path / "foreign.db", net, _former_formula(other))
    for model in (net, runtime):  # another model's former fingerprint: refused by both
        with pytest.raises(GalleryMismatchError, match="built by a different model"):
            _identifies(foreign, model)


def test_a_re_export_of_an_old_bundle_opens_the_galleries_its_model_enrolls_now(
    bert: Path, tmp_path: Path
) -> None:
    from siamkit.applications.text.onnx_model import load_text_onnx_model

    folder = siamkit.save_model(TextSiameseNetwork.pretrained(bert), tmp_path / "model")
    doc = json.loads((folder / "siamkit.json").read_text())
    net = siamkit.load_model(folder)
    doc["fingerprint"] = _former_formula(net)  # as the former main saved it
    (folder / "siamkit.json").write_text(json.dumps(doc))
    net.export_onnx_folder(folder / "onnx")
    runtime = load_text_onnx_model(folder)
    assert runtime.fingerprint == _former_formula(net)
    new = _gallery(tmp_path / "new.db", net)  # recording this formula's fingerprint
    assert _identifies(new, runtime) == "guitar"


def test_an_export_made_before_the_formula_changed_opens_the_galleries_its_model_enrolls_now(
    bert: Path, tmp_path: Path
) -> None:
    """An old bundle and its old export (both recording the former fingerprint, the export no
    list of others, as cec6be32 wrote them): a gallery the bundle's PyTorch model enrolls now
    records its current fingerprint, and the export refused it as "built by a different model"
    (s54_FB). It opens now; another model's gallery is still refused."""
    from siamkit.applications.text.onnx_model import load_text_onnx_model

    folder = siamkit.save_model(TextSiameseNetwork.pretrained(bert), tmp_path / "model")
    net = siamkit.load_model(folder)
    old = _former_formula(net)
    doc = json.loads((folder / "siamkit.json").read_text())
    doc["fingerprint"] = old
    (folder / "siamkit.json").write_text(json.dumps(doc))
    net.export_onnx_folder(folder / "onnx")
    meta_path = folder / "onnx" / "text_onnx.json"
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"] = old
    meta.pop("former_fingerprints", None)
    meta_path.write_text(json.dumps(meta))
    runtime = load_text_onnx_model(folder)
    assert runtime.fingerprint == old
    new = _gallery(tmp_path / "new.db", net)  # enrolled now: the current fingerprint
    assert _identifies(new, net) == "guitar"
    assert _identifies(new, runtime) == "guitar"
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "other", layers=1, seed=1))
    foreign = _gallery(tmp_path / "foreign.db", other)
    with pytest.raises(GalleryMismatchError, match="built by a different model"):
        _identifies(foreign, runtime)


def test_an_export_listing_the_formula_before_the_inert_keys_opens_what_its_model_enrolls_now(
    bert: Path, tmp_path: Path
) -> None:
    """A bundle and export made while the text fingerprint kept the config keys at a value that
    changes nothing (is_decoder false, ...): the export records that fingerprint and, as its
    others, the oldest formula's. The bundle's PyTorch model enrolls now under the current
    formula, and the export refused those galleries: its list was taken as complete. Its
    bundle's model's fingerprint is now added for it too; another model's is still refused."""
    from siamkit.applications.text.onnx_model import load_text_onnx_model

    folder = siamkit.save_model(TextSiameseNetwork.pretrained(bert), tmp_path / "model")
    net = siamkit.load_model(folder)
    oldest, then = net.former_fingerprints()
    assert model_fingerprint(net) not in (oldest, then)
    doc = json.loads((folder / "siamkit.json").read_text())
    doc["fingerprint"] = then
    (folder / "siamkit.json").write_text(json.dumps(doc))
    net.export_onnx_folder(folder / "onnx")
    meta_path = folder / "onnx" / "text_onnx.json"
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"], meta["former_fingerprints"] = then, [oldest]  # as it was written then
    meta_path.write_text(json.dumps(meta))
    runtime = load_text_onnx_model(folder)
    new = _gallery(tmp_path / "new.db", net)  # enrolled now: the current fingerprint
    assert _identifies(new, runtime) == "guitar"
    assert _identifies(_gallery(tmp_path / "then.db", net, then), runtime) == "guitar"
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "other", layers=1, seed=1))
    with pytest.raises(GalleryMismatchError, match="built by a different model"):
        _identifies(_gallery(tmp_path / "foreign.db", other), runtime)


def test_a_fresh_export_refuses_another_models_gallery_without_building_its_model(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gallery whose fingerprint differs asks for the export's other fingerprints, and the
    export's bundle's model was built (tokenizer, transformer, weights) to add its own, even
    for an export made now, whose list holds it by construction: ``serve --runtime onnx``
    built the PyTorch model to refuse another model's gallery (s55_R5 finding 1). The folder's
    files hash to a fingerprint the list holds, so nothing is built; what opens is unchanged."""
    import siamkit.export.bundle as bundle
    from siamkit.applications.text.onnx_model import load_text_onnx_model

    folder = siamkit.save_model(TextSiameseNetwork.pretrained(bert), tmp_path / "model")
    net = siamkit.load_model(folder)
    net.export_onnx_folder(folder / "onnx")
    runtime = load_text_onnx_model(folder)
    built: list[object] = []
    real = bundle.load_model

    def counted(*args: object, **kwargs: object) -> object:
        built.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle, "load_model", counted)
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "other", layers=1, seed=1))
    with pytest.raises(GalleryMismatchError, match="built by a different model"):
        _identifies(_gallery(tmp_path / "foreign.db", other), runtime)
    assert _identifies(_gallery(tmp_path / "old.db", net, _former_formula(net)), runtime) == (
        "guitar"
    )
    assert built == []
