"""``siamkit train configs/signatures.yaml --out runs/sig``: the ``task: signatures`` runner.

Loads the signatures (a corpus folder, or the synthetic generator), splits the *writers* into
train / validation / test, trains (:func:`train_signatures`), fixes the decision threshold at the
validation writers' skilled-forgery EER (their random-forgery EER where they have no skilled
forgeries), then evaluates the test writers once with it. Writes ``OUT/config.yaml``
(resolved, once every check has passed, before training), ``OUT/checkpoint.pt``,
``OUT/model/`` (a siamkit bundle) and ``OUT/metrics.json``. It trains on
``train.device`` (``auto``: CUDA when available; ``siamkit train --device`` overrides it) in one
process: ``torchrun`` is refused.

``--init-from MODEL`` starts from a saved model of the same layers; the checkpoint and the bundle
record it (``model.init_from``), and ``--resume`` follows
:func:`~siamkit.training.preflight.resumed_init_from` (no ``--init-from`` needed, another refused).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from siamkit.applications.signatures.config import SignatureRunConfig, signature_config_from_dict
from siamkit.applications.signatures.evaluate import evaluable_writers, evaluate_signatures
from siamkit.applications.signatures.model import build_signature_model
from siamkit.applications.signatures.run_record import run_record
from siamkit.applications.signatures.train import (
    _checked_signatures,
    embed_signatures,
    signature_config_guard,
    train_signatures,
    validate,
)
from siamkit.atomic import atomic_write
from siamkit.clauses import counted
from siamkit.data.signature_set import (
    SignatureSet,
    load_signature_set,
    synthetic_signature_set,
    writer_disjoint_split,
)
from siamkit.data.synthetic_signatures import is_synthetic_folder
from siamkit.export.bundle import save_model
from siamkit.training.checkpoint import load_checkpoint
from siamkit.training.config_io import with_plugins, without_plugins
from siamkit.training.ddp import refuse_torchrun, resolve_device
from siamkit.training.preflight import accept_saved_config, resumed_init_from
from siamkit.training.tasks import TaskOptions, TaskSummary
from siamkit.training.trainer import CHECKPOINT

__all__ = ["load_run_data", "run", "run_signatures"]


def load_run_data(cfg: SignatureRunConfig) -> tuple[SignatureSet, bool]:
    """The configured signatures, preprocessed; and whether they are synthetic."""
    d = cfg.data
    if d.root is None:
        data = synthetic_signature_set(
            d.synthetic_writers, d.genuine, d.forged, d.seed, d.image_size
        )
        return data, True
    data = load_signature_set(d.root, d.layout, d.image_size)
    return data, is_synthetic_folder(d.root)  # a folder `siamkit signature synth` wrote


def _on_device(cfg: SignatureRunConfig, options: TaskOptions) -> SignatureRunConfig:
    """``cfg`` with ``options.device`` (``siamkit train --device``) over its ``train.device``;
    a device that is not there refused."""
    if options.device != "auto":  # `siamkit train --device` over the config's train.device
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, device=options.device))
    resolve_device(cfg.train.device)  # a GPU that is not there: refused before anything is read
    return cfg


def check_config(config: dict[str, Any], options: TaskOptions) -> None:
    """The run's checks of ``config`` with ``options`` (``--set``, ``--device``), as
    :func:`run` makes them before it reads the data or writes anything, less those of the run's
    folder (``--resume``'s checkpoint) and of the model (``--init-from``'s fit): its error, or
    nothing (``task: signatures``'s :func:`~siamkit.training.tasks.register_task` ``check``)."""
    _on_device(signature_config_from_dict(config, tuple(options.overrides)), options)


def run_signatures(
    cfg: SignatureRunConfig,
    out_dir: str | os.PathLike[str] | None,
    options: TaskOptions | None = None,
) -> dict[str, Any]:
    """Train and evaluate as configured; save to ``out_dir`` (a str or a path) when given.
    Returns the metrics."""
    out_dir = None if out_dir is None else Path(out_dir)
    options = options or TaskOptions()
    refuse_torchrun("signatures")
    cfg = _on_device(cfg, options)
    log = options.log or (lambda _msg: None)
    ckpt = None if out_dir is None else out_dir / CHECKPOINT
    init_from = options.init_from
    if options.resume:  # refused before the data is read, and before anything is written
        if ckpt is None or not ckpt.is_file():
            raise ValueError(
                f"--resume: there is no {CHECKPOINT} in {out_dir}; start without --resume"
            )
        state = load_checkpoint(ckpt)
        init_from = _resumed_init_from(state.get("config"), init_from)
        accept_saved_config(state, signature_config_guard(_resumable(cfg, init_from)))
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    data, synthetic = load_run_data(cfg)
    train_w, val_w, test_w = writer_disjoint_split(len(data.names), cfg.data.split, cfg.data.seed)
    train_set, val_set, test_set = (data.subset(g) for g in (train_w, val_w, test_w))
    for group, subset in (("validation", val_set), ("test", test_set)):
        _check_references(subset, group, cfg.eval.references)  # before training, not after
    m = cfg.model
    torch.manual_seed(cfg.train.seed)  # the initial weights: train.seed makes the run repeatable
    model = build_signature_model(
        (1, *cfg.data.image_size), m.embedding_dim, m.encoder_kwargs,
        appearance_weight=m.appearance_weight, appearance_pool=m.appearance_pool,
    )  # fmt: skip
    if init_from and not options.resume:  # on resume the checkpoint's weights replace them
        _init_from(model, init_from)
    if out_dir is not None:  # after every check that can refuse the run, before training
        # the resolved config, as the other tasks write it, so that `siamkit train
        # OUT/config.yaml --out OUT --resume` continues a run stopped before its end
        out_dir.mkdir(parents=True, exist_ok=True)
        resolved = yaml.safe_dump(
            with_plugins({"task": "signatures", **cfg.to_dict()}, options.plugins),
            sort_keys=False,
        )
        atomic_write(out_dir / "config.yaml", resolved)
    log(
        f"{'synthetic ' if synthetic else ''}signatures: {len(train_w):,} train, {len(val_w):,} "
        f"validation, {counted(len(test_w), 'test writer')}"
    )
    model, history = train_signatures(
        model, train_set, val_set, cfg.train, cfg.eval, log,
        checkpoint=ckpt, resume=options.resume, run_config=_resumable(cfg, init_from),
    )  # fmt: skip
    val = validate(model, val_set, cfg.eval)  # reduce and threshold: validation writers only
    model.threshold = val.threshold  # the skilled EER's (the random one's without forgeries)
    # a NaN named by its signature, as validate() names a validation writer's (s57_c3)
    z = _checked_signatures(
        embed_signatures(model, test_set.images), test_set, "the test signatures"
    )
    test = evaluate_signatures(
        z, test_set.writer, test_set.forged, cfg.eval.references, val.reduce,
        model.distance, threshold=model.threshold, seed=cfg.eval.seed, threshold_source="model",
    )  # fmt: skip
    metrics = {
        "synthetic": synthetic,
        "validation": val.to_dict(),
        "test": test.to_dict(),
        "history": history,
        "writers": {"train": len(train_w), "validation": len(val_w), "test": len(test_w)},
    }
    if out_dir is not None:
        meta = {
            "signatures": {
                "reduce": val.reduce,
                "references": cfg.eval.references,
                "image_size": list(cfg.data.image_size),
                "synthetic_training_data": synthetic,
                # its data and eval.seed: a copy of the model folder finds its run's signatures
                **run_record(cfg),
            },
            **({"init_from": init_from} if init_from else {}),
        }
        # the metrics' text before the model: a value that is no JSON leaves no model without
        # its metrics.json (reviewer s52_R11)
        try:
            text = json.dumps(metrics, indent=2, allow_nan=False)
        except ValueError:
            raise ValueError(
                f"metrics.json cannot hold {_not_finite(metrics) or 'the run metrics'} (no JSON "
                "number), so no model was saved; this is a bug: please report it with the config"
            ) from None
        save_model(model, out_dir / "model", metadata=meta)
        atomic_write(out_dir / "metrics.json", text)
    return metrics


def _not_finite(value: Any, where: str = "") -> str:
    """Where the first NaN or infinite number in ``value`` is, and what it is (``history[0].loss
    = nan``); ``""``: none."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} = {value}"
    if not isinstance(value, (dict, list, tuple)):
        return ""
    for key, v in value.items() if isinstance(value, dict) else enumerate(value):
        at = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else key
        found = _not_finite(v, at)
        if found:
            return found
    return ""


def _check_references(data: SignatureSet, group: str, references: int) -> None:
    """Refuse writers too few genuine signatures to evaluate with ``references`` references (the
    validation and test evaluations after training would fail on them), and validation writers
    without a forgery of either kind (one writer evaluated, and no skilled forgeries of its own):
    no EER to validate by."""
    if not evaluable_writers(data.writer, data.forged, references):  # what evaluation will need
        genuine = data.writer[~data.forged]
        most = int(torch.bincount(genuine).max()) if len(genuine) else 0
        raise ValueError(
            f"the {group} writers have at most {counted(most, 'genuine signature')} each and "
            f"eval.references = {references:,} needs more (one left to test): lower "
            "eval.references or give more genuine signatures per writer"
        )
    evaluated = evaluable_writers(data.writer, data.forged, references)
    # only the writers evaluated have their skilled forgeries scored (signature_scores)
    skilled = bool(data.forged[torch.isin(data.writer, torch.tensor(evaluated))].any())
    if group == "validation" and len(evaluated) == 1 and not skilled:
        raise ValueError(  # validation would have no EER to choose weights by, nor a threshold
            "the validation writers give no forgery to measure an EER with: only one of them has "
            f"more than eval.references = {counted(references, 'genuine signature')}, and it has no "
            "skilled forgeries; give more writers (or data.split a larger validation share), or "
            "skilled forgeries"
        )


def _resumable(cfg: SignatureRunConfig, init_from: str | None = None) -> dict[str, Any]:
    """What a resumed run must share with the checkpoint: the config but ``train.threads`` and
    ``train.device`` (a run may go on elsewhere), with ``model.init_from`` added (the model the
    run started from; ``None``: none)."""
    doc = cfg.to_dict()
    doc["train"] = {k: v for k, v in doc["train"].items() if k not in ("threads", "device")}
    doc["model"]["init_from"] = init_from
    return json.loads(json.dumps(doc))  # tuples as lists, as the checkpoint stores them


def _resumed_init_from(saved: Any, given: str | None) -> str | None:
    """The ``model.init_from`` of a resumed run (:func:`resumed_init_from`); a checkpoint from
    before the run recorded it has nothing to check it against, and keeps ``given``."""
    model = saved.get("model") if isinstance(saved, dict) else None
    if not isinstance(model, dict) or "init_from" not in model:
        return given
    return resumed_init_from(saved, given)


def _init_from(model: torch.nn.Module, path: str) -> None:
    from siamkit.export.bundle import load_model

    source = load_model(path)
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError:
        raise ValueError(
            f"--init-from {path}: that model's layers or sizes do not fit this signature config."
        ) from None


def run(
    config: dict[str, Any], out_dir: str | os.PathLike[str], options: TaskOptions
) -> TaskSummary:
    """The runner ``siamkit train`` calls for ``task: signatures``; ``out_dir``: a str or a
    path."""
    out_dir = Path(out_dir)
    config, own_plugins = without_plugins(config)
    cfg = signature_config_from_dict(config, tuple(options.overrides))
    plugins = (*options.plugins, *own_plugins)
    metrics = run_signatures(cfg, out_dir, dataclasses.replace(options, plugins=plugins))
    test = metrics["test"]
    headline = {
        "test_eer_skilled": test["skilled"]["eer"],
        "test_eer_random": test["random"]["eer"],
        "test_far_skilled": test["skilled"]["far"],
        "test_frr": test["skilled"]["frr"],
    }
    return TaskSummary(
        model_dir=out_dir / "model",
        metrics=headline,
        files={"metrics": out_dir / "metrics.json", "config": out_dir / "config.yaml"},
    )
