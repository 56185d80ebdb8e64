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


def test_the_built_in_shapes_are_what_the_loaders_return() -> None:
    """`export --check-data` refuses a built-in set by this table before loading it; the table
    must say what the loaders give (the CLI keeps it to answer --help without torch)."""
    from siamkit.cli._inputs import BUILTIN_SHAPES
    from siamkit.data.builtin import load_digits_dataset
    from siamkit.data.fashion_mnist import load_fashion_mnist

    x, _ = load_digits_dataset()
    assert tuple(x.shape[1:]) == BUILTIN_SHAPES["digits"]
    x, _ = load_fashion_mnist("test")
    assert (1, *x.shape[1:]) == BUILTIN_SHAPES["fashion-mnist"]
