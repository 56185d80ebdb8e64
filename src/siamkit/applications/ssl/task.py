"""``siamkit train`` for ``task: ssl``: self-supervised training, then a normal siamkit bundle.

Outputs in ``out_dir``: ``config.yaml`` (resolved), ``checkpoint.pt`` (every epoch),
``history.json`` (loss, kNN monitor, collapse std, images/s per epoch; from the first checkpoint
on, so a run stopped before it leaves ``config.yaml`` alone, as an image run does), ``metrics.json``,
``report.html`` (the training curves and the collapse monitor; a run stopped on a collapse
writes it too, with history.json, and no model) and
``model/``: a :class:`~siamkit.models.SiameseNetwork` whose metadata names the method; it embeds
with the trained embedding head (``ssl.embed: head``, the default), or with the backbone's pooled
features, L2-normalised (``ssl.embed: backbone``; the trained head then only trains); the
projector and the predictor are dropped. Everything is
checked before anything is written. Under ``torchrun`` only rank 0 writes (and logs); the other
processes train and return a summary without a model. ``--resume`` says where it resumes, as an
image run's does, or that the run is already complete, and then ends there, changing none of its
files (:func:`_resume_is_complete`).

>>> run({"method": "simclr", "data": {"dataset": "digits"}}, Path("runs/ssl"), TaskOptions())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from torch import Tensor

from siamkit.applications.ssl.config import (
    SSLConfig,
    apply_ssl_overrides,
    ssl_config_from_dict,
    ssl_config_to_dict,
)
from siamkit.applications.ssl.data import SSLData, check_folders, load_ssl_data
from siamkit.applications.ssl.methods import SelfSupervised, embedding_network
from siamkit.applications.ssl.monitor import monitor_k, smallest_class
from siamkit.applications.ssl.trainer import (
    CHECKPOINT,
    CollapseError,
    build_ssl_trainer,
    check_batch_fits,
    check_resume,
    check_same_images,
    fit,
)
from siamkit.atomic import atomic_write
from siamkit.clauses import counted
from siamkit.data.folder_cache import cache_folder, image_cache
from siamkit.export.bundle import save_model
from siamkit.models import SiameseNetwork
from siamkit.progress import progress_off
from siamkit.training.builders import build_model
from siamkit.training.config_io import with_plugins, without_plugins
from siamkit.training.ddp import finish_distributed, resolve_device
from siamkit.training.resume_note import nothing_resumed_line
from siamkit.training.tasks import TaskOptions, TaskSummary
from siamkit.training.trainer import seed_everything


def _write_json(path: Path, doc: Any) -> None:
    atomic_write(path, json.dumps(doc, indent=2))


def build_ssl_model(
    cfg: SSLConfig, data: SSLData, init_from: str | None = None, resume: bool = False
) -> SelfSupervised:
    """The network (seeded by ``train.seed``) with the method's training heads; ``init_from``
    (or ``model.init_from``) starts the network from a saved model's weights, unless ``resume``
    (the checkpoint's weights replace them: that model is not read, and may be gone)."""
    mean, std = data.channel_stats()
    seed_everything(cfg.train.seed)
    net = build_model(cfg.model, data.input_shape, mean, std)
    if not isinstance(net, SiameseNetwork):
        raise ValueError(
            "self-supervised training takes a network alone: remove model.appearance (its "
            "features can be joined to the trained model with siamkit.models.JoinedEmbedding)"
        )
    source = init_from or getattr(cfg.model, "init_from", None)
    if source and not resume:
        from siamkit.training.init_from import init_from_model

        init_from_model(net, source)
    return SelfSupervised(net, cfg.method, cfg.ssl)


def _metadata(
    cfg: SSLConfig, data: SSLData, history: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    last = history[-1]
    run: dict[str, Any] = {
        "train_seconds": round(seconds, 1),
        "dataset": cfg.data.dataset,
        "train_classes": list(data.train_classes) if data.train_classes else None,
        "test_classes": list(data.test_classes) if data.test_classes else None,
        "labels_used": False,
    }
    if cfg.data.root is not None:
        # data.root as the config gave it (kept in config) is relative to the folder training
        # ran in: `siamkit evaluate` run from another folder still knows the training folder
        run["data_root"] = str(Path(cfg.data.root).resolve())
    if cfg.data.val_root is not None:  # the same for the labelled folder (export --int8 reads it)
        run["val_root"] = str(Path(cfg.data.val_root).resolve())
    started: dict[str, Any] = {}
    init_from = getattr(cfg.model, "init_from", None)
    if init_from:  # the starting model's method and chain
        from siamkit.training.init_from import started_from_record

        started["started_from"] = started_from_record(init_from)
    return {
        **started,
        "self_supervised": {
            "method": cfg.method,
            "epochs": len(history) - 1,
            "images": int(data.train_x.shape[0]),
            "source": data.source,
            "final_knn": last["knn"],
            "final_collapse_std": last["collapse_std"],
            "embed": cfg.ssl.embed,
        },
        "run": run,
        "config": ssl_config_to_dict(cfg),
    }


def _fewer_neighbours(knn_k: int, val_y: Tensor) -> str:
    """The note of a kNN monitor that votes among fewer than ``train.knn_k`` neighbours."""
    k, smallest = monitor_k(knn_k, val_y), smallest_class(val_y)
    return (
        f"note: the kNN monitor votes among {counted(k, 'neighbour')}, not train.knn_k = "
        f"{knn_k}: the smallest class of its labelled images has {smallest}, and a vote of more "
        "neighbours than an image's class has other images would be won by the other classes"
    )


def val_root_under_root(val_root: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether the labelled folder ``val_root`` (``data.val_root``) is read by the walk of
    ``data.root`` ``root`` that training reads its images with: a self-supervised run trains on
    every image under ``data.root``, so that folder's images are trained on too (without their
    labels), and figures measured on them (the kNN monitor's, or ``siamkit calibrate``/
    ``evaluate``'s on the run's labelled folder) are not held out. The walk's own rule
    (:func:`~siamkit.data.folders.walked_folders`) decides: a folder below ``data.root`` whose
    path there has a hidden part (``root/.labelled``) is not read, one reached through a folder
    link under it (``root/labelled -> ../elsewhere/labelled``) is."""
    from siamkit.data.folders import walked_folders

    val, top = Path(val_root).resolve(), Path(root).resolve()
    if val.is_relative_to(top) and not any(p.startswith(".") for p in val.relative_to(top).parts):
        return True  # the walk reaches it without a link (a quick answer, the walk's too)
    return any(Path(real) == val for real in walked_folders(top))


def _monitor_trained_on(cfg: SSLConfig, val_y: Tensor | None) -> str | None:
    """The note of a kNN monitor whose labelled folder (``data.val_root``) lies under
    ``data.root``: its images are trained on too (without their labels), so its accuracy is on
    images the model has seen, not on new photos; ``None`` otherwise."""
    val_root, root = cfg.data.val_root, cfg.data.root
    if val_root is None or root is None or val_y is None:
        return None
    if not val_root_under_root(val_root, root):
        return None
    n = len(val_y)
    are = "are" if cfg.data.limit is None else "may be (data.limit keeps a sample)"
    return (
        f"note: data.val_root {val_root} lies under data.root {root}, so its "
        f"{counted(n, 'labelled image')} {are} trained on too (without their labels): the kNN "
        "accuracy is on images the model has seen; keep the labelled folder out of data.root to "
        "monitor it on unseen ones"
    )


def run(
    config: dict[str, Any],
    out_dir: str | os.PathLike[str],
    options: TaskOptions | None = None,
) -> TaskSummary:
    """Train as ``config`` says and save the network (see the module docstring).

    Args:
        config: a ``task: ssl`` YAML mapping (``yaml.safe_load`` of ``configs/simclr.yaml``; its
            ``task: ssl`` key may stay), every key it leaves out at its default.
        out_dir: the run's folder.
        options: resume, ``--set``-style overrides, device, ``progress`` (bars) and ``log``
            (receives the run's lines; default ``print``); default ``TaskOptions()``.

    Returns:
        The saved model's folder (``None`` on ranks other than 0), ``metrics.json``'s figures and
        the files written.
    """
    options = TaskOptions() if options is None else options
    if isinstance(config, dict) and config.get("task") == "ssl":  # a whole configs/simclr.yaml
        config = {k: v for k, v in config.items() if k != "task"}
    with progress_off(when=not options.progress):  # nor the monitor's embedding lines
        return _run(config, Path(out_dir), options)


def check_config(config: dict[str, Any], options: TaskOptions) -> None:
    """The run's checks of ``config`` with ``options`` (``--set``, ``--device``,
    ``--init-from``), made before anything is read or written: its error, or nothing
    (``task: ssl``'s :func:`~siamkit.training.tasks.register_task` ``check``)."""
    if isinstance(config, dict) and config.get("task") == "ssl":  # a whole configs/simclr.yaml
        config = {k: v for k, v in config.items() if k != "task"}
    cfg = _config(without_plugins(config)[0], options)
    resolve_device(cfg.train.device)  # each process's first step in its trainer (setup_distributed)
    if options.resume:  # a finished run's resume reads no image and no start
        return
    # then, as each process meets them before it reads an image:
    check_folders(cfg.data)
    if cfg.model.init_from:
        from siamkit.training.init_from import check_init_source

        check_init_source(cfg.model.init_from)


def check_launch(config: dict[str, Any], out_dir: Path, options: TaskOptions, world: int) -> None:
    """What each process of a ``world``-process launch of the run in ``out_dir`` refuses that
    :func:`check_config` cannot see (it has neither ``out_dir`` nor ``world``), in the
    processes' words: a ``--resume`` of a checkpoint made with another config or stopped on a
    collapse (:func:`~siamkit.applications.ssl.trainer.check_resume`), and a new run's
    ``train.batch_size`` that does not share out over the processes
    (:func:`~siamkit.training.ddp.share_of_batch`; a resume's batch is the checkpoint's, whose
    process count its trainer checks). ``siamkit train --nproc-per-node N`` makes it once,
    after :func:`check_config`, before it starts the processes
    (:func:`~siamkit.training.tasks.check_launch`); whether the batch fits the training
    images needs them read, and stays the processes'."""
    from siamkit.training.ddp import share_of_batch

    cfg = _config(without_plugins(config)[0], options)
    if options.resume:
        check_resume(out_dir / CHECKPOINT, cfg)
    else:
        share_of_batch(cfg.train.batch_size, world)


def _config(config: dict[str, Any], options: TaskOptions) -> SSLConfig:
    """``config`` (without its ``plugins:``) with ``options``' overrides, device and start."""
    doc = apply_ssl_overrides(config, options.overrides)
    if options.device != "auto":
        train = doc.get("train")
        if train is None or isinstance(train, dict):  # another is refused below, named
            doc["train"] = {**(train or {}), "device": options.device}
    if options.init_from is not None:  # recorded as model.init_from, as a supervised run does
        model_section = doc.get("model") or {}
        if isinstance(model_section, dict):
            doc["model"] = {**model_section, "init_from": options.init_from}
    return ssl_config_from_dict(doc)


def _run(config: dict[str, Any], out_dir: Path, options: TaskOptions) -> TaskSummary:
    config, own_plugins = without_plugins(config)
    cfg = _config(config, options)
    log = options.log or print
    if options.resume:  # a different config or a collapsed run: refused before anything is written
        cfg = check_resume(out_dir / CHECKPOINT, cfg)  # (model.init_from: the checkpoint's)
        complete = _resume_is_complete(out_dir, cfg, log)
        if complete is not None:  # said so, and nothing changed
            return complete
    with image_cache(cache_folder(cfg.data.cache, out_dir), log):  # data.cache: read once, kept
        data = load_ssl_data(cfg.data)
    if options.resume:  # an image folder's files since the run started: refused before writing
        check_same_images(out_dir / CHECKPOINT, data, cfg.data.root)
    # refused before anything but the image cache (data.cache) is written
    check_batch_fits(cfg.train.batch_size, data.train_x.shape[0])
    model = build_ssl_model(cfg, data, resume=options.resume)
    trainer, monitor = build_ssl_trainer(model, cfg, data, out_dir, options.progress, log)
    ctx = trainer.ctx
    if not ctx.is_main:  # another process of a torchrun launch: trains, writes and says nothing
        fit(trainer, resume=options.resume)
        finish_distributed()  # (after an error torchrun ends every process)
        return TaskSummary(model_dir=None)
    out_dir.mkdir(parents=True, exist_ok=True)
    plugins = [*options.plugins, *own_plugins]
    resolved = yaml.safe_dump(
        with_plugins({"task": "ssl", **ssl_config_to_dict(cfg)}, plugins), sort_keys=False
    )
    atomic_write(out_dir / "config.yaml", resolved)
    where = f"{ctx.world} processes on {ctx.device.type}" if ctx.enabled else str(ctx.device)
    if data.val_y is None and data.val_x is not None:  # held-out images of one class
        unlabeled = "labels unused; one class, so no kNN accuracy"
    elif data.val_y is None:
        unlabeled = "no labels, so no kNN accuracy"
    elif data.val_source is not None:  # data.val_root: labelled images apart from the training's
        unlabeled = f"no labels; kNN monitor on {data.val_source}"
    else:
        unlabeled = "labels unused"
    if cfg.model.init_from and not options.resume:  # a resume's weights are the checkpoint's
        log(f"starting from the weights of {cfg.model.init_from}")  # as a supervised run says
    # a labeled data set's own held-out images: the kNN monitor's alone
    n_val = 0 if data.val_x is None or data.val_source is not None else len(data.val_x)
    watch = "the kNN monitor" if data.val_y is not None else "the collapse check"
    held = f"; {counted(n_val, 'more image')} of them held out for {watch}"
    log(
        f"{cfg.method}: self-supervised on {data.source} ({unlabeled}) on {where}"
        f"{held if n_val else ''}"
    )
    if data.val_y is not None and monitor_k(cfg.train.knn_k, data.val_y) < cfg.train.knn_k:
        log(_fewer_neighbours(cfg.train.knn_k, data.val_y))
    if (seen := _monitor_trained_on(cfg, data.val_y)) is not None:
        log(seen)
    try:
        fitted = fit(trainer, resume=options.resume)
        history = fitted.history
    finally:  # the run so far once it has a checkpoint: one stopped before its first writes
        # no history (not the untrained epoch 0's row; siamkit train then removes its config.yaml,
        # as for an image run), and a resume refused before loading the run leaves its history
        if trainer.history and (out_dir / CHECKPOINT).exists():
            _write_json(out_dir / "history.json", trainer.history)
    finish_distributed()
    if monitor.collapsed is not None:  # no model; the report shows the collapse curve
        stopped = {"method": cfg.method, "epochs": len(history) - 1, "collapsed": monitor.collapsed}
        report = _write_report(out_dir, history, stopped, cfg, log)
        raise CollapseError(monitor.collapsed, report)
    said = nothing_resumed_line(
        fitted, cfg.train.epochs, out_dir / CHECKPOINT, out_dir, cfg.optim.schedule
    )
    if said is not None:
        log(said)
    seconds = trainer.seconds()  # with a resumed run's seconds before
    net = embedding_network(model.net.cpu().eval(), cfg.ssl.embed)
    model_dir = save_model(net, out_dir / "model", metadata=_metadata(cfg, data, history, seconds))
    last = history[-1]
    taps = int(getattr(net.head, "passthrough", 0))  # the encoder's taps, joined when embedding
    embed = f"{cfg.ssl.embed}{f' + {taps} tap features' if taps else ''}, {net.embedding_dim}-d"
    # the neighbours the kNN figure voted among: train.knn_k, or fewer for a small labelled folder
    k = {} if data.val_y is None else {"knn_k": monitor_k(cfg.train.knn_k, data.val_y)}
    metrics = {"method": cfg.method, "embed": embed,
               "epochs": len(history) - 1, "knn": last["knn"], **k,
               "collapse_std": last["collapse_std"], "train_seconds": round(seconds, 1)}  # fmt: skip
    _write_json(out_dir / "metrics.json", metrics)
    files = {"history": out_dir / "history.json", "metrics": out_dir / "metrics.json"}
    report = _write_report(out_dir, history, metrics, cfg, log)
    if report is not None:
        files["report"] = report
    return TaskSummary(model_dir=model_dir, metrics=metrics, files=files)


def _resume_is_complete(
    out_dir: Path, cfg: SSLConfig, log: Callable[[str], None]
) -> TaskSummary | None:
    """Before ``--resume`` writes anything, as an image run's
    (:func:`~siamkit.training.resume_note.complete_line`): when ``out_dir``'s checkpoint left no
    epoch of ``train.epochs`` to train and the run's model and ``metrics.json`` are saved, says
    the run is already complete and how to train longer, and returns the run's summary as it
    finished (training nothing: saving it again rewrote its model, report and metrics, adding
    to its train_seconds); else says where it resumes (``resuming at epoch N of E ...``) and
    returns ``None``. A checkpoint of a run stopped before its model was saved is trained on
    (no epoch) and saved, as before."""
    from siamkit.training.ddp import is_main_process
    from siamkit.training.resume_note import resume_note, saved_run_summary

    note = resume_note(out_dir / CHECKPOINT, cfg.train.epochs, cfg.optim.schedule)
    if note is None:
        return None  # its model is saved now (nothing_resumed_line says why no epoch trained)
    said, complete = note
    if not is_main_process():  # another process of a torchrun launch says nothing
        return TaskSummary(model_dir=None) if complete else None
    log(said)
    if not complete:
        return None
    names = {"history": "history.json", "metrics": "metrics.json", "report": "report.html"}
    return saved_run_summary(out_dir, names)


def _write_report(
    out_dir: Path,
    history: list[dict[str, Any]],
    metrics: dict[str, Any],
    cfg: SSLConfig,
    log: Callable[[str], None],
) -> Path | None:
    """``out_dir/report.html`` (None without matplotlib, said in ``log``)."""
    try:
        from siamkit.applications.ssl.report import write_ssl_report

        return write_ssl_report(out_dir / "report.html", history, metrics, cfg.ssl.collapse_std)
    except ImportError:  # plotting needs matplotlib (the [report] extra); the run stands without
        log("matplotlib is not installed: no report.html")
        return None
