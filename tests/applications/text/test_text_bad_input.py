"""The issue's bad-input list for text, where the other test files leave it open: texts that are
empty to the tokenizer but not to ``str.strip`` (zero-width, control characters), JSON escapes
that are not Unicode (lone surrogates), a text model given images and an image model given text.
Each is one sentence and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import siamkit
from siamkit.applications.text.corpus import read_corpus
from siamkit.applications.text.text_checks import is_blank, unicode_problem
from siamkit.cli.main import cli

INVISIBLE = ["\u200b\u200b", "\x00", "\ufeff", " \u2060\t"]  # zero-width, NUL, BOM, word joiner


def test_blank_is_what_the_tokenizer_sees_as_no_token(text_model) -> None:
    tok = text_model.tokenizer  # the reference: texts it turns into no token at all
    for t in INVISIBLE:
        assert tok(t, add_special_tokens=False)["input_ids"] == [], repr(t)
        assert is_blank(t) and t.strip()  # str.strip alone let these through
    for t in ("!!!", "\u00e9", "\u4e2d", "a\u200b", "\U0001f600", "42"):
        assert tok(t, add_special_tokens=False)["input_ids"] != [], repr(t)
        assert not is_blank(t)


def test_embed_refuses_invisible_and_lone_surrogate_texts(text_model) -> None:
    for t in INVISIBLE:
        with pytest.raises(ValueError, match=r"^text 1 is empty; every text needs at least one"):
            text_model.embed(["fine", t])
    with pytest.raises(ValueError, match=r"^text 0 is not valid Unicode \(a lone surrogate"):
        text_model.embed(["a\ud800b"])
    assert unicode_problem("a\ud800b") == "a lone surrogate '\\ud800' at character 1"
    assert unicode_problem("caf\u00e9 \U0001f600") is None


def _jsonl(path: Path, rows: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(rows))
    )
    return path


def test_a_corpus_drops_invisible_texts_and_names_a_lone_surrogate_line(tmp_path) -> None:
    docs = read_corpus(_jsonl(tmp_path / "c.jsonl", ["one text", "\u200b", "two", "\x00"]))
    assert [d.id for d in docs] == ["t0", "t2"]
    bad = _jsonl(tmp_path / "bad.jsonl", ["fine", "also fine", "x\udc80y"])
    assert "\\udc80" in bad.read_text()  # json.dumps escaped it: the file itself is valid UTF-8
    with pytest.raises(ValueError, match=r"bad\.jsonl line 3: the text is not valid Unicode"):
        read_corpus(bad)


@pytest.fixture
def run(text_model, monkeypatch):  # type: ignore[no-untyped-def]
    from siamkit.cli import _text_common

    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: text_model)
    return lambda *args: CliRunner().invoke(cli, ["text", *args])


def test_dedup_and_enroll_of_a_lone_surrogate_write_nothing(run, tmp_path) -> None:
    corpus = _jsonl(tmp_path / "c.jsonl", ["fine", "x\ud800y"])
    out, db = tmp_path / "groups.jsonl", tmp_path / "g.db"
    for res in (
        run("dedup", str(corpus), "--out", str(out)),
        run("enroll", str(corpus), "--gallery", str(db)),
        run("similarity", "fine", "x\ud800y"),
    ):
        assert res.exit_code == 1 and "not valid Unicode (a lone surrogate" in res.output
        assert res.output.count("\n") == 1 and "Traceback" not in res.output
    assert not out.exists() and not db.exists()


def _image_bundle(tmp_path: Path) -> Path:
    import torch

    from siamkit.encoders import create_encoder

    torch.manual_seed(0)
    net = siamkit.SiameseNetwork(
        create_encoder("convnet", in_channels=1, widths=(4, 8)),
        embedding_dim=4,
        preprocess=siamkit.Preprocess(input_shape=(1, 28, 28)),
    )
    return Path(siamkit.save_model(net, tmp_path / "image-model"))


def _png(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype("uint8")).save(path)
    return path


@pytest.fixture(scope="module")
def text_bundle(text_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("t") / "text-model"
    threshold = text_model.threshold
    try:
        return Path(siamkit.save_model(text_model, folder, threshold=0.3))
    finally:
        text_model.threshold = threshold  # save_model sets it on the shared model


def test_a_text_model_given_images_says_it_is_a_text_model(text_bundle, tmp_path) -> None:
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    db = tmp_path / "g.db"
    for args in (
        ["verify", str(text_bundle), str(a), str(b)],
        ["enroll", str(text_bundle), str(a), "--gallery", str(db), "--label", "x"],
        ["identify", str(text_bundle), str(a), "--gallery", str(db)],
    ):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1, (args, res.output)
        assert "is a text model: it embeds texts, not images" in res.output, res.output
        assert res.output.count("\n") == 1
    assert not db.exists()


def test_an_image_model_given_text_says_it_is_not_a_text_model(tmp_path) -> None:
    bundle = _image_bundle(tmp_path)
    corpus, out = _jsonl(tmp_path / "c.jsonl", ["a text"]), tmp_path / "o.jsonl"
    for args in (
        ["similarity", "a", "b", "--model", str(bundle)],
        ["dedup", str(corpus), "--out", str(out), "--model", str(bundle)],
        ["enroll", str(corpus), "--gallery", str(tmp_path / "g.db"), "--model", str(bundle)],
    ):
        res = CliRunner().invoke(cli, ["text", *args])
        assert (
            res.exit_code == 1
            and "(SiameseNetwork, kind 'siamese'), not a text model" in res.output
            and "expect=" not in res.output
        )
        assert res.output.count("\n") == 1
    assert not out.exists() and not (tmp_path / "g.db").exists()


def test_torchrun_is_refused_before_anything_is_written(tmp_path, monkeypatch) -> None:
    # text fine-tuning runs in one process: under torchrun every process trained the whole run
    # alone and wrote the same checkpoint and model
    from siamkit.training.tasks import TaskOptions, get_task

    monkeypatch.setenv("WORLD_SIZE", "2")
    data = tmp_path / "pairs.csv"
    data.write_text("a,b,label\nx,y,1\nu,v,0\n")
    config = {"data": {"train": str(data)}, "loss": {"name": "contrastive"}}
    with pytest.raises(ValueError, match="task text trains in one process: run `siamkit train`"):
        get_task("text")(config, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("fmt", "loss", "match"),
    [
        ("pairs", {"name": "angle", "scale": 0}, r"loss.scale must be positive for loss angle"),
        ("pairs", {"name": "cosent", "scale": -20}, r"loss.scale must be positive for loss cosent"),
        (
            "pairs",
            {"name": "online_contrastive", "margin": -0.5},
            r"loss.margin must be at least 0 for loss online_contrastive",
        ),
        (
            "pairs",
            {"name": "matryoshka", "base": "angle", "dims": [8, 4], "scale": 0},
            r"loss.scale must be positive for loss angle",
        ),
        ("triplets", {"name": "triplet", "margin": -0.1}, r"loss.margin must be at least 0"),
    ],
)
def test_a_text_loss_scale_or_margin_that_cannot_train_is_refused(fmt, loss, match) -> None:
    """A scale of 0 (no gradient), a negative scale (pairs ranked backwards) or a negative margin
    (negatives never pushed apart) trained without a word; the config now names it."""
    from siamkit.applications.text.train_config import parse_config

    with pytest.raises(ValueError, match=match):
        parse_config({"data": {"train": "x.csv", "format": fmt}, "loss": loss})
    # the key a loss does not use is not checked: mnrl has no margin, contrastive no scale
    parse_config(
        {"data": {"train": "x.csv", "format": "pairs"}, "loss": {"name": "contrastive", "scale": 0}}
    )


def test_dedup_of_a_plain_text_file_is_refused_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a plain text file of one document per line (gensim's lee_background.cor) is read as one
    # text: dedup embedded its 2,687 sentences (--by passages, 85 s) to say '1 texts: 0
    # duplicate group(s)'
    from siamkit.cli import _text_common

    def no_model(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(_text_common, "_model", no_model)
    lines = tmp_path / "lee.cor"
    lines.write_text("The first document.\nThe second document.\n")
    out = tmp_path / "groups.jsonl"
    said = f"Error: {lines} is one text (a file other than .jsonl or .csv is read as one text, "
    for by in ("documents", "passages"):
        res = CliRunner().invoke(cli, ["text", "dedup", str(lines), "--out", str(out), "--by", by])
        assert res.exit_code != 0 and said in res.output, res.output
        assert not out.exists()
    one = tmp_path / "one.jsonl"  # a corpus of one text: taken (a batch may be small)
    one.write_text(json.dumps({"id": "a", "text": "one text"}) + "\n")
    res = CliRunner().invoke(cli, ["text", "dedup", str(one), "--out", str(out)])
    assert str(res.exception) == "the model was loaded", res.output
