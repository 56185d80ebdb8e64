"""``load_text_model`` refused a siamkit folder of another kind with its own sentence ('holds a
SiameseNetwork, not a text model') after loading its weights, while ``load_model(path,
expect=TextSiameseNetwork)`` says what the folder holds and how to load it, before reading them.
It now refuses through ``load_model``'s ``expect=``: the same sentence, still a ``TypeError``
(callers catch it) and now a ``ModelFileError`` too."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.applications.text import TextSiameseNetwork, load_text_model
from siamkit.applications.text.model import NotATextModelError
from siamkit.encoders import create_encoder
from siamkit.export import ModelFileError


def _image_bundle(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = siamkit.SiameseNetwork(
        create_encoder("convnet", in_channels=1, widths=(4, 8)),
        embedding_dim=4,
        preprocess=siamkit.Preprocess(input_shape=(1, 28, 28)),
    )
    return Path(siamkit.save_model(net, tmp_path / "image-model"))


def test_an_image_bundle_is_refused_in_load_models_words(tmp_path: Path) -> None:
    folder = _image_bundle(tmp_path)
    with pytest.raises(ModelFileError) as expected:
        siamkit.load_model(folder, expect=TextSiameseNetwork)
    with pytest.raises(NotATextModelError) as err:
        load_text_model(folder)
    # load_model's words for what the folder holds; not its expect= advice, which the text
    # commands would show a command-line user
    what = str(expected.value).split(", not a TextSiameseNetwork:")[0]
    assert str(err.value) == f"{what}, not a text model"
    assert "(SiameseNetwork, kind 'siamese'), not a text model" in str(err.value)
    assert "expect=" not in str(err.value)
    assert isinstance(err.value, TypeError) and isinstance(err.value, ModelFileError)
    # refused from siamkit.json, before the (here damaged) weights are read
    (folder / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(TypeError, match="not a text model"):
        load_text_model(folder)


def test_a_damaged_text_bundle_is_not_called_another_kind(tiny_hf: Path, tmp_path: Path) -> None:
    folder = Path(siamkit.save_model(TextSiameseNetwork.pretrained(tiny_hf), tmp_path / "text"))
    assert isinstance(load_text_model(folder), TextSiameseNetwork)
    (folder / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelFileError) as err:
        load_text_model(folder)
    assert not isinstance(err.value, TypeError), err.value
