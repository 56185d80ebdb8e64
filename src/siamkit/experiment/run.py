"""One run, end to end, as a library call: train, save, calibrate, evaluate, report.

Outputs in ``out_dir``: ``config.yaml`` (resolved), ``checkpoint.pt`` (every epoch),
``model/`` (written as soon as training ends, then again with the cohort and the threshold
calibrated on validation pairs, before the evaluation), ``metrics.json``, ``history.json`` and
``report.html``. A failed or killed evaluation leaves the trained model behind.

>>> result = run_experiment(load_config("configs/demo.yaml"), "runs/demo")  # doctest: +SKIP
>>> result.evaluation.verification.eer  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from siamkit.atomic import atomic_write
from siamkit.clauses import counted, in_number
from siamkit.data.folder_cache import cache_folder, image_cache
from siamkit.evaluation import shared_distance_matrices
from siamkit.evaluation.report_sections import class_list
from siamkit.experiment.protocol import (
    ABLATION_PARTS,
    COHORT_SOURCES,
    attach_cohort,
    calibrate_run,
    check_protocol,
    cohort_source,
    evaluate_model,
    evaluate_parts,
    evaluate_protocol,
    rates_at,
    threshold_seed,
    try_write_report,
)
from siamkit.experiment.report_inputs import report_inputs
from siamkit.experiment.result import Calibration, RunResult, ScoreNorm, Timings, ways_over_line
from siamkit.export.bundle import save_model
from siamkit.models import JoinedEmbedding, SiameseNetwork
from siamkit.training import (
    RunConfig,
    Trainer,
    build_model,
    dump_config,
    embedding_model,
    load_run_data,
)
from siamkit.training.config_classes import eval_ways
from siamkit.training.config_io import config_to_dict
from siamkit.training.data import RunData, cohort_folder_images, to_float
from siamkit.training.ddp import finish_distributed, is_main_process, teardown_distributed
from siamkit.training.eval_protocol import protocol_check
from siamkit.training.from_config import ValidationEmbeddings, Validator
from siamkit.training.parts import run_spec
from siamkit.training.preflight import check_input_size, check_positives, check_resumable
from siamkit.training.resume_note import nothing_resumed_line
from siamkit.training.tasks import DEFAULT_TASK
from siamkit.training.trainer import CHECKPOINT, seed_everything


def _quiet(_: str) -> None:
    pass


def _save(net: SiameseNetwork | JoinedEmbedding, out: Path, cfg: RunConfig, data: RunData, run: dict[str, Any],
          threshold: float | None = None) -> Path:  # fmt: skip
    device = next(net.parameters()).device
    meta = {
        "run": run, "config": config_to_dict(cfg), "class_names": list(data.class_names),
        "spec": run_spec(cfg),  # kind + params of each registered part the run built
    }  # fmt: skip
    if cfg.model.init_from:  # the starting model's method and chain: the path alone may go
        from siamkit.training.init_from import started_from_record

        meta["started_from"] = started_from_record(cfg.model.init_from)
    path = save_model(net.cpu(), out / "model", threshold=threshold, metadata=meta)
    net.to(device)
    return path


def check_run_config(cfg: object) -> None:
    """Refuse, in one sentence naming what to pass, a ``cfg`` that is not a :class:`RunConfig`:
    a YAML mapping (``config_from_dict`` makes one) or another task's config, whose runner is
    :func:`~siamkit.training.tasks.get_task`'s."""
    if isinstance(cfg, RunConfig):
        return
    task = cfg.get("task") if isinstance(cfg, dict) else None
    if isinstance(task, str) and task != DEFAULT_TASK:
        raise TypeError(
            f"run_experiment trains a supervised embedding config, not a task: {task} one; run "
            f"that with siamkit.training.tasks.get_task({task!r})(config_without_task, out_dir, "
            "TaskOptions())"
        )
    raise TypeError(
        f"run_experiment takes a RunConfig, got {type(cfg).__name__}; make one with "
        "siamkit.training.config_from_dict(mapping) or load_config(path)"
    )


