"""A Hugging Face folder model's fingerprint hashed its whole transformers config, whose
``_name_or_path`` is the folder as the caller spelled it and whose ``transformers_version`` is
the version installed now: a gallery enrolled with the default model was refused (the CLI said
"since retrained or replaced") after the venv moved, the same folder was given as a relative
path or a copy, or transformers was upgraded. It now hashes what decides the embeddings (the
weights, the transformer's own settings, the tokenizer, pooling, window); galleries recorded
under the former formula still open where that formula gives their fingerprint today."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from _tiny_bert import save_tiny_bert
from siamkit import model_fingerprint
from siamkit.applications.text import TextSiameseNetwork
from siamkit.index import Gallery
from siamkit.index.results import GalleryMismatchError

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("fp") / "bert", layers=1)


def _enroll(path: Path, net: TextSiameseNetwork) -> None:
    with Gallery.open(path, net) as g:
        g.enroll("guitar", ["A man is playing guitar."])
        g.enroll("sink", ["The sink is leaking."])


def _identifies(path: Path, net: TextSiameseNetwork) -> str | None:
    with Gallery.open(path, net, threshold=2.0) as g:
        return g.identify(["A man plays the guitar."]).label


def _former_formula(net: TextSiameseNetwork) -> str:
    """The fingerprint as model_fingerprint computed it before (a naive copy of its loop): the
    whole config (transformer dict as transformers gives it now), then each tensor's bytes."""
    cfg = {k: v for k, v in net.config().items() if k != "tokenizer_sha256"}
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_a_copied_folder_and_a_relative_path_give_the_same_fingerprint(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = TextSiameseNetwork.pretrained(bert)
    _enroll(tmp_path / "g.db", net)
    copy = shutil.copytree(bert, tmp_path / "copy")
    monkeypatch.chdir(tmp_path)
    for other in (copy, Path("copy"), Path("copy/../copy")):
        moved = TextSiameseNetwork.pretrained(other)
        assert model_fingerprint(moved) == model_fingerprint(net), other
        assert _identifies(tmp_path / "g.db", moved) == "guitar"


def test_another_transformers_version_gives_the_same_fingerprint(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config written by another transformers, read by another (what an upgrade does: its
    config's to_dict writes the version installed)."""
    import transformers.configuration_utils as cu

    net = TextSiameseNetwork.pretrained(bert)
    _enroll(tmp_path / "g.db", net)
    copy = shutil.copytree(bert, tmp_path / "copy")
    doc = json.loads((copy / "config.json").read_text())
    doc["transformers_version"] = "4.40.0"
    (copy / "config.json").write_text(json.dumps(doc))
    monkeypatch.setattr(cu, "__version__", "9.1.0")
    later = TextSiameseNetwork.pretrained(copy)
    assert later.config()["transformer"]["transformers_version"] == "9.1.0"  # it did move
    assert model_fingerprint(later) == model_fingerprint(net)
    assert _identifies(tmp_path / "g.db", later) == "guitar"


def test_a_saved_bundle_keeps_the_folders_fingerprint(bert: Path, tmp_path: Path) -> None:
    import siamkit

    net = TextSiameseNetwork.pretrained(bert)
    folder = siamkit.save_model(net, tmp_path / "model")
    assert model_fingerprint(siamkit.load_model(folder)) == model_fingerprint(net)


def test_what_decides_the_embeddings_still_moves_the_fingerprint(
    bert: Path, tmp_path: Path
) -> None:
    """Weights, the tokenizer (its lower-casing off: other tokens), pooling and window."""
    base = model_fingerprint(TextSiameseNetwork.pretrained(bert))
    other_weights = save_tiny_bert(tmp_path / "other", layers=1, seed=1)
    cased = shutil.copytree(bert, tmp_path / "cased")
    doc = json.loads((cased / "tokenizer_config.json").read_text())
    doc["do_lower_case"] = False  # the same vocabulary: Hello and WORLD read as [UNK] now
    (cased / "tokenizer_config.json").write_text(json.dumps(doc))
    cls = TextSiameseNetwork.pretrained(bert)
    cls.encoder.pooling = "cls"
    prints = [
        model_fingerprint(TextSiameseNetwork.pretrained(other_weights)),
        model_fingerprint(TextSiameseNetwork.pretrained(cased)),
        model_fingerprint(cls),
        model_fingerprint(TextSiameseNetwork.pretrained(bert, max_length=128)),
        model_fingerprint(TextSiameseNetwork.pretrained(bert, overlap=16)),
    ]
    assert len({base, *prints}) == 6


def test_a_gallery_recorded_under_the_former_formula_still_opens(
    bert: Path, tmp_path: Path
) -> None:
    """Its recorded fingerprint is the former formula's (computed here by a naive copy of it);
    another model's former fingerprint is still refused."""
    from siamkit.index import GalleryStore

    net = TextSiameseNetwork.pretrained(bert)
    assert net.former_fingerprints()[0] == _former_formula(net)
    old = tmp_path / "old.db"
    _enroll(old, net)
    with GalleryStore(old, create=False) as store:
        assert store.meta()["model_fingerprint"] == model_fingerprint(net)
        store.set_meta("model_fingerprint", _former_formula(net))
    assert _identifies(old, net) == "guitar"
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "other", layers=1, seed=1))
    with GalleryStore(old, create=False) as store:
        store.set_meta("model_fingerprint", _former_formula(other))
    with pytest.raises(GalleryMismatchError, match="built by a different model"):
        _identifies(old, net)


def test_a_gallery_enrolled_at_an_eighth_overlap_says_the_overlap_that_opens_it(
    bert: Path, tmp_path: Path
) -> None:
    """A window given under 256 without an overlap got an eighth for a while (128/16), and now
    32 again: such a gallery, opened with the same call, is refused, and the refusal says that
    overlap=16 opens it (checked against the fingerprint it records, either formula); a gallery
    of another model gets no such advice."""
    from siamkit.index import GalleryStore

    eighth = TextSiameseNetwork.pretrained(bert, max_length=128, overlap=16)
    _enroll(tmp_path / "g.db", eighth)
    now = TextSiameseNetwork.pretrained(bert, max_length=128)
    assert now.encoder.overlap == 32
    for recorded in (model_fingerprint(eighth), _former_formula(eighth)):
        with GalleryStore(tmp_path / "g.db", create=False) as store:
            store.set_meta("model_fingerprint", recorded)
        with pytest.raises(GalleryMismatchError) as err:
            _identifies(tmp_path / "g.db", now)
        assert "open it with overlap=16" in str(err.value), err.value
        assert _identifies(tmp_path / "g.db", eighth) == "guitar"  # what the advice says
    other = TextSiameseNetwork.pretrained(
        save_tiny_bert(tmp_path / "other", layers=1, seed=1), max_length=128, overlap=16
    )
    _enroll(tmp_path / "o.db", other)
    with pytest.raises(GalleryMismatchError) as err:
        _identifies(tmp_path / "o.db", now)
    assert "overlap" not in str(err.value)


def test_an_export_recorded_under_the_former_formula_still_runs(bert: Path, tmp_path: Path) -> None:
    """A text export records the fingerprint of the model it was exported from; one exported
    before, with the former formula, is still this model's (another model's is refused)."""
    pytest.importorskip("onnxruntime")
    from siamkit.applications.text.onnx import META_NAME, open_text_runtime
    from siamkit.applications.text.onnx_export import export_text_bundle

    net = TextSiameseNetwork.pretrained(bert)
    export_text_bundle(net, tmp_path / "edge", int8=False)
    meta = json.loads((tmp_path / "edge" / META_NAME).read_text())
    assert meta["fingerprint"] == model_fingerprint(net)
    for recorded, runs in ((_former_formula(net), True), ("0" * 64, False)):
        meta["fingerprint"] = recorded
        (tmp_path / "edge" / META_NAME).write_text(json.dumps(meta))
        if runs:
            assert open_text_runtime(net, tmp_path / "edge", int8=False).fingerprint == recorded
        else:
            with pytest.raises(ValueError, match="exported from another model"):
                open_text_runtime(net, tmp_path / "edge", int8=False)


def test_gallery_check_with_the_model_finds_a_former_fingerprint_sound(
    bert: Path, tmp_path: Path
) -> None:
    """`siamkit gallery check --model` checks what Gallery.open checks: a gallery recorded
    under the former formula opens, so it is no problem; another model's still is."""
    from click.testing import CliRunner

    import siamkit
    from siamkit.cli.main import cli
    from siamkit.index import GalleryStore

    net = TextSiameseNetwork.pretrained(bert)
    model = siamkit.save_model(net, tmp_path / "model")
    _enroll(tmp_path / "g.db", net)
    args = ["gallery", "check", "--model", str(model), str(tmp_path / "g.db"), "--json"]
    for recorded, ok in ((_former_formula(net), True), ("0" * 64, False)):
        with GalleryStore(tmp_path / "g.db", create=False) as store:
            store.set_meta("model_fingerprint", recorded)
        res = CliRunner().invoke(cli, args)
        doc = json.loads(res.stdout)
        assert doc["ok"] is ok, doc["problems"]


def test_a_bundle_saved_under_the_former_formula_exports_and_runs_by_onnx(
    bert: Path, tmp_path: Path
) -> None:
    """A text bundle's siamkit.json records the fingerprint of when it was saved; exported now
    into its onnx/ folder, the export records that one, so ``--runtime onnx`` (which compares
    the two without loading the model) still runs it."""
    pytest.importorskip("onnxruntime")
    import siamkit
    from siamkit.applications.text.onnx_model import load_text_onnx_model

    net = TextSiameseNetwork.pretrained(bert)
    folder = siamkit.save_model(net, tmp_path / "model")
    doc = json.loads((folder / "siamkit.json").read_text())
    doc["fingerprint"] = _former_formula(net)  # as the former main saved it
    (folder / "siamkit.json").write_text(json.dumps(doc))
    siamkit.load_model(folder).export_onnx_folder(folder / "onnx")
    assert load_text_onnx_model(folder).fingerprint == _former_formula(net)


def test_a_former_formula_gallery_that_cannot_be_recognised_is_not_called_retrained(
    bert: Path, tmp_path: Path
) -> None:
    """A gallery enrolled under the former formula with the transformers version and folder
    spelling of then (a venv since moved, transformers since upgraded) records a fingerprint
    that nothing can reproduce now; the CLI said the folder's model was 'since retrained or
    replaced', which it was not. It now says what is known: the fingerprint differs, and
    either the model changed or an earlier siamkit or transformers fingerprinted it."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli
    from siamkit.index import GalleryStore

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "a cat"}\n')
    db = tmp_path / "g.db"
    args = ["--gallery", str(db), "--model", str(bert), "--device", "cpu"]
    res = CliRunner().invoke(cli, ["text", "enroll", str(corpus), *args, "--no-progress"])
    assert res.exit_code == 0, res.output
    net = TextSiameseNetwork.pretrained(bert)
    then = net.config()
    then["transformer"] = {
        **then["transformer"],
        "transformers_version": "4.46.0",
        "_name_or_path": "/old/venv/site-packages/bert",
    }
    old = hashlib.sha256(
        json.dumps(
            {k: v for k, v in then.items() if k != "tokenizer_sha256"}, sort_keys=True
        ).encode()
    )
    for name, tensor in sorted(net.state_dict().items()):
        old.update(name.encode())
        old.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    assert old.hexdigest() not in (model_fingerprint(net), *net.former_fingerprints())
    with GalleryStore(db, create=False) as store:
        store.set_meta("model_fingerprint", old.hexdigest())
    res = CliRunner().invoke(cli, ["text", "identify", *args, "a cat"])
    said = " ".join(res.output.split())
    assert res.exit_code == 1, res.output
    assert "since retrained or replaced" not in said
    assert (
        f"{db} records a fingerprint that the model in {bert.resolve()}, which enrolled it, "
        "does not give now: the model there was retrained or replaced since, or the gallery was enrolled "
        "under an earlier siamkit or transformers that fingerprinted it otherwise; its texts "
        "cannot be compared with another model's, so enroll them again into a new gallery file "
        "with this model, or open it with the model that enrolled them (restored from a copy, "
        "or under the siamkit and transformers that enrolled them)."
    ) in said


# PretrainedConfig()'s defaults under transformers 4.46.3 that a BERT's to_dict() holds there
# (5.x moved is_decoder, add_cross_attention, tie_word_embeddings and the bos/eos ids into each
# model's config and dropped the rest); 4.x's BERT also holds position_embedding_type
_FOUR_DEFAULTS = {
    "add_cross_attention": False,
    "is_decoder": False,
    "tie_word_embeddings": True,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
    "sep_token_id": None,
    "chunk_size_feed_forward": 0,
    "is_encoder_decoder": False,
    "max_length": 20,
    "num_beams": 1,
    "temperature": 1.0,
    "top_k": 50,
    "pruned_heads": {},
    "tie_encoder_decoder": False,
    "torchscript": False,
    "use_bfloat16": False,
    "tokenizer_class": None,
    "task_specific_params": None,
}


def _first_placeless(net: TextSiameseNetwork) -> str:
    """The fingerprint as 9d52db86 hashed it (a naive copy): the config, its transformer
    without the place keys and the keys at the installed PretrainedConfig()'s defaults."""
    import transformers

    cfg = net.config()
    generic = transformers.PretrainedConfig().to_dict()
    place = {"_name_or_path", "transformers_version", "architectures", "dtype", "use_cache"}
    place |= {"initializer_range", "id2label", "label2id", "problem_type", "torch_dtype"}
    cfg["transformer"] = {
        k: v
        for k, v in cfg["transformer"].items()
        if k == "model_type" or (k not in place and not (k in generic and generic[k] == v))
    }
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_the_fingerprint_does_not_follow_the_installed_transformers_defaults(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It left out the config keys at the installed PretrainedConfig()'s defaults, so the same
    folder was fingerprinted 4e36919f0b00 under transformers 4.46.3 and 2e133ba0c526 under
    5.25.0 (5.x moved is_decoder & co. out of the generic defaults into BERT's own config, and
    dropped BERT's position_embedding_type), and a later transformers that changed a default
    would move every fingerprint. Simulated here: 4.x's defaults and 4.x's BERT config, and a
    changed default; the fingerprint stays. A gallery recorded under the former formula still
    opens, and another model's is still refused."""
    import transformers

    from siamkit.index import GalleryStore
    from siamkit.models.fingerprint import fingerprint_of

    net = TextSiameseNetwork.pretrained(bert)
    now, weights = model_fingerprint(net), net.state_dict()
    first = _first_placeless(net)
    assert first != now  # the formula moved once more, ...
    db = tmp_path / "g.db"
    _enroll(db, net)
    with GalleryStore(db, create=False) as store:
        store.set_meta("model_fingerprint", first)
    assert _identifies(db, net) == "guitar"  # ... and its galleries open
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "other", layers=1, seed=1))
    with GalleryStore(db, create=False) as store:
        store.set_meta("model_fingerprint", _first_placeless(other))
    with pytest.raises(GalleryMismatchError, match="built by a different model"):
        _identifies(db, net)

    class Four(transformers.PretrainedConfig):  # PretrainedConfig() as 4.46.3 gives it
        def to_dict(self) -> dict[str, object]:
            return {**super().to_dict(), **_FOUR_DEFAULTS}

    monkeypatch.setattr(transformers, "PretrainedConfig", Four)
    cfg = net.config()
    cfg["transformer"] = {  # as 4.x's BERT gives it: its own pad_token_id, 0, kept
        **{k: v for k, v in _FOUR_DEFAULTS.items() if k != "pad_token_id"},
        **cfg["transformer"],
        "position_embedding_type": "absolute",
        "transformers_version": "4.46.3",
    }
    assert fingerprint_of(TextSiameseNetwork.fingerprint_description(cfg), weights) == now

    class Later(transformers.PretrainedConfig):  # a later transformers changes two defaults
        def to_dict(self) -> dict[str, object]:
            return {**super().to_dict(), "chunk_size_feed_forward": 1, "is_decoder": True}

    monkeypatch.setattr(transformers, "PretrainedConfig", Later)
    assert model_fingerprint(net) == now
