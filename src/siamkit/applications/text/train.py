"""``task: text``: fine-tune the twin transformer on pairs, triplets or (anchor, positive) pairs.

Progress bar, a checkpoint (atomic) at the end of each epoch or every ``checkpoint_every`` steps,
``--resume`` continuing from it with the same batches, autocast on CUDA (``train.amp``: bfloat16
where the GPU has it natively, else float16 with a ``GradScaler`` whose state the checkpoint keeps,
as the image path: :func:`~siamkit.training.step.mixed_precision`), optional gradient
checkpointing. It trains in one process on ``--device`` (``auto``: CUDA when available);
``torchrun`` is refused. Validation (a separate file or a seeded share of the training file)
gives the metrics and, for labelled pairs, the calibrated threshold saved with the model (the
summary and ``metrics.json`` state it as ``verification.min_similarity``, the cosine similarity a
pair must reach, as the text commands do). A half-twin's threshold is for a query (tower ``f``)
against a document (tower ``g``); the run also calibrates one for two documents, both embedded by
the document tower, on the same pairs (``verification.document_min_similarity``), which
``siamkit text dedup --threshold auto`` uses.

Each epoch's end adds a row to the run's history (``OUT/history.json``): the epoch's mean
training loss and, with validation pairs and ``train.val_metric: auto``, the validation figures
(:func:`~siamkit.applications.text.validate.validate`'s: ROC AUC and EER for 0/1 labels,
Spearman and Pearson for graded scores), printed on the epoch's line as image runs print theirs;
each validation embeds the validation texts once (``train.val_metric: none`` validates at the
end alone). The checkpoint keeps the history and the current epoch's step losses, so a resumed
run's history is an uninterrupted one's. ``OUT/report.html``
(:func:`~siamkit.applications.text.train_report.write_run_report`) draws the curves and, for 0/1
labelled validation pairs, their ROC / DET, histograms and threshold.

``--init-from MODEL`` (:attr:`TaskOptions.init_from`) is the model to fine-tune, as ``model.path``
is (a config naming another one is refused); the checkpoint and the saved model record it, and a
``--resume`` without it continues from the checkpoint's
(:func:`~siamkit.applications.text.train_resume.start_model`).

``--resume`` refuses a config other than the checkpoint's, naming the keys
(:func:`~siamkit.applications.text.train_resume.text_config_guard`): ``train.epochs`` too, since
the warm-up and decay span all the steps, and ``train.amp``; ``train.gradient_checkpointing`` and
``train.checkpoint_every`` may change. The checkpoint records its data files' sizes and
SHA-256 (:func:`~siamkit.applications.text.train_resume.data_hashes`), and a resume refuses a
file edited since under the same path, naming it
(:func:`~siamkit.applications.text.train_resume.check_data_files`). As an image run's, a resume
says where it resumes (``resuming at epoch N of E from CHECKPOINT ...``), or that a finished
run is already complete, and then ends there, changing none of its files.

The checkpoint holds what rebuilds the model besides its weights (the transformer's config, the
tokenizer files, a lexical tower's arrays:
:func:`~siamkit.applications.text.train_resume.start_files`), so a resume does not read the start
model again, which may since have been moved or deleted; a checkpoint from before it held them
reads the start model, as it did.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from siamkit.applications.text.pairs import read_examples
from siamkit.applications.text.train_checks import (
    _check_batches,
    _check_label_range,
    _check_labels,
    _check_matryoshka_model,
    _check_train,
    _check_val,
    _graded,
    _val_source,
    conflicting_labels,
    labels_read_as_scores,
    mnrl_left_out,
    validation_skipped,
)
from siamkit.applications.text.train_config import (
    TextTrainConfig,
    parse_config,
    unread_data_keys,
)
from siamkit.applications.text.train_loop import EpochBatches, _loop
from siamkit.applications.text.train_report import (
    fit_score_map,
    history_from_here_line,
    write_run_report,
)
from siamkit.applications.text.train_resume import (
    DATA_FILES,
    START,
    _setup,
    check_data_files,
    data_hashes,
    start_files,
    start_model,
    text_config_guard,
)
from siamkit.applications.text.train_split import STRATIFIED, VAL_SPLIT, _range, _split
from siamkit.applications.text.validate import document_threshold, validate
from siamkit.atomic import atomic_write
from siamkit.training.checkpoint import load_checkpoint, set_rng_state
from siamkit.training.config_io import with_plugins, without_plugins
from siamkit.training.ddp import refuse_torchrun, resolve_device
from siamkit.training.preflight import accept_saved_config
from siamkit.training.resume_note import (
    resuming_line,
    run_saved,
    saved_run_summary,
    text_finished_line,
)
from siamkit.training.step import mixed_precision
from siamkit.training.tasks import TaskOptions, TaskSummary
from siamkit.training.trainer import deterministic_on_cpu

CHECKPOINT = "checkpoint.pt"


def run(
    config: dict[str, Any], out_dir: str | os.PathLike[str], options: TaskOptions
) -> TaskSummary:
    """Fine-tune as ``config`` says; writes ``out_dir/config.yaml`` (the resolved config, before
    training), ``model``, ``metrics.json``, the checkpoint. ``out_dir``: a str or a path."""
    with tempfile.TemporaryDirectory(prefix="siamkit-text-") as tmp:
        return _run(config, Path(out_dir), options, Path(tmp))


def check_config(config: dict[str, Any], options: TaskOptions) -> None:
    """The run's checks of ``config`` with ``options`` (``--set``, ``--device``, ``--init-from``
    against ``model.path``), as :func:`run` makes them before it reads the data or writes
    anything, less those of the run's folder (``--resume``'s checkpoint): its error, or nothing
    (``task: text``'s :func:`~siamkit.training.tasks.register_task` ``check``)."""
    cfg = parse_config(config, options.overrides)
    resolve_device(options.device)
    if not options.resume:  # a resume's start model is its checkpoint's, read in its folder
        start_model(cfg, options.init_from)


def _resume_is_complete(
    state: dict[str, Any], cfg: TextTrainConfig, out_dir: Path, log: Callable[[str], None]
) -> TaskSummary | None:
    """A ``--resume`` of a checkpoint (``state``) that trained all of ``train.epochs``, whose
    model and ``metrics.json`` are saved: says the run is already complete and how to train
    longer (:func:`~siamkit.training.resume_note.text_finished_line`), and returns the run's
    summary as it finished, before anything is written (validating and saving it again
    rewrote its model, metrics and report). ``None`` otherwise: epochs are left, or the run
    stopped before its model was saved (which the resume then saves)."""
    done = int(state["epoch"])
    if done < cfg.train.epochs or not run_saved(out_dir):
        return None
    ckpt = out_dir / CHECKPOINT
    log(text_finished_line(ckpt, done, cfg.train.epochs, out_dir, cfg.model.path, complete=True))
    names = {"metrics": "metrics.json", "history": "history.json", "config": "config.yaml",
             "report": "report.html"}  # fmt: skip
    return saved_run_summary(out_dir, names)


def _run(config: dict[str, Any], out_dir: Path, options: TaskOptions, tmp: Path) -> TaskSummary:
    config, own_plugins = without_plugins(config)
    cfg = parse_config(config, options.overrides)
    ckpt_path = out_dir / CHECKPOINT
    if options.resume and not ckpt_path.is_file():
        raise ValueError(f"--resume: {ckpt_path} does not exist")
    refuse_torchrun("text")
    device = resolve_device(options.device)
    state = load_checkpoint(ckpt_path, map_location=device) if options.resume else {}
    cfg, init_from = start_model(cfg, options.init_from, options.resume, state.get("config"))
    guard = text_config_guard(cfg, init_from)
    log = options.log or print
    if options.resume:  # refused before anything is written; an older checkpoint has no config
        accept_saved_config(state, guard)
        if (complete := _resume_is_complete(state, cfg, out_dir, log)) is not None:
            return complete  # said so, and nothing changed
    data_notes: list[str] = []  # whole 0s and 1s among graded scores
    # the data files' contents: a resume refuses one edited since the run started, before the
    # examples it now holds are read and checked
    hashes = data_hashes(cfg)
    saved_files = state.get(DATA_FILES)  # None: a checkpoint from before they were recorded
    if options.resume and (note := check_data_files(saved_files, hashes, cfg, ckpt_path)):
        data_notes.append(note)
    examples = read_examples(
        cfg.data.train,
        cfg.data.format,
        cfg.data.columns,
        _range(cfg),
        columns_key="data.columns",
        notes=data_notes,
    )
    # a checkpoint from before the validation share was stratified keeps the share it drew
    stratify = not options.resume or state.get(VAL_SPLIT) == STRATIFIED
    train_ex, val_ex, split_notes = _split(examples, cfg, stratify)
    _check_label_range(cfg, examples, val_ex)
    _check_labels(val_ex, cfg, f"validation pairs ({_val_source(cfg, examples)})")
    _check_val(val_ex, cfg, examples)
    _check_train(train_ex, cfg)
    plan = EpochBatches(train_ex, cfg)  # every epoch's batches, drawn once
    _check_batches(train_ex, cfg, plan)
    for line in [*data_notes, *split_notes]:
        log(line)
    if note := unread_data_keys(cfg):
        log(note)
    if note := labels_read_as_scores(cfg, examples, val_ex):
        log(note)
    if note := conflicting_labels(cfg, examples):
        log(note)
    if note := validation_skipped(cfg, examples):
        log(note)
    if note := mnrl_left_out(train_ex, cfg, plan):
        log(note)
    torch.manual_seed(cfg.train.seed)
    saved_start = state.get(START)  # absent in a checkpoint from before it was saved
    model = _setup(cfg, device, init_from, None if saved_start is None else (saved_start, tmp))
    rebuild = saved_start or start_files(model)
    if init_from is not None and not options.resume:
        log(f"starting from the weights of {init_from}")
    if model.threshold is not None:  # calibrated for the start model's weights, not these
        log(
            f"the threshold of {cfg.model.path} ({model.threshold:.4g}) is not kept: the "
            "fine-tuned model has only one this run calibrates (on 0/1 labelled validation pairs)"
        )
        model.threshold = None
    # a half-twin start model's document-document threshold: for its weights too, not these
    model.document_threshold = None
    _check_matryoshka_model(cfg, model, log)
    if model.matryoshka_dims and not cfg.loss.matryoshka:
        log(
            f"the embedding sizes {model.matryoshka_dims} that {cfg.model.path} was trained for "
            "are not kept: this run trains the full size alone (loss matryoshka keeps them)"
        )
    model.matryoshka_dims = [d for d, _ in cfg.loss.matryoshka] or None
    total = sum(plan.counts)  # every epoch's own count: under loss mnrl they may differ
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    warm = max(1, int(cfg.train.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    amp, scaler = mixed_precision(cfg.train.amp, device)  # the image path's rule
    start_epoch, start_step = 0, 0
    # one row per epoch ended (a checkpoint from before they were kept: from this session on)
    history: list[dict[str, Any]] = list(state.get("history") or [])
    if options.resume:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        # absent in a checkpoint from before it was saved, None in a bfloat16 or CPU run's
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        start_epoch, start_step = state["epoch"], state["step"]
        if isinstance(state["rng"], dict):  # every generator, the GPU's (dropout there) too
            set_rng_state(state["rng"])
        else:  # a checkpoint from before: the CPU generator alone
            torch.set_rng_state(state["rng"].cpu())  # loaded onto the device with the rest
        if start_epoch >= cfg.train.epochs:  # its model was not saved (_resume_is_complete)
            # train.epochs may not change on resume: the advice is a new run from the model
            log(
                text_finished_line(
                    ckpt_path, start_epoch, cfg.train.epochs, out_dir, cfg.model.path
                )
            )
        else:  # as an image run's resume says it
            steps = plan.counts[start_epoch]
            log(resuming_line(ckpt_path, start_epoch, cfg.train.epochs, start_step, steps))
        if "history" not in state and (start_epoch or start_step):
            log(history_from_here_line(ckpt_path, start_epoch, start_step, cfg.train.epochs))
    out_dir.mkdir(parents=True, exist_ok=True)
    # the resolved config, as the other tasks write it (model.path: the model fine-tuned, the
    # --init-from one too), so that `siamkit train OUT/config.yaml --resume` continues the run
    resolved = yaml.safe_dump(
        with_plugins({"task": "text", **dataclasses.asdict(cfg)}, [*options.plugins, *own_plugins]),
        sort_keys=False,
    )
    atomic_write(out_dir / "config.yaml", resolved)
    graded = _graded(examples, val_ex)
    last_val: dict[str, Any] = {}  # the latest epoch's validation: the end's when it is the last

    def per_epoch() -> dict[str, Any]:
        assert val_ex is not None
        last_val.clear()
        last_val.update(validate(model, val_ex, graded=graded))
        return last_val

    validating = val_ex is not None and cfg.train.val_metric != "none"
    with deterministic_on_cpu(device):  # a seeded or resumed run gives the same weights
        losses = _loop(
            model,
            cfg,
            train_ex,
            plan,
            opt,
            sched,
            (start_epoch, start_step),
            ckpt_path,
            amp,
            options.progress,
            guard.state_dict(),
            rebuild,
            scaler=scaler,
            history=history,
            epoch_losses=state.get("epoch_losses"),
            val=per_epoch if validating else None,
            log=log,
            recorded={DATA_FILES: hashes, VAL_SPLIT: STRATIFIED if stratify else None},
        )
    model.eval()
    # a finished run resumed trains no step: its last loss is the checkpoint's
    final_loss = losses[-1] if losses else state.get("last_loss")
    metrics = {"train.final_loss": final_loss, "train.steps": total}
    if val_ex is not None:  # the last epoch's validation is the end's (the same weights)
        metrics.update(dict(last_val) if last_val else validate(model, val_ex, graded=graded))
    # the model keeps its threshold as a cosine distance; the run reports it as the text
    # commands state it (`siamkit text similarity`: similarity >= x), not as image runs do
    threshold = metrics.pop("verification.threshold", None)
    if threshold is not None:
        metrics["verification.min_similarity"] = 1 - threshold
        if not model.share_weights:  # dedup compares documents: its threshold, saved too
            assert val_ex is not None  # a calibrated threshold comes from validation pairs
            model.document_threshold = document_threshold(model, val_ex)
            metrics["verification.document_min_similarity"] = 1 - model.document_threshold
    model.score_map = fit_score_map(model, train_ex, _range(cfg))
    if model.score_map is not None:
        metrics["score_map.knots"] = len(model.score_map.x)
    from siamkit.export.bundle import save_model

    meta: dict[str, Any] = {"task": "text"}
    if init_from is not None:
        meta["init_from"] = init_from
    model_dir = save_model(model, out_dir / "model", threshold=threshold, metadata=meta)  # type: ignore[arg-type]
    atomic_write(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write(out_dir / "history.json", json.dumps(history, indent=2))
    files = {
        "metrics": out_dir / "metrics.json",
        "history": out_dir / "history.json",
        "config": out_dir / "config.yaml",
    }
    report = write_run_report(
        out_dir / "report.html", model, val_ex, graded, history, metrics, threshold
    )
    if report is not None:
        files["report"] = report
    return TaskSummary(model_dir, metrics, files)
