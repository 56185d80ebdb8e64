"""The run behind ``siamkit train`` and ``siamkit demo``: train, calibrate, save, evaluate, report.

Outputs in ``out_dir``: ``config.yaml`` (resolved), ``checkpoint.pt``, ``model/`` (with the
threshold calibrated on validation pairs), ``metrics.json``, ``history.json``, ``report.html``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siamkit.data.image_io import load_images
from siamkit.evaluation import EvaluationReport, evaluate_embeddings
from siamkit.evaluation.pairs import pair_distances
from siamkit.evaluation.threshold import ThresholdCalibrator
from siamkit.export.bundle import save_model
from siamkit.models import SiameseNetwork
from siamkit.training import RunConfig, Trainer, build_model, dump_config, load_run_data
from siamkit.training.config_io import config_to_dict
from siamkit.training.data import (
    RunData,
    cohort_folder_images,
    load_unlabeled_pool,
    seeded_sample,
    to_float,
)
from siamkit.training.ddp import teardown_distributed
from siamkit.training.trainer import seed_everything
from siamkit.training.validation import embed_all, embed_parts_all

CALIBRATION_PAIRS = 300_000


@dataclass(frozen=True)
class RunOutputs:
    """Where a run wrote its files, and its metrics (``metrics.json`` as a dict)."""

    out_dir: Path
    model_dir: Path
    metrics_path: Path
    report_path: Path | None
    config_path: Path
    metrics: dict[str, Any]


def write_json(path: Path, doc: Any) -> None:
    """Write JSON atomically (tmp file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False))
    os.replace(tmp, path)


def calibrate(z: Tensor, labels: Tensor, net: SiameseNetwork, target: str, seed: int) -> float:
    """Verification threshold fitted on validation pairs (a seeded sample when there are many)."""
    n = labels.numel()
    max_pairs = CALIBRATION_PAIRS if n * (n - 1) // 2 > CALIBRATION_PAIRS else None
    pd = pair_distances(z, labels, net.scoring_distance, max_pairs=max_pairs, seed=seed)
    return ThresholdCalibrator(target).fit(pd.genuine, pd.impostor).threshold_  # type: ignore[arg-type]


def rates_at(z: Tensor, labels: Tensor, net: SiameseNetwork, threshold: float) -> dict[str, float]:
    """TAR, FAR and balanced accuracy of a fixed threshold on (a sample of) the pairs of ``z``."""
    n = labels.numel()
    max_pairs = CALIBRATION_PAIRS if n * (n - 1) // 2 > CALIBRATION_PAIRS else None
    pd = pair_distances(z, labels, net.scoring_distance, max_pairs=max_pairs, seed=0)
    tar = float(np.mean(np.asarray(pd.genuine) <= threshold))
    far = float(np.mean(np.asarray(pd.impostor) <= threshold))
    return {"tar": tar, "far": far, "balanced_accuracy": (tar + 1 - far) / 2}


def evaluate_model(
    net: SiameseNetwork,
    x: Tensor,
    y: Tensor,
    cfg: RunConfig,
    device: torch.device,
    episodes: int | None = None,
) -> tuple[Any, Tensor]:
    """Embed ``x`` and run the full evaluation (few-shot, verification, retrieval)."""
    z = embed_all(net, x, device, cfg.train.embed_batch_size)
    return _evaluate(z, y, net.scoring_distance, cfg, episodes), z


def _evaluate(
    z: Tensor, y: Tensor, distance: Any, cfg: RunConfig, episodes: int | None
) -> EvaluationReport:
    """The run's evaluation protocol (``cfg.eval``; N-way = all test classes unless set)."""
    n_classes = int(torch.unique(y).numel())
    ways = min(cfg.eval.ways or n_classes, n_classes)
    return evaluate_embeddings(
        z, y, distance,
        few_shot=[(ways, k) for k in cfg.eval.shots],
        episodes=episodes or cfg.eval.episodes, seed=cfg.eval.seed, n_query=cfg.eval.queries,
    )  # fmt: skip


ABLATION_PARTS = {
    "raw": "same embedding, raw distance (no cohort score normalisation)",
    "learned": "learned embedding alone (CNN + head)",
    "appearance": "appearance features alone (no training)",
}


COHORT_SOURCES = {
    "train": "training images",
    "unlabeled": "unlabeled images of the test classes, not test images (a protocol variant)",
}


