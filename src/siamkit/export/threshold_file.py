"""Rewrite the calibrated threshold of a saved model folder, atomically (``siamkit calibrate``).

Only ``siamkit.json`` changes: the weights, and so the model's fingerprint (which galleries
remember), stay the same.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from siamkit.atomic import atomic_write
from siamkit.export.bundle import CONFIG_FILE, read_model_config


def _distance(threshold: float, signed: bool = False) -> float:
    """``threshold`` as a float: finite, and ``>= 0`` unless ``signed`` (a score-normalised
    model's scores, z-scores against its cohort, are negative for close pairs)."""
    value = float(threshold)
    if not math.isfinite(value) or (value < 0 and not signed):
        raise ValueError(f"a threshold is a finite distance >= 0, got {threshold!r}")
    return value


def write_threshold(
    path: str | os.PathLike[str],
    threshold: float,
    calibration: Mapping[str, Any] | None = None,
    *,
    document_threshold: float | None = None,
) -> Path:
    """Set the model folder's threshold (and record how it was fit under ``metadata.calibration``).

    ``document_threshold``: a half-twin text model's threshold for two documents, each embedded
    by its document tower (what ``siamkit text dedup`` compares), set in the same write as the
    model config's ``document_threshold``; ``None`` leaves the config's model part as it is.

    The new ``siamkit.json`` is written to a temporary file in the folder and renamed over the
    old one, so a reader sees either the old or the new file, never half of one.

    >>> write_threshold("out/model", 0.42, {"target": "eer"})  # doctest: +SKIP
    PosixPath('out/model/siamkit.json')
    """
    doc = read_model_config(path)
    # as the model's reader takes it: a score-normalised model's threshold may be negative
    value = _distance(threshold, signed=(doc.get("model") or {}).get("score_norm") is not None)
    documents = None if document_threshold is None else _distance(document_threshold)
    doc["threshold"] = value
    if documents is not None:
        doc["model"] = {**(doc.get("model") or {}), "document_threshold": documents}
    if calibration is not None:
        doc["metadata"] = {**(doc.get("metadata") or {}), "calibration": dict(calibration)}
    return atomic_write(Path(path) / CONFIG_FILE, json.dumps(doc, indent=2, sort_keys=True))
