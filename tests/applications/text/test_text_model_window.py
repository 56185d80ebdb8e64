"""A text model's default window is the least of 256 tokens and the model's own limit, as
sentence-transformers reads it (sentence_bert_config.json's max_seq_length, else the tokenizer's
limit, capped at the position table): a model of 128 positions was refused unless told a window,
and one trained at 64 embedded 256 tokens at once, unlike sentence-transformers' own encode of
it. Not the model's own where that is more (ead28caa made it so): every gallery, bundle and
checkpoint was made at 256, and a gallery's fingerprint holds the window, so all-mpnet-base-v2's
384 refused every gallery enrolled with it; a larger window is set explicitly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from _tiny_bert import TOKENIZER_FILES
from siamkit.applications.text import TextSiameseNetwork
from siamkit.encoders.text import default_text_model_path

st = pytest.importorskip("sentence_transformers")


def _bert(folder: Path, positions: int, max_seq_length: int | None = None) -> Path:
    """A one-layer BERT of ``positions`` positions with MiniLM's tokenizer; a
    sentence-transformers folder (modules.json, mean pooling) whose sentence_bert_config.json
    says ``max_seq_length`` when given."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=positions,
    )
    BertModel(config).save_pretrained(str(folder))
    for name in TOKENIZER_FILES:
        shutil.copy(default_text_model_path() / name, folder / name)
    if max_seq_length is not None:
        (folder / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
        )
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
        ]
        (folder / "modules.json").write_text(json.dumps(modules))
        (folder / "1_Pooling").mkdir()
        (folder / "1_Pooling" / "config.json").write_text(
            json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
        )
    return folder