def cohort_source(cfg: RunConfig) -> str:
    """Where the cohort of ``cfg.eval`` comes from, in words (``metrics.json``, the demo's output)."""
    if cfg.eval.cohort_root is not None:
        return f"unlabeled images under {cfg.eval.cohort_root} (a protocol variant)"
    return COHORT_SOURCES[cfg.eval.cohort]


def cohort_images(data: RunData, cfg: RunConfig, training_images: bool = False) -> Tensor:
    """The images ``cfg.eval`` takes its cohort from (seeded, at most ``cohort_size``); with
    ``training_images``, a sample of the training images whatever ``cfg.eval.cohort`` says."""
    e = cfg.eval
    if e.cohort_root is not None and not training_images:
        paths = cohort_folder_images(e.cohort_root, e.cohort_size, e.seed)
        return load_images(paths, data.input_shape)
    if e.cohort == "unlabeled" and not training_images:
        return load_unlabeled_pool(cfg.data, data.test_classes, e.cohort_size, e.seed)
    return data.train_x[seeded_sample(len(data.train_y), e.cohort_size, e.seed)]


def attach_cohort(
    net: SiameseNetwork,
    data: RunData,
    cfg: RunConfig,
    device: torch.device,
    training_images: bool = False,
) -> int:
    """Give ``net`` the cohort ``cfg.eval`` asks for (``score_norm``, ``cohort``, ``cohort_root``,
    ``cohort_size``, ``score_norm_k``), or with ``training_images`` a cohort of training images
    whatever ``cfg.eval.cohort`` says. Returns the cohort size (0 when score normalisation is off).
    """
    e = cfg.eval
    if e.score_norm == "none":
        return 0
    images = cohort_images(data, cfg, training_images)
    if images.shape[0] < e.score_norm_k:
        where = COHORT_SOURCES["train"] if training_images else cohort_source(cfg)
        raise ValueError(
            f"eval.score_norm_k = {e.score_norm_k} nearest cohort items asked for, but the cohort "
            f"({where}) has only {images.shape[0]} images"
        )
    cohort = embed_all(net, images, device, cfg.train.embed_batch_size)
    net.set_score_norm(cohort.to(device), k=e.score_norm_k, method=e.score_norm)
    return int(cohort.shape[0])


def calibrate_run(
    net: SiameseNetwork, data: RunData, cfg: RunConfig, device: torch.device
) -> float:
    """The threshold, fit on validation pairs. The validation images are of the training classes,
    so with a cohort of other images (``eval.cohort: unlabeled``) they are scored against training
    images instead: each side normalised against its own kind, as the test images are against
    theirs, which is what lets one S-norm threshold carry over to the unseen classes."""
    zv = embed_all(net, data.val_x, device, cfg.train.embed_batch_size)
    deployed = net.score_norm
    if deployed is not None and (cfg.eval.cohort != "train" or cfg.eval.cohort_root is not None):
        attach_cohort(net, data, cfg, device, training_images=True)
    try:
        return calibrate(zv, data.val_y, net, cfg.eval.threshold_target, cfg.eval.seed)
    finally:
        net.score_norm = deployed


def evaluate_parts(
    net: SiameseNetwork,
    x: Tensor,
    y: Tensor,
    cfg: RunConfig,
    device: torch.device,
    episodes: int | None = None,
) -> dict[str, EvaluationReport]:
    """The same evaluation on each part of a model with an appearance skip (``{}`` without one).

    Shows on the unseen classes what the trained network adds to the parameter-free features it
    is joined with, and what those features give with no training at all. Both parts are unit
    length, so they are compared with the Euclidean distance.
    """
    if getattr(net, "appearance_skip", None) is None:
        return {}
    parts = embed_parts_all(net, x, device, cfg.train.embed_batch_size)
    return {
        name: _evaluate(torch.nn.functional.normalize(z, dim=1), y, "euclidean", cfg, episodes)
        for name, z in parts.items()
    }


def try_write_report(path: Path, report: Any, z: Tensor, labels: Tensor, **kw: Any) -> Path | None:
    """The HTML report (plots); a failure there never loses the trained model or metrics."""
    try:
        from siamkit.evaluation.report import write_report
    except ImportError:
        warnings.warn(
            "siamkit.evaluation.report is not available; no report.html written", stacklevel=2
        )
        return None
    write_report(path, report, z, labels, **kw)
    return path


def _quiet(_: str) -> None:
    pass


