"""What kind of model a folder holds, told from its ``siamkit.json`` without building the model:
the one reading that ``siamkit recommend``, ``siamkit text identify`` and ``siamkit evaluate``
share to tell a text model from an image one."""

from __future__ import annotations

import os
from pathlib import Path

TEXT_KIND = "text"
"""The ``kind`` a siamkit text model's ``siamkit.json`` records (``siamkit text train``)."""


def model_kind(folder: str | os.PathLike[str] | None) -> str | None:
    """The ``kind`` a siamkit model folder's ``siamkit.json`` names; ``None`` for no folder, a
    Hugging Face folder (a text model, which has no ``siamkit.json``) or one that cannot be read
    (whatever reads the model next refuses it in its own sentence)."""
    if folder is None or not (Path(folder) / "siamkit.json").is_file():
        return None
    from siamkit.export.bundle import read_model_config

    try:
        kind = read_model_config(folder)["model"]["kind"]
    except (ValueError, OSError):
        return None
    return str(kind)


def is_text_model(folder: str | os.PathLike[str] | None) -> bool:
    """Whether ``folder`` is a siamkit text model folder (its ``siamkit.json`` says so)."""
    return model_kind(folder) == TEXT_KIND
