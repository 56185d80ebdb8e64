"""A sentence-transformers folder in the older layout (modules.json naming 0_Transformer/ and
1_Pooling/) as a text model: it loads as the flat layout does, with the pooling it names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.applications.text import load_text_model
from siamkit.encoders import create_encoder
from siamkit.encoders.text import default_text_model_path, is_pretrained_text_folder

TEXTS = ["A man is playing guitar.", "Someone plays a guitar.", "The bank raised rates."]
_MODULES = [
    ("Transformer", "0_Transformer"),
    ("Pooling", "1_Pooling"),
    ("Normalize", "2_Normalize"),
]
_POOLING_KEYS = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")


def _older_layout(flat: Path, dest: Path, pooling: str = "mean_tokens") -> Path:
    """``flat`` (a Hugging Face folder) re-laid out as sentence-transformers' older folders:
    the transformer's files in 0_Transformer/, the pooling's config in 1_Pooling/ (the mode
    ``pooling`` on), 2_Normalize/, and modules.json naming them; nothing of the model at the top."""
    inner = dest / "0_Transformer"
    inner.mkdir(parents=True)
    for f in flat.iterdir():
        if f.is_file() and f.name not in ("modules.json", "README.md"):
            target = inner / f.name
            if f.suffix == ".safetensors":  # the weights are large: a link is the same file
                target.symlink_to(f.resolve())
            else:
                shutil.copy(f, target)
    (dest / "1_Pooling").mkdir()
    width = json.loads((flat / "config.json").read_text())["hidden_size"]
    pool = {f"pooling_mode_{k}": k == pooling for k in _POOLING_KEYS}
    (dest / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": width, **pool})
    )
    (dest / "2_Normalize").mkdir()
    modules = [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (kind, path) in enumerate(_MODULES)
    ]
    (dest / "modules.json").write_text(json.dumps(modules))
    assert not (dest / "config.json").exists()
    return dest


def test_the_older_layout_embeds_as_the_flat_one(text_model, tmp_path) -> None:
    """A folder with 0_Transformer/ (modules.json pointing to it) was refused as having no
    config.json, tokenizer or weights, though issue 16 says any local Hugging Face folder works;
    it now loads, as --model and as model.encoder_kwargs' path, embedding as the flat layout."""
    old = _older_layout(default_text_model_path(), tmp_path / "minilm-old")
    assert is_pretrained_text_folder(old)
    want = text_model.embed(TEXTS)
    torch.testing.assert_close(load_text_model(old).embed(TEXTS), want, atol=1e-6, rtol=0)
    enc = create_encoder("text", path=str(old))  # model.encoder_kwargs: {path: ...}
    with torch.no_grad():
        got = torch.nn.functional.normalize(enc.encode_texts(TEXTS), dim=1)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    from siamkit.cli.main import cli

    res = CliRunner().invoke(
        cli, ["text", "similarity", *TEXTS[:2], "--model", str(old), "--json", "--device", "cpu"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["similarity"] == pytest.approx(float(want[0] @ want[1]), abs=1e-5)


def test_cls_pooling_is_honoured_and_kept_by_a_saved_model(tiny_hf, tmp_path) -> None:
    """1_Pooling's CLS mode: each text is its CLS token's vector, normalised (not the mean of
    its tokens), and a saved model and its ONNX export pool the same way."""
    old = _older_layout(tiny_hf, tmp_path / "tiny-cls", pooling="cls_token")
    model = load_text_model(old)
    tok = model.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model.encoder.transformer(**tok).last_hidden_state  # (N, L, F)
    want = torch.nn.functional.normalize(h[:, 0], dim=1)
    torch.testing.assert_close(model.embed(TEXTS), want, atol=1e-5, rtol=0)
    back = siamkit.load_model(siamkit.save_model(model, tmp_path / "saved"))
    torch.testing.assert_close(back.embed(TEXTS), want, atol=1e-5, rtol=0)
    pytest.importorskip("onnxruntime")
    from siamkit.applications.text.onnx_export import export_text_bundle

    (row,) = export_text_bundle(back, tmp_path / "edge")  # refused below cosine 0.9999
    assert row.min_cosine > 0.9999


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            lambda d: _older_layout(d[0], d[1], pooling="max_tokens"),
            "1_Pooling/config.json pools the token vectors by max; siamkit pools by the mean or "
            "the CLS token only, so use a model whose pooling is one of those",
        ),
        (
            lambda d: _with_dense(_older_layout(d[0], d[1])),
            "modules.json lists the modules Transformer, Pooling, Normalize, Dense; siamkit runs "
            "one Transformer, then a Pooling and a Normalize module, so use a model made of "
            "those only",
        ),
    ],
)
def test_a_folder_siamkit_would_embed_otherwise_is_refused_in_one_sentence(
    tiny_hf, tmp_path, change, said
) -> None:
    folder = change((tiny_hf, tmp_path / "m"))
    with pytest.raises(ValueError) as err:
        load_text_model(folder)
    assert str(err.value).endswith(said), err.value
    assert "\n" not in str(err.value)


def _with_dense(folder: Path) -> Path:
    modules = json.loads((folder / "modules.json").read_text())
    modules.append(
        {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def test_a_folder_saved_by_sentence_transformers_embeds_as_it_encodes(tmp_path) -> None:
    """sentence-transformers 6 saves its Pooling config as {"pooling_mode": "mean"}, not as
    pooling_mode_*_tokens flags: such a folder was refused as pooling by no mode siamkit knows.
    It now loads and embeds as sentence-transformers' own encode of it."""
    st = pytest.importorskip("sentence_transformers")
    ref = st.SentenceTransformer(str(default_text_model_path()), device="cpu")
    ref.save(str(tmp_path / "saved"))
    pool = json.loads((tmp_path / "saved" / "1_Pooling" / "config.json").read_text())
    if "pooling_mode" not in pool:  # an older sentence-transformers writes the flags
        pytest.skip("this sentence-transformers saves pooling_mode_*_tokens flags")
    got = load_text_model(tmp_path / "saved").embed(TEXTS)
    want = torch.from_numpy(ref.encode(TEXTS, normalize_embeddings=True))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("mode", "pooled"),
    [("cls", "cls"), (["cls"], "cls"), ("mean", "mean"), (["mean", "max"], None)],
)
def test_the_pooling_mode_key_is_read(tiny_hf, tmp_path, mode, pooled) -> None:
    """sentence-transformers 6's one key: a mode, or a list of them (one siamkit runs, or
    refused naming them all)."""
    folder = _older_layout(tiny_hf, tmp_path / "m")
    width = json.loads((tiny_hf / "config.json").read_text())["hidden_size"]
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"embedding_dimension": width, "pooling_mode": mode, "include_prompt": True})
    )
    if pooled is None:
        with pytest.raises(ValueError, match="pools the token vectors by mean and max; siamkit"):
            load_text_model(folder)
        return
    assert load_text_model(folder).encoder.pooling == pooled