def run_training(
    cfg: RunConfig,
    out_dir: str | os.PathLike[str],
    resume: bool = False,
    progress: bool = True,
    episodes: int | None = None,
    title: str = "siamkit training run",
    log: Callable[[str], None] = print,
) -> RunOutputs | None:
    """Train as ``cfg`` says, then calibrate, save, evaluate on the test classes and report.

    Returns ``None`` on ranks other than 0 of a distributed run (they write nothing).
    """
    out = Path(out_dir)
    t0 = time.perf_counter()
    if os.environ.get("RANK", "0") != "0":
        log = _quiet
    log(f"loading {cfg.data.dataset} ...")
    data = load_run_data(cfg.data)
    if cfg.eval.score_norm != "none" and cfg.eval.cohort_root is not None:
        cohort_folder_images(cfg.eval.cohort_root, 1, 0)  # a missing or empty folder: fail now
    mean, std = data.channel_stats()
    seed_everything(cfg.train.seed)  # the initial weights depend on the seed only
    net = build_model(cfg.model, data.input_shape, mean, std)
    trainer = Trainer.from_config(net, cfg, data, out_dir=out, progress=progress, log=log)
    if trainer.ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, out / "config.yaml")
        log(
            f"training on {len(data.train_y)} images of classes {list(data.train_classes)} "
            f"({len(data.val_y)} held out for validation) on {trainer.ctx.device}"
        )
    try:
        result = trainer.fit(resume=resume)
    finally:
        if not trainer.ctx.is_main:
            teardown_distributed()
    if not trainer.ctx.is_main:
        return None
    train_s = time.perf_counter() - t0
    teardown_distributed()
    return finish_run(
        cfg, out, net, data, result.history, train_s, episodes, title, log, trainer.ctx.device
    )


def finish_run(
    cfg: RunConfig,
    out: Path,
    net: SiameseNetwork,
    data: RunData,
    history: list[dict[str, Any]],
    train_s: float,
    episodes: int | None,
    title: str,
    log: Callable[[str], None],
    device: torch.device,
) -> RunOutputs:
    """Calibrate on validation, save the model, evaluate on the test classes and write outputs."""
    net.eval()
    t0 = time.perf_counter()
    cohort_n = attach_cohort(net, data, cfg, device)
    threshold = calibrate_run(net, data, cfg, device) if len(data.val_y) > 2 else None
    log(f"evaluating on {len(data.test_y)} images of unseen classes {list(data.test_classes)} ...")
    report, z = evaluate_model(net, data.test_x, data.test_y, cfg, device, episodes)
    ablation = evaluate_parts(net, data.test_x, data.test_y, cfg, device, episodes)
    if cohort_n:
        ablation = {"raw": _evaluate(z, data.test_y, net.distance, cfg, episodes), **ablation}
    metrics = report.to_dict()
    if cohort_n:
        metrics["score_norm"] = {
            "method": cfg.eval.score_norm, "k": net.score_norm.k, "cohort": cohort_n,  # type: ignore[union-attr]
            "cohort_source": cohort_source(cfg),
            "calibration_cohort": COHORT_SOURCES["train"],
        }  # fmt: skip
    if ablation:
        metrics["ablation"] = {k: r.to_dict() for k, r in ablation.items()}
    if threshold is not None:
        metrics["calibration"] = {"threshold": threshold, "target": cfg.eval.threshold_target}
        metrics["calibration"]["test"] = rates_at(z, data.test_y, net, threshold)
    metrics["run"] = {
        "dataset": cfg.data.dataset,
        "train_classes": list(data.train_classes),
        "test_classes": list(data.test_classes),
        "epochs_run": len(history),
        "train_seconds": round(train_s, 1),
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }
    meta = {
        "run": metrics["run"],
        "config": config_to_dict(cfg),
        "class_names": list(data.class_names),
    }
    model_dir = save_model(net.cpu(), out / "model", threshold=threshold, metadata=meta)
    write_json(out / "metrics.json", metrics)
    write_json(out / "history.json", history)
    names = list(data.class_names)
    t1 = time.perf_counter()
    report_path = try_write_report(
        out / "report.html", report, z, data.test_y, images=to_float(data.test_x), class_names=names,
        history=history, config=config_to_dict(cfg), title=title, distance=net.scoring_distance,
        ablation={ABLATION_PARTS[k]: r for k, r in ablation.items()} or None,
    )  # fmt: skip
    log(
        f"trained in {train_s:.0f} s, evaluated in {metrics['run']['eval_seconds']:.0f} s, "
        f"report in {time.perf_counter() - t1:.0f} s"
    )
    return RunOutputs(
        out, model_dir, out / "metrics.json", report_path, out / "config.yaml", metrics
    )