def run_experiment(
    cfg: RunConfig,
    out_dir: str | os.PathLike[str],
    resume: bool = False,
    progress: bool = True,
    episodes: int | None = None,
    title: str = "siamkit training run",
    log: Callable[[str], None] = print,
    command: str | None = None,
    plugins: Sequence[str] = (),
) -> RunResult | None:
    """Train as ``cfg`` says, save the model, calibrate, evaluate on the test classes and report.

    Args:
        cfg: the run config.
        out_dir: the run's folder (see the module docstring).
        resume: continue ``out_dir/checkpoint.pt``.
        progress: tqdm bars.
        episodes: few-shot episodes of the evaluation (default ``cfg.eval.episodes``).
        title: the report's title.
        log: receives progress lines.
        command: what made the run (``"siamkit demo"``), recorded as ``run.command`` in
            ``metrics.json`` (``siamkit demo`` replaces only a folder its own earlier run wrote).
        plugins: the plug-in modules the run was started with (``siamkit --plugin``), written in
            ``config.yaml`` as ``plugins:`` so that reading it again (``--resume``) imports them.

    Returns:
        The :class:`RunResult`, or ``None`` on ranks other than 0 of a distributed run (they
        write nothing). Code checked with ``mypy --strict`` says which it holds, e.g.
        ``assert result is not None`` in a notebook or a single-process script.
    """
    check_run_config(cfg)
    out = Path(out_dir)
    t0 = time.perf_counter()
    if not is_main_process():  # a later process of a torchrun launch
        log = _quiet
    # everything that can refuse the run does so before its files are written (config.yaml,
    # checkpoint.pt): only the image cache (data.cache) is written earlier, while the data
    # is read, before check_positives and check_protocol; a refused new run keeps it for the
    # same command (siamkit train removes the rest, cli/_run_folder.py)
    if resume:  # a missing checkpoint, or one made by another config (init_from: the checkpoint's)
        cfg = check_resumable(cfg, out / CHECKPOINT)
    log(f"loading {cfg.data.dataset} ...")
    # a labelled folder too small for both data.labels_per_class and eval.shots names both
    with image_cache(cache_folder(cfg.data.cache, out), log):  # data.cache: read once, kept
        data = load_run_data(cfg.data, check_test=protocol_check(cfg.eval))
    class_images = split_class_images(cfg)  # listed beside the read its split was drawn from
    check_positives(cfg, data)
    check_protocol(
        cfg.eval, data.test_y, names=data.class_names
    )  # every N-way K-shot the test classes must give
    n_test = len(data.test_classes)
    over = [n for n in eval_ways(cfg.eval) if n > n_test]
    if over:  # metrics.json records them too (n_way_asked)
        log(ways_over_line("eval.ways", over, n_test, before=True, what="test classes"))
    if cfg.eval.score_norm != "none" and cfg.eval.cohort_root is not None:
        cohort_folder_images(cfg.eval.cohort_root, 1, 0)  # a missing or empty folder: fail now
    mean, std = data.channel_stats()
    seed_everything(cfg.train.seed)  # the initial weights depend on the seed only
    net = build_model(cfg.model, data.input_shape, mean, std, log=log)
    check_input_size(net, cfg, data.input_shape)
    # the saved model's encoder + head, refused here if they do not fit; not read on resume (the
    # checkpoint's weights replace them, and the model may since have been moved or deleted)
    if cfg.model.init_from and not resume:
        from siamkit.training.init_from import init_from_model

        init_from_model(net, cfg.model.init_from)
        log(f"starting from the weights of {cfg.model.init_from}")
    trainer = Trainer.from_config(net, cfg, data, out_dir=out, progress=progress, log=log)
    if trainer.ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, out / "config.yaml", plugins=plugins)
        log(training_line(data, trainer.ctx.device))
        if trainer.ctx.world > 1:
            log(_processes_line(trainer.ctx.world, trainer.batches, cfg.loss.offline_mining))
    try:  # the time counts from t0, plus what the checkpoint's earlier processes spent
        fitted = trainer.fit(resume=resume, started=t0)
    except BaseException:  # no barrier: the other processes may never reach it
        if not trainer.ctx.is_main:
            teardown_distributed()
        raise
    # every process waits for the others, then leaves the group: a process that left while
    # another still closed its side was once aborted by gloo ("terminate called without an
    # active exception"), as the SSL and tracking tasks already avoid with the same call
    finish_distributed()
    if not trainer.ctx.is_main:
        return None
    said = nothing_resumed_line(fitted, cfg.train.epochs, out / CHECKPOINT, out, cfg.optim.schedule)
    if said is not None:
        log(said)
    history, train_s = fitted.history, fitted.seconds
    # the last epoch's validation embedding, which the threshold's fit reuses while it holds
    validators = [getattr(c, "validate", None) for c in trainer.callbacks]
    embeddings = next((v.embeddings for v in validators if isinstance(v, Validator)), None)
    return evaluate_run(
        cfg, out, net, data, history, train_s, episodes, title, log, command, class_images,
        _val_embeddings=embeddings,
    )  # fmt: skip