@pytest.mark.parametrize(
    ("positions", "max_seq_length"),
    [(128, None), (512, None), (512, 64), (128, 1000), (512, 384)],
)
def test_the_window_is_256_or_the_position_tables_limit_where_less(
    tmp_path, positions, max_seq_length
) -> None:
    """Never past the position table (where a window fails or wraps), and 256 wherever the
    positions allow it, whatever sentence-transformers' max_seq_length (galleries enrolled at
    256 hold that window in their model fingerprint)."""
    folder = _bert(tmp_path / "m", positions, max_seq_length)
    model = TextSiameseNetwork.pretrained(folder)
    ref = st.SentenceTransformer(str(folder), device="cpu")
    assert model.max_length == min(256, positions)
    assert model.overlap == min(32, model.max_length // 8)
    text = " ".join(f"word{i}" for i in range(400))  # past every window here
    windows, _ = model.encoder.chunk([text])
    assert len(windows) > 1 and max(len(w) for w in windows) == model.max_length
    model.embed([text])  # runs: no window past the positions
    fits = " ".join(f"word{i}" for i in range(10))  # within every window: one pass, as ST
    want = torch.from_numpy(ref.encode([fits], normalize_embeddings=True))
    torch.testing.assert_close(model.embed([fits]), want, atol=1e-5, rtol=0)


def test_a_window_given_is_kept_and_the_default_models_stays_256(tmp_path) -> None:
    folder = _bert(tmp_path / "m", 512, 64)
    assert TextSiameseNetwork.pretrained(folder, max_length=100, overlap=8).max_length == 100
    assert TextSiameseNetwork.pretrained().max_length == 256  # its sentence_bert_config's
    own = TextSiameseNetwork.pretrained(folder)  # 256 whatever max_seq_length says
    assert (own.max_length, own.overlap) == (256, 32)
    # past 256, up to the model's limit, when given
    wide = TextSiameseNetwork.pretrained(_bert(tmp_path / "w", 512, 384), max_length=384)
    assert (wide.max_length, wide.overlap) == (384, 32)
    small = TextSiameseNetwork.pretrained(folder, max_length=64)  # the overlap's one rule
    assert (small.max_length, small.overlap) == (64, 8)


@pytest.mark.parametrize(("positions", "max_seq_length"), [(512, None), (512, 384)])
def test_a_model_whose_own_limit_is_past_256_keeps_the_fingerprint_of_its_old_galleries(
    tmp_path, positions, max_seq_length
) -> None:
    """A gallery enrolled before ead28caa holds the fingerprint of the model at 256/32; at its
    own window (384 for all-mpnet-base-v2, 512 for a plain folder) every such gallery was refused
    as 'enrolled with an earlier model ... since retrained or replaced'."""
    from siamkit import model_fingerprint

    folder = _bert(tmp_path / "m", positions, max_seq_length)
    enrolled = TextSiameseNetwork.pretrained(folder, max_length=256, overlap=32)
    assert model_fingerprint(TextSiameseNetwork.pretrained(folder)) == model_fingerprint(enrolled)


@pytest.mark.parametrize("window", [128, 100, 66])
def test_a_gallery_enrolled_from_python_at_a_window_given_opens_with_the_same_call(
    tmp_path, window
) -> None:
    """``pretrained(max_length=128)`` ran at 128/32 until the overlap followed the window (71a83b0f)
    and then at 128/16: a new fingerprint, so a gallery enrolled with that call was refused as
    another model's. A window given keeps 32 wherever it takes it (over 64 tokens)."""
    from siamkit import model_fingerprint
    from siamkit.index import Gallery
    from siamkit.index.results import GalleryMismatchError

    folder = _bert(tmp_path / "m", 512)
    before = TextSiameseNetwork.pretrained(folder, max_length=window, overlap=32)  # as it was
    db = tmp_path / "g.db"
    with Gallery.open(db, before, threshold=0.5) as g:
        g.enroll("guitar", ["A man is playing guitar."])
    now = TextSiameseNetwork.pretrained(folder, max_length=window)
    assert (now.max_length, now.overlap) == (window, 32)
    assert model_fingerprint(now) == model_fingerprint(before)
    with Gallery.open(db, now, threshold=0.5, create=False) as g:
        assert g.identify("A man is playing guitar.").label == "guitar"
    other = TextSiameseNetwork.pretrained(folder, max_length=window, overlap=16)
    with pytest.raises(GalleryMismatchError), Gallery.open(db, other, create=False) as g:
        g.identify("A man is playing guitar.")  # the check itself still refuses another window


def test_a_text_encoder_built_without_a_window_takes_the_default_rule(tmp_path) -> None:
    """``TextEncoder``'s own defaults were the literals 256/32: one built directly on a
    128-position transformer was refused ('max_length must lie in [8, 128]') where
    ``pretrained`` runs it at 128/16 (default_window, default_overlap)."""
    from transformers import AutoModel, AutoTokenizer

    from siamkit.encoders.text import TextEncoder

    for positions, window in [(128, (128, 16)), (512, (256, 32))]:
        folder = _bert(tmp_path / str(positions), positions)
        enc = TextEncoder(AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder))
        assert (enc.max_length, enc.overlap) == window
        net = TextSiameseNetwork.pretrained(folder)
        assert (net.max_length, net.overlap) == window
    given = TextEncoder(
        AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder), 128
    )
    assert (given.max_length, given.overlap) == (128, 32)  # as pretrained(max_length=128)


@pytest.mark.parametrize(
    ("positions", "max_seq_length", "window"), [(128, None, (128, 16)), (512, 384, (256, 32))]
)
def test_create_encoder_takes_the_window_pretrained_takes(
    tmp_path, positions, max_seq_length, window
) -> None:
    """``create_encoder("text", path=...)`` ran every model at 256/32: a model of 128 positions
    was refused ('max_length must lie in [8, 128]'), and it disagreed with ``pretrained``."""
    from siamkit.encoders import create_encoder

    folder = _bert(tmp_path / "m", positions, max_seq_length)
    enc = create_encoder("text", path=str(folder))
    assert (enc.max_length, enc.overlap) == window
    net = TextSiameseNetwork.pretrained(folder)
    assert (net.encoder.max_length, net.encoder.overlap) == window


