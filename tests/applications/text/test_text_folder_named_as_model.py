"""A folder named as a model, ``./all-MiniLM-L6-v2``, is a folder wherever it is given.

``load_text_model("./all-MiniLM-L6-v2")`` went through ``Path()``, which writes it
``all-MiniLM-L6-v2``, the bundled model's name: where no such folder was, it loaded the bundled
model instead of refusing, and where an empty one was, the refusal read "all-MiniLM-L6-v2 is not a
model folder", naming the model rather than the folder the user typed. The text commands'
``--model`` said "Directory 'all-MiniLM-L6-v2' does not exist" the same way."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.applications.text import load_text_model
from siamkit.cli.main import cli

pytest.importorskip("transformers")

FOLDER = "./all-MiniLM-L6-v2"


@pytest.mark.parametrize("given", [FOLDER, Path(FOLDER)], ids=["str", "Path"])
def test_a_missing_folder_named_as_the_model_is_refused_not_read_as_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^\./all-MiniLM-L6-v2 is not a folder; "):
        load_text_model(given)


def test_an_empty_folder_named_as_the_model_is_named_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "all-MiniLM-L6-v2").mkdir()
    with pytest.raises(ValueError, match=r"^\./all-MiniLM-L6-v2 is not a model folder: "):
        load_text_model(FOLDER)
    result = CliRunner().invoke(cli, ["text", "similarity", "--model", FOLDER, "a b", "a c"])
    assert result.exit_code == 1, result.output
    assert "Error: ./all-MiniLM-L6-v2 is not a model folder: " in result.output


def test_the_model_option_names_a_missing_folder_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["text", "similarity", "--model", FOLDER, "a b", "a c"])
    assert result.exit_code == 2, result.output
    assert "Directory './all-MiniLM-L6-v2' does not exist" in result.output


def _text_similarity(folder: str) -> str:
    result = CliRunner().invoke(cli, ["text", "similarity", "--model", folder, "a b", "a c"])
    assert result.exit_code == 1, result.output
    return result.output


def test_an_image_model_in_a_folder_named_as_the_model_is_named_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_model(expect=)'s refusal, which every text command shows, named it
    ``all-MiniLM-L6-v2`` (s58 FB Q1)."""
    import siamkit
    from siamkit.models import Preprocess, SiameseNetwork

    monkeypatch.chdir(tmp_path)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    net = SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 12, 12)))
    siamkit.save_model(net.eval(), "all-MiniLM-L6-v2")
    assert _text_similarity(FOLDER) == (
        "Error: ./all-MiniLM-L6-v2 holds a Siamese model whose twins share one encoder "
        "(SiameseNetwork, kind 'siamese'), not a text model\n"
    )


