"""``model.init_from`` / ``--init-from`` of a saved model an image run cannot start from (a text
model, dlib's face model) is refused in one sentence naming what the folder holds by its kind and
what to give instead; it said "is a TextSiameseNetwork, not a Siamese network with an encoder and
embedding head", a class name and no way out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.cli.main import cli
from siamkit.training.init_from import load_init_source

IMAGE_RUN = "give the model folder of an image run (OUT/model of siamkit train on images"


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from siamkit.applications.text.model import load_text_model

    root = tmp_path_factory.mktemp("text")
    bert = save_tiny_bert(root / "bert")
    return Path(siamkit.save_model(load_text_model(bert), root / "model"))


@pytest.fixture(scope="module")
def face_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from siamkit.applications.faces import DlibFaceEncoder

    return Path(siamkit.save_model(DlibFaceEncoder(), tmp_path_factory.mktemp("face") / "model"))


def test_a_text_model_is_named_and_sent_to_a_text_run(text_model: Path) -> None:
    with pytest.raises(ValueError) as err:
        load_init_source(text_model)
    said = str(err.value)
    assert said.startswith(f"model.init_from: {text_model} holds a text model (kind 'text'), ")
    assert IMAGE_RUN in said and "task: text run (configs/text-pairs.yaml" in said
    assert "TextSiameseNetwork" not in said


def test_dlibs_face_model_is_named_and_says_it_is_not_trained(face_model: Path) -> None:
    with pytest.raises(ValueError) as err:
        load_init_source(face_model)
    said = str(err.value)
    assert said.startswith(f"model.init_from: {face_model} holds dlib's face model (kind ")
    assert IMAGE_RUN in said and "configs/faces-chips.yaml" in said
    assert "DlibFaceEncoder" not in said


def test_a_self_supervised_run_refuses_it_in_one_sentence_and_writes_nothing(
    tmp_path: Path, text_model: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"task": "ssl", "data": {"dataset": "digits"}}))
    out = tmp_path / "o"
    args = ["train", str(cfg), "--out", str(out), "--no-progress", "--init-from", str(text_model)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: model.init_from: "), res.output
    assert "holds a text model (kind 'text')" in lines[0]
    assert not out.exists()