def test_training_without_model_max_length_keeps_the_start_models_window(tmp_path) -> None:
    from siamkit.applications.text.train_config import ModelSection
    from siamkit.applications.text.train_resume import _setup

    folder = _bert(tmp_path / "m", 128)
    cfg = type("Cfg", (), {})()
    cfg.model = ModelSection(path=str(folder))
    cfg.train = type("Train", (), {"gradient_checkpointing": False})()
    assert _setup(cfg, torch.device("cpu")).max_length == 128  # was refused: 256 > 128


def _setup_of(folder: Path, **model: int):
    from siamkit.applications.text.train_config import ModelSection
    from siamkit.applications.text.train_resume import _setup

    cfg = type("Cfg", (), {})()
    cfg.model = ModelSection(path=str(folder), **model)
    cfg.train = type("Train", (), {"gradient_checkpointing": False})()
    return _setup(cfg, torch.device("cpu"))


@pytest.mark.parametrize(("positions", "max_seq_length", "window"),
                         [(128, None, (128, 16)), (512, 64, (256, 32)), (512, None, (256, 32))])  # fmt: skip
def test_training_takes_the_window_and_overlap_the_text_commands_run_the_model_at(
    tmp_path, positions, max_seq_length, window
) -> None:
    """A run without model.max_length and model.overlap took 32 whatever the window: refused at
    a model's own 64 ('overlap lies in [0, 31] ...', naming no key the user had set), and a
    128-position model trained at 128/32 where the text commands run it at 128/16."""
    folder = _bert(tmp_path / "m", positions, max_seq_length)
    model = _setup_of(folder)
    assert (model.encoder.max_length, model.encoder.overlap) == window
    pretrained = TextSiameseNetwork.pretrained(folder)
    assert (pretrained.encoder.max_length, pretrained.encoder.overlap) == window
    given = _setup_of(folder, max_length=48)  # a window given: its overlap by the same rule
    assert (given.encoder.max_length, given.encoder.overlap) == (48, 6)


def test_a_window_the_model_cannot_take_is_refused_naming_the_config_key(tmp_path) -> None:
    folder = _bert(tmp_path / "m", 128)
    with pytest.raises(ValueError, match=r"^model\.max_length must lie in \[8, 128\]") as err:
        _setup_of(folder, max_length=256)
    assert "set model.max_length within that, or leave it out" in str(err.value)
    with pytest.raises(ValueError, match=r"^model\.overlap lies in \[0, 31\]") as err:
        _setup_of(_bert(tmp_path / "s", 512), max_length=64, overlap=32)
    assert "set model.overlap within that, or leave it out" in str(err.value)


def test_an_overlap_refused_says_what_leaving_it_out_gives_with_that_window(tmp_path) -> None:
    """The sentence said 'leave it out for the default (32, or an eighth of a window under 256
    tokens)' whatever the window: with a 128-position model's own window leaving it out gives
    16, and with a window of 128 given, 32."""
    folder = _bert(tmp_path / "m", 128)
    with pytest.raises(ValueError, match=r"^model\.overlap lies in \[0, 63\]") as err:
        _setup_of(folder, overlap=64)
    assert str(err.value).endswith("leave it out for the default (16 with this window)")
    with pytest.raises(ValueError, match=r"^model\.overlap lies in \[0, 63\]") as err:
        _setup_of(folder, max_length=128, overlap=64)
    assert str(err.value).endswith("leave it out for the default (32 with this window)")
    assert (_setup_of(folder, max_length=128).encoder.overlap) == 32


