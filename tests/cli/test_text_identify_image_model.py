"""`siamkit text identify QUERY --gallery missing.db --model IMAGE_MODEL` (and `text verify`)
advised "enroll texts into it first with `siamkit text enroll CORPUS --gallery missing.db --model
IMAGE_MODEL`", which `text enroll` then refused: the model is not a text model (s57_mfb, noticed;
the generic-text twin of this was s57_FB Q5). They now refuse the model first, with the sentence
`text enroll` gives, read from its siamkit.json alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.models import Preprocess, SiameseNetwork


def test_text_identify_and_verify_refuse_an_image_model_as_text_enroll_does(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    net = SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 12, 12)))
    model = str(siamkit.save_model(net.eval(), tmp_path / "img"))
    corpus = tmp_path / "c.txt"
    corpus.write_text("a text\n", encoding="utf-8")
    missing = str(tmp_path / "none.db")
    runner = CliRunner()
    enrolled = runner.invoke(
        cli, ["text", "enroll", str(corpus), "--gallery", missing, "--model", model]
    )
    assert enrolled.exit_code != 0 and not Path(missing).exists(), enrolled.output
    said = enrolled.output.strip()
    assert said.endswith("not a text model"), said
    # the refusal is read from siamkit.json alone: without the weights it is the same sentence
    (tmp_path / "img" / "model.safetensors").unlink()
    for args in (
        ["text", "identify", "hello", "--gallery", missing, "--model", model],
        ["text", "verify", "hi", "--label", "a", "--gallery", missing, "--model", model],
    ):
        res = runner.invoke(cli, args)
        assert res.exit_code != 0, res.output
        assert res.output.strip() == said, res.output
        assert "enroll texts into it first" not in res.output
    assert not Path(missing).exists()


@pytest.mark.parametrize("kind", ["empty folder", "text export"])
def test_text_identify_and_verify_refuse_a_folder_text_enroll_refuses(
    tmp_path: Path, kind: str
) -> None:
    """A folder without siamkit.json (an empty one, a model's ONNX export MODEL/onnx) got the
    advice to `text enroll --model` it, which `text enroll` refused (s58 FB Q2)."""
    from siamkit.export.sidecar import TEXT_EXPORT_META

    folder = tmp_path / "empty"
    folder.mkdir()
    if kind == "text export":
        (folder / "siamkit.json").write_text("{}")
        folder = folder / "onnx"
        (folder / "tokenizer").mkdir(parents=True)
        (folder / "tokenizer" / "tokenizer.json").write_text("{}")
        (folder / TEXT_EXPORT_META).write_text("{}")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a text\n", encoding="utf-8")
    missing = str(tmp_path / "none.db")
    runner = CliRunner()
    enroll = ["text", "enroll", str(corpus), "--gallery", missing, "--model", str(folder)]
    enrolled = runner.invoke(cli, enroll)
    assert enrolled.exit_code != 0 and not Path(missing).exists(), enrolled.output
    said = enrolled.output.strip()
    assert said.startswith(f"Error: {folder} is "), said
    for args in (
        ["text", "identify", "hello", "--gallery", missing, "--model", str(folder)],
        ["text", "verify", "hi", "--label", "a", "--gallery", missing, "--model", str(folder)],
    ):
        res = runner.invoke(cli, args)
        assert res.exit_code != 0, res.output
        assert res.output.strip() == said, res.output
    assert not Path(missing).exists()


def test_a_folder_text_enroll_would_load_still_gets_the_enroll_advice(tmp_path: Path) -> None:
    """The control: a Hugging Face folder's files all there, no gallery yet: the advice stands."""
    folder = tmp_path / "hf"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (folder / name).write_text("{}")
    missing = str(tmp_path / "none.db")
    res = CliRunner().invoke(
        cli, ["text", "identify", "hello", "--gallery", missing, "--model", str(folder)]
    )
    assert res.exit_code != 0
    assert res.output.strip() == (
        f"Error: no gallery at {missing}: enroll texts into it first with `siamkit text enroll "
        f"CORPUS --gallery {missing} --model {folder}`"
    ), res.output
