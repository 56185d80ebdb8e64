"""Where a local text model folder keeps its transformer, and how it pools the token vectors.

A Hugging Face folder holds the transformer itself (``config.json``, tokenizer, weights). A
sentence-transformers folder says its modules in ``modules.json``: the transformer's path (``""``,
the folder itself, or ``0_Transformer/`` in the older layout), then a pooling module whose
``config.json`` names the pooling mode (``1_Pooling/``), and perhaps a normalisation. siamkit
runs the transformer, pools by the mean or the CLS token, and L2-normalises; a folder that pools
otherwise or adds other modules (a dense layer) is refused rather than embedded differently.

>>> read_layout("all-MiniLM-L6-v2/")  # doctest: +SKIP
TextLayout(transformer=PosixPath('all-MiniLM-L6-v2'), pooling='mean')
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siamkit.clauses import listed

MODULES = "modules.json"
POOLINGS = ("mean", "cls")  # how TextEncoder pools a window's token vectors
# sentence-transformers' Pooling config key -> its mode; siamkit runs the ones in POOLINGS
_POOLING_KEYS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


@dataclass(frozen=True)
class TextLayout:
    """A model folder's transformer folder (config, tokenizer, weights) and pooling mode."""

    transformer: Path
    pooling: str  # one of POOLINGS


def _kind(module: dict[str, Any]) -> str:
    """A modules.json entry's class name: ``sentence_transformers.models.Pooling`` -> Pooling."""
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def _read_json(path: Path, what: str) -> Any:
    """``path``'s JSON, refused in one sentence naming it as ``what`` when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path} cannot be read as {what} ({err}); copy it again from the model"
        ) from None


def _pooling(folder: Path, module: dict[str, Any]) -> str:
    """The mode a Pooling module's config.json turns on, refused unless it is one of POOLINGS."""
    config = folder / str(module.get("path", "")) / "config.json"
    doc = _read_json(config, "the pooling module's JSON config")
    doc = doc if isinstance(doc, dict) else {}  # not an object: no mode, refused below
    given = doc.get("pooling_mode")
    if given is not None:
        # sentence-transformers 6 writes the mode under one key ("pooling_mode": "mean", or a
        # list of modes), not as pooling_mode_*_tokens flags: a folder saved by 6.3 (this
        # project's environment) was refused as pooling by no mode siamkit knows
        modes = [str(m) for m in given] if isinstance(given, list) else [str(given)]
    else:
        modes = [mode for key, mode in _POOLING_KEYS.items() if doc.get(key)]
    if len(modes) != 1 or modes[0] not in POOLINGS:
        said = listed(modes) if modes else "no mode siamkit knows"
        raise ValueError(
            f"{config} pools the token vectors by {said}; siamkit pools by the mean or the CLS "
            "token only, so use a model whose pooling is one of those"
        )
    return modes[0]


def read_layout(folder: str | os.PathLike[str]) -> TextLayout:
    """The transformer's folder and pooling mode of ``folder``: a sentence-transformers folder's
    as its ``modules.json`` says, else the folder itself and mean pooling."""
    path = Path(folder)
    listing = path / MODULES
    if not listing.is_file():
        return TextLayout(path, "mean")
    modules = _read_json(listing, "sentence-transformers' module list")
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise ValueError(f"{listing} is not a list of modules; copy it again from the model")
    kinds = [_kind(m) for m in modules]
    other = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if kinds.count("Transformer") != 1 or kinds.count("Pooling") > 1 or other:
        raise ValueError(
            f"{listing} lists the modules {', '.join(kinds)}; siamkit runs one Transformer, "
            "then a Pooling and a Normalize module, so use a model made of those only"
        )
    transformer = path / str(modules[kinds.index("Transformer")].get("path", ""))
    pooling = _pooling(path, modules[kinds.index("Pooling")]) if "Pooling" in kinds else "mean"
    return TextLayout(transformer, pooling)