def test_a_run_resumed_keeps_the_overlap_its_checkpoint_trained_at(tmp_path) -> None:
    """A run checkpointed while a window given got an eighth (model.max_length 128, overlap left
    out: 128/16) went on at 128/32 once a window given kept 32: the checkpoint's start model holds
    the window the run trained at, and a left-out overlap keeps it."""
    from siamkit.applications.text.train_config import ModelSection
    from siamkit.applications.text.train_resume import _setup, start_files

    folder = _bert(tmp_path / "m", 512)
    then = TextSiameseNetwork.pretrained(folder, max_length=128, overlap=16)
    start = (start_files(then), tmp_path / "start")
    (tmp_path / "start").mkdir()
    cfg = type("Cfg", (), {})()
    cfg.model = ModelSection(path=str(folder), max_length=128)
    cfg.train = type("Train", (), {"gradient_checkpointing": False})()
    resumed = _setup(cfg, torch.device("cpu"), start=start)
    assert (resumed.encoder.max_length, resumed.encoder.overlap) == (128, 16)
    assert (_setup_of(folder, max_length=128).encoder.overlap) == 32  # a new run: 32


def test_the_shipped_text_config_trains_a_128_position_model(tmp_path) -> None:
    """configs/text-pairs.yaml said max_length: 256, so `--set model.path=` a model of 128
    positions was refused after the data was read ('max_length must lie in [8, 128] ...')."""
    import yaml

    from siamkit.applications.text.train_config import parse_config
    from siamkit.applications.text.train_resume import _setup

    shipped = Path(__file__).resolve().parents[3] / "configs" / "text-pairs.yaml"
    doc = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    doc.pop("task")
    folder = _bert(tmp_path / "m", 128)
    cfg = parse_config(doc, (f"model.path={folder}",))
    model = _setup(cfg, torch.device("cpu"))
    assert (model.encoder.max_length, model.encoder.overlap) == (128, 16)
    minilm = _setup(parse_config(doc), torch.device("cpu"))  # MiniLM as before: 256/32
    assert (minilm.encoder.max_length, minilm.encoder.overlap) == (256, 32)


@pytest.mark.parametrize("start_files", [True, False])
def test_a_run_checkpointed_when_the_window_was_always_recorded_resumes_with_the_same_config(
    tiny_hf, pairs_csv, tmp_path, monkeypatch, start_files
) -> None:
    """A checkpoint made before model.max_length could be left out recorded 256 (and overlap
    32); the same config, which leaves both out, now reads them as unset, and the resume was
    refused ('the checkpoint was made with a different config (model.max_length)') though the
    user changed nothing. The run goes on at the checkpoint's window; without the start model's
    files in the checkpoint (older still) too, where the start folder read again could give
    another window."""
    from _text_runs import cut_run, text_config

    from siamkit.applications.text import train as text_train
    from siamkit.applications.text.train_resume import START
    from siamkit.training.tasks import TaskOptions, get_task

    cfg = text_config(pairs_csv, tiny_hf)
    del cfg["model"]["max_length"], cfg["model"]["overlap"]  # as configs/text-pairs.yaml now
    out = tmp_path / "run"
    cut_run(cfg, out, monkeypatch)
    ckpt = out / text_train.CHECKPOINT
    state = torch.load(ckpt, weights_only=False)
    assert state["config"]["model"]["max_length"] is None  # (what this run records)
    state["config"]["model"].update(max_length=256, overlap=32)  # what the config gave then
    if not start_files:
        del state[START]
    torch.save(state, ckpt)
    summary = get_task("text")(cfg, out, TaskOptions(progress=False, resume=True))
    saved = json.loads((summary.model_dir / "siamkit.json").read_text())["model"]
    assert (saved["max_length"], saved["overlap"]) == (256, 32)


def test_a_sentence_bert_config_without_modules_json_is_ignored_as_sentence_transformers_does(
    tmp_path,
) -> None:
    """sentence-transformers loads a folder without modules.json as a plain Hugging Face one and
    ignores its sentence_bert_config.json; siamkit read it (max_seq_length 64: a window of 64
    where sentence-transformers runs 512)."""
    folder = _bert(tmp_path / "m", 512, 64)
    (folder / "modules.json").unlink()
    shutil.rmtree(folder / "1_Pooling")
    ref = st.SentenceTransformer(str(folder), device="cpu")
    assert ref.max_seq_length == 512
    model = TextSiameseNetwork.pretrained(folder)
    assert (model.max_length, model.overlap) == (min(256, ref.max_seq_length), 32)
