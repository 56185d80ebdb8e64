"""What a signature model records of the run that trained it, so that a model folder copied out
of its run folder still finds the signatures it trained and was tested on.

``siamkit train configs/signatures.yaml --out RUN`` saves ``RUN/model`` with the run's ``data``
section (``data.root`` made absolute) and ``eval.seed`` in ``metadata.signatures``
(:func:`run_record`); :func:`recorded_run` reads them back, or, for a model saved before they
were recorded, the ``RUN/config.yaml`` beside the model.

>>> from siamkit.applications.signatures.config import SignatureRunConfig
>>> record = run_record(SignatureRunConfig())
>>> record["data"]["root"], record["data"]["synthetic_writers"], record["eval_seed"]
(None, 60, 0)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from siamkit.applications.signatures.config import (
    SignatureDataConfig,
    SignatureRunConfig,
    _section,
)
from siamkit.training.config_io import plain_dict

__all__ = ["RecordedRun", "recorded_run", "run_record"]


def run_record(cfg: SignatureRunConfig) -> dict[str, Any]:
    """``metadata.signatures``' ``data`` (the run's data section, ``root`` absolute: a relative
    one named the folder from where the run started) and ``eval_seed`` (which genuine signatures
    its test took as references), as JSON values."""
    data = plain_dict(cfg.data)  # tuples as lists, as every saved config section
    if cfg.data.root is not None:
        data["root"] = str(Path(cfg.data.root).resolve())
    return {"data": data, "eval_seed": int(cfg.eval.seed)}


class RecordedRun(NamedTuple):
    """The data section and ``eval.seed`` of the run that trained a signature model, and where
    they were read (``"the model"`` or the run config's path)."""

    data: SignatureDataConfig
    eval_seed: int
    source: str


def recorded_run(model_dir: str | os.PathLike[str]) -> RecordedRun | str:
    """The run that trained the signature model in ``model_dir``: what its ``siamkit.json``
    records (:func:`run_record`), else its run's ``config.yaml`` beside the model folder (a model
    saved before the record); else the clause saying why there is none."""
    import yaml

    from siamkit.export.bundle import read_model_config

    meta = (read_model_config(model_dir).get("metadata") or {}).get("signatures") or {}
    if "data" in meta:  # the data section alone: the model section's checks need its config
        seed = meta.get("eval_seed", 0)
        try:
            data = _section("data", meta["data"])
        except ValueError as err:
            return (
                f"the run data {model_dir} records cannot be read ({str(err).strip().rstrip('.')})"
            )
        if not isinstance(seed, int) or isinstance(seed, bool):
            return f"the run data {model_dir} records has an eval_seed that is not a whole number"
        return RecordedRun(data, seed, "the model")
    path = Path(model_dir).resolve().parent / "config.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return (
            f"{model_dir} does not record its run's signatures (it was saved before models "
            f"recorded them) and its run's config {path} is not there (or cannot be read)"
        )
    if not isinstance(doc, dict) or doc.get("task") != "signatures":
        return f"{path} is not the config of a signature run (task: signatures)"
    try:  # the data section and eval.seed alone, as above: the other sections' checks (a
        # train.margin this siamkit refuses, say) have nothing to do with finding the run's data
        # and would refuse an older run whose config was accepted then (reviewer s52_R16)
        data = _section("data", doc.get("data") or {})
        seed = _section("eval", doc.get("eval") or {}).seed
    except ValueError as err:
        return f"its run's config {path} cannot be read ({str(err).strip().rstrip('.')})"
    return RecordedRun(data, seed, str(path))