def _no_threshold_line(target: str) -> str:
    """What a run says when the validation pairs' fit for ``eval.threshold_target`` accepts no
    pair at all: a threshold below 0, which a model of distances >= 0 cannot be saved with (its
    reader refuses it). A validation impostor pair at distance 0 does it: the same image under
    two classes, or an embedding that collapsed.

    >>> _no_threshold_line("far").split(":")[0]
    'no verification threshold saved'
    """
    return (
        f"no verification threshold saved: the validation pairs' fit for eval.threshold_target "
        f"{target} accepts no pair at all, as an impostor pair is at distance 0 (the same image "
        "under two classes, or a collapsed embedding); the model is saved without one: fit it "
        "with siamkit calibrate MODEL --data FOLDER (--far allows some false accepts)"
    )


def training_line(data: RunData, device: object) -> str:
    """The run's first line: what it trains on, named as ``siamkit evaluate`` names classes,
    and what it holds out for validation (a share of those images, or ``data.val_classes``).

    >>> import torch
    >>> y = torch.tensor([0, 0, 1, 1, 2])
    >>> d = RunData(y, y, y[4:], y[4:], y, y, ("ann", "bob", "cy"), (0, 1), (), (2,))
    >>> training_line(d, "cpu")  # doctest: +NORMALIZE_WHITESPACE
    'training on 5 images of 2 classes (ann, bob) on cpu; 1 image of 1 other class held out
    for validation (cy)'
    """
    n, k = len(data.train_y), len(data.train_classes)
    head = (
        f"training on {counted(n, 'image')} of {counted(k, 'class', 'classes')} "
        f"({class_list(data.class_names, data.train_classes)}) on {device}"
    )
    n_val, vc = len(data.val_y), data.val_classes
    if not vc:
        held = f"{n_val:,} more {in_number(n_val, 'image')} of them" if n_val else "none"
        return f"{head}; {held} held out for validation"
    return (
        f"{head}; {counted(n_val, 'image')} of {len(vc):,} other "
        f"{in_number(len(vc), 'class', 'classes')} held out for validation "
        f"({class_list(data.class_names, vc)})"
    )


def evaluating_line(data: RunData, held_out_images: bool) -> str:
    """The line before the evaluation: how many test images of which classes, named as the
    first line (:func:`training_line`) names them. ``held_out_images``: the test images are a
    share of the training classes' (``data.train_classes: null``), not unseen classes.

    >>> import torch
    >>> y = torch.tensor([0, 0, 1, 2, 2])
    >>> d = RunData(y[:2], y[:2], y[:0], y[:0], y[2:], y[2:], ("ann", "bob", "cy"), (0,), (1, 2))
    >>> evaluating_line(d, held_out_images=False)
    'evaluating on 3 images of 2 unseen classes (bob, cy) ...'
    """
    n, k = len(data.test_y), len(data.test_classes)
    named = class_list(data.class_names, data.test_classes)
    if held_out_images:
        return (
            f"evaluating on {n:,} held-out {in_number(n, 'image')} of the training classes ({named}) "
            "(not unseen classes: data.train_classes is null) ..."
        )
    return f"evaluating on {counted(n, 'image')} of {k:,} unseen {in_number(k, 'class', 'classes')} ({named}) ..."


