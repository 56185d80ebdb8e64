"""Names the shells write out (so ``--help`` stays light) are the registries' own."""

from __future__ import annotations

import pytest

from siamkit.cli._inputs import INDEX_CHOICES
from siamkit.export.serving import load_for_serving
from siamkit.index.factory import INDEXES


def test_the_index_choices_of_gallery_and_serve_are_the_index_registry() -> None:
    assert sorted(INDEX_CHOICES) == INDEXES.names()


def test_an_unknown_serving_runtime_is_one_sentence(tmp_path) -> None:
    with pytest.raises(ValueError, match="runtime 'tflite' is not one of torch, onnx"):
        load_for_serving(tmp_path, "tflite")