def test_the_export_of_a_model_named_as_the_model_advises_the_folder_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "give all-MiniLM-L6-v2" advised the bundled model, not the folder (s58 FB Q1)."""
    from siamkit.applications.text.onnx import META_NAME

    monkeypatch.chdir(tmp_path)
    export = tmp_path / "all-MiniLM-L6-v2" / "onnx"
    (export / "tokenizer").mkdir(parents=True)
    (export.parent / "siamkit.json").write_text("{}")
    (export / "tokenizer" / "tokenizer.json").write_text("{}")
    (export / META_NAME).write_text("{}")
    said = _text_similarity("./all-MiniLM-L6-v2/onnx")
    assert said.startswith(
        "Error: all-MiniLM-L6-v2/onnx is the ONNX export of the model ./all-MiniLM-L6-v2, not a "
        "model: give ./all-MiniLM-L6-v2 ("
    ), said


@pytest.mark.parametrize("damaged", ["config.json", "model.safetensors"])
def test_a_damaged_file_of_a_folder_named_as_the_model_names_the_folder_as_typed(
    tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damaged: str
) -> None:
    """ "so the model in all-MiniLM-L6-v2 cannot be loaded" named the bundled model (s58 FB Q1)."""
    monkeypatch.chdir(tmp_path)
    folder = Path(shutil.copytree(tiny_hf, tmp_path / "all-MiniLM-L6-v2"))
    f = folder / damaged
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    said = _text_similarity(FOLDER)
    assert f"all-MiniLM-L6-v2/{damaged} " in said, said
    assert ", so the model in ./all-MiniLM-L6-v2 cannot be loaded: " in said, said


def test_a_saved_model_without_its_tokenizer_in_a_folder_named_as_the_model_is_named_as_typed(
    tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """from_bundle's "has no tokenizer/ folder" named it ``all-MiniLM-L6-v2``, the bundled
    model, after the ``./`` of the same sentence's start (s58 mfb, s59 c5 item 1)."""
    import siamkit
    from siamkit.applications.text import load_text_model

    monkeypatch.chdir(tmp_path)
    siamkit.save_model(load_text_model(tiny_hf), "all-MiniLM-L6-v2")
    shutil.rmtree(tmp_path / "all-MiniLM-L6-v2" / "tokenizer")
    why = "./all-MiniLM-L6-v2 has no tokenizer/ folder; a text model needs its tokenizer"
    for given in (FOLDER, Path(FOLDER)):
        with pytest.raises(ValueError, match=rf"cannot be rebuilt: {re.escape(why)}$"):
            siamkit.load_model(given)
    assert _text_similarity(FOLDER) == (
        f"Error: ./all-MiniLM-L6-v2 describes a model that cannot be rebuilt: {why}\n"
    )


@pytest.mark.parametrize("damage", ["no lexical.json", "changed lexical.npz", "tf raw"])
def test_a_saved_lexical_model_whose_lexical_files_fail_in_a_folder_named_as_the_model(
    tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """The twin of the tokenizer/ case: LexicalTower.load's "has no lexical.json / lexical.npz"
    and from_bundle's "'s lexical files are not the ones ..." named ``./all-MiniLM-L6-v2`` as
    ``all-MiniLM-L6-v2``, the bundled model (s59 r5 finding 1)."""
    import numpy as np

    import siamkit
    from siamkit.applications.text.lexical import LexicalTower

    monkeypatch.chdir(tmp_path)
    model = load_text_model(tiny_hf)
    model.lexical = LexicalTower.fit(
        ["printer toner paper", "vpn login password", "battery charger sink", "printer vpn login"],
        components=2,
    )
    siamkit.save_model(model, "all-MiniLM-L6-v2")
    folder = tmp_path / "all-MiniLM-L6-v2"
    if damage == "no lexical.json":
        (folder / "lexical.json").unlink()
        why = (
            "./all-MiniLM-L6-v2 has no lexical.json / lexical.npz, which its config says the "
            "model joins"
        )
    elif damage == "tf raw":  # s59 FB finding 7: it said "all-MiniLM-L6-v2/lexical.json was
        # written by another tokenisation", the bundled model's name and no way out
        doc = json.loads((folder / "lexical.json").read_text())
        (folder / "lexical.json").write_text(json.dumps({**doc, "tf": "raw"}))
        why = (
            "./all-MiniLM-L6-v2/lexical.json was written by another tokenisation than this "
            "siamkit's; fit the lexical tower again (siamkit text lexical on the transformer model)"
        )
    else:
        with np.load(folder / "lexical.npz") as arrays:
            idf, components = arrays["idf"], arrays["components"]
        np.savez(folder / "lexical.npz", idf=idf * 1.01, components=components)
        why = (
            "./all-MiniLM-L6-v2's lexical files are not the ones its siamkit.json was saved with "
            "(their SHA-256 differs); save the model again"
        )
    for given in (FOLDER, Path(FOLDER)):
        with pytest.raises(ValueError, match=rf"cannot be rebuilt: {re.escape(why)}$"):
            siamkit.load_model(given)
    assert _text_similarity(FOLDER) == (
        f"Error: ./all-MiniLM-L6-v2 describes a model that cannot be rebuilt: {why}\n"
    )