def folder_class_images(root: str) -> tuple[list[str], list[int]]:
    """The class names of the image folder ``root`` (one sub-folder per class, as a run reads
    it) and how many images each holds, listed, not read: what a ``data.train_classes: null``
    run's seeded split of each class into training and test images is drawn from."""
    import warnings

    from siamkit.data.folders import ImageFolderDataset

    with warnings.catch_warnings():  # empty folders, files left out: said where it is read
        warnings.simplefilter("ignore")
        ds = ImageFolderDataset(root, (1, 1, 1))
    counts = [0] * len(ds.classes)
    for _, c in ds.samples:
        counts[c] += 1
    return list(ds.classes), counts


def split_class_images(cfg: RunConfig) -> list[int] | None:
    """Each class's image count in a ``data.train_classes: null`` image-folder run's folder, as
    listed when the run reads it (its test images are a seeded share of each class, drawn from
    these counts), else ``None``; ``None`` too where the folder cannot be listed (evaluate then
    treats the model as one that cannot be checked)."""
    if (
        cfg.data.dataset != "image-folder"
        or not cfg.data.root
        or cfg.data.train_classes is not None
    ):
        return None
    try:
        return folder_class_images(str(Path(cfg.data.root).resolve()))[1]
    except (OSError, ValueError):
        return None


def validation_classes(data: RunData) -> tuple[tuple[int, ...], str]:
    """The classes of the run's validation images and what validation held out: ``"classes"``
    (whole classes, ``data.val_classes``), ``"images"`` (a share of the training classes'
    images) or ``"none"`` (no validation images).

    >>> import torch
    >>> y = torch.tensor([0, 0, 1, 1, 2, 3])
    >>> validation_classes(RunData(y, y, y[4:5], y[4:5], y, y, tuple("abcd"), (0, 1), (3,), (2,)))
    ((2,), 'classes')
    >>> validation_classes(RunData(y, y, y[1:3], y[1:3], y, y, tuple("abcd"), (0, 1), (3,)))
    ((0, 1), 'images')
    """
    if data.val_classes:
        return tuple(data.val_classes), "classes"
    if not len(data.val_y):
        return (), "none"
    return tuple(int(c) for c in data.val_y.unique().tolist()), "images"


def _processes_line(world: int, batches: Any, offline: bool) -> str:
    """What a data-parallel run's step is: every process draws its own P x K batch (the
    convention of PyTorch DDP and pytorch-metric-learning), so a step trains on ``world`` of them
    and ``train.steps_per_epoch`` is shared out; the loss sees them all unless mining offline."""
    p, k = batches.sampler.p, batches.k  # p: at most the classes there are
    sees = "each process's own" if offline else "all of them, gathered"
    return (
        f"{world:,} processes: each draws its own batch of {counted(p, 'class', 'classes')} x "
        f"{counted(k, 'image')}, so a step trains on {counted(world * p * k, 'image')} (the loss "
        f"sees {sees}) and an epoch is {counted(batches.steps, 'step')} (one process: "
        f"{counted(p * k, 'image')} a step; the batch is per process)"
    )


def evaluate_run(
    cfg: RunConfig,
    out: Path,
    net: SiameseNetwork | JoinedEmbedding,
    data: RunData,
    history: list[dict[str, Any]],
    train_s: float,
    episodes: int | None = None,
    title: str = "siamkit training run",
    log: Callable[[str], None] = print,
    command: str | None = None,
    class_images: list[int] | None = None,
    *,
    _val_embeddings: ValidationEmbeddings | None = None,
) -> RunResult:
    """After training: save, calibrate on validation, save again, evaluate, write the outputs.

    ``net`` is the trained network; what is saved and evaluated is the config's
    :func:`~siamkit.training.embedding_model` of it (joined with the appearance features).
    ``class_images``: :func:`split_class_images` as the run read its data, recorded as
    ``run.class_images``. ``_val_embeddings`` is :func:`run_experiment`'s own, not the API's:
    the training's validation embeddings (an internal type of ``siamkit.training.from_config``),
    which the threshold's fit reuses while ``net`` holds the weights they were made with."""
    net = embedding_model(net, cfg.model)
    device = next(net.parameters()).device
    net.eval()
    val_classes, val_held_out = validation_classes(data)
    run = {
        "dataset": cfg.data.dataset, "train_classes": list(data.train_classes),
        "val_classes": list(val_classes), "val_held_out": val_held_out,
        "test_classes": list(data.test_classes), "train_images": len(data.train_y),
        "epochs_run": len(history), "train_seconds": round(train_s, 1),
    }  # fmt: skip
    if cfg.data.dataset == "image-folder" and cfg.data.root:
        # data.root is relative to the folder training ran in: `siamkit evaluate` run from
        # another folder still knows the training folder (and evaluates its test classes)
        run["data_root"] = str(Path(cfg.data.root).resolve())
        if class_images is not None:
            # its test images are a seeded share of each class, drawn from the classes' image
            # counts when the run read them (listed then: the folder may change or go while it
            # trains): evaluate, given no --data, reads them back only while those still hold
            run["class_images"] = class_images
    atomic_write(out / "history.json", json.dumps(history, indent=2))
    _save(net, out, cfg, data, run)  # the trained model, whatever happens next
    t0 = time.perf_counter()
    cohort_n = attach_cohort(net, data, cfg, device)
    threshold = (
        calibrate_run(net, data, cfg, device, _embeddings=_val_embeddings)
        if len(data.val_y) > 2
        else None
    )
    if threshold is not None and threshold < 0 and net.score_norm is None:
        log(_no_threshold_line(cfg.eval.threshold_target))
        threshold = None  # below every distance: no model of distances >= 0 takes it
    model_dir = _save(net, out, cfg, data, run, threshold)
    log(evaluating_line(data, held_out_images=cfg.data.train_classes is None))
    bs = cfg.train.embed_batch_size
    with shared_distance_matrices():  # a learned pair head scores all pairs once
        report, z = evaluate_model(net, data.test_x, data.test_y, cfg.eval, device, episodes, bs)
        ablations = evaluate_parts(net, data.test_x, data.test_y, cfg, device, episodes)
        if cohort_n:
            raw = evaluate_protocol(z, data.test_y, net.distance, cfg.eval, episodes)
            ablations = {"raw": raw, **ablations}
        norm = None
        if cohort_n and net.score_norm is not None:
            norm = ScoreNorm(cfg.eval.score_norm, net.score_norm.k, cohort_n, cohort_source(cfg),
                             COHORT_SOURCES["train"])  # fmt: skip
        calibration = None
        if threshold is not None:
            test = rates_at(z, data.test_y, net, threshold, threshold_seed(cfg))
            calibration = Calibration(threshold, cfg.eval.threshold_target, test)
        result = RunResult(
            cfg, history, report, calibration, norm, ablations,
            Timings(train_s, time.perf_counter() - t0), cfg.data.dataset,
            tuple(data.train_classes), tuple(data.test_classes), out, model_dir, command=command,
            val_classes=val_classes, val_held_out=val_held_out,
        )  # fmt: skip
        atomic_write(out / "metrics.json", json.dumps(result.to_dict(), indent=2))
        t1 = time.perf_counter()
        report_path = try_write_report(
            out / "report.html", report, z, data.test_y, images=to_float(data.test_x),
            class_names=list(data.class_names), history=history, title=title,
            distance=net.scoring_distance,
            **report_inputs(cfg, data, result.to_dict(), episodes, device),
            ablation={ABLATION_PARTS[k]: r for k, r in ablations.items()} or None,
        )  # fmt: skip
    log(
        f"trained in {train_s:.0f} s, evaluated in {result.timings.eval_seconds:.0f} s, "
        f"report in {time.perf_counter() - t1:.0f} s"
    )
    net.cpu()
    return dataclasses.replace(result, report_path=report_path)
