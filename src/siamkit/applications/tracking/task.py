"""``siamkit train`` with ``task: siamfc``: train a SiamFC tracker, score it on validation sequences, save it.

Config sections (``configs/siamfc.yaml``): ``model`` (backbone, backbone_kwargs, init_from), ``tracker``
(:class:`TrackerParams` overrides), ``data`` (``root``: a folder of GOT-10k / OTB sequences, or
synthetic pairs of ``split``), ``train`` (:class:`TrainSettings`; trained by siamkit's Trainer) and
``eval`` (synthetic validation sequences). Writes ``OUT/checkpoint.pt``, ``OUT/model/``,
``OUT/metrics.json`` and ``OUT/config.yaml``. Under ``torchrun --nproc_per_node=N`` the training is
data-parallel (:func:`~siamkit.applications.tracking.train.train_siamfc`); only rank 0 writes,
logs and validates.

``model.init_from`` (``--init-from``) starts the training from a saved tracker's weights (a folder,
or ``builtin``: the tracker that ships with siamkit) of the config's backbone; ``--resume``
needs none (the checkpoint records it and holds the weights), and refuses another.

``--resume`` refuses a config other than the checkpoint's, naming the keys
(:func:`tracker_config_guard`): ``train.steps`` too, since the learning rate decays over them.
"""

from __future__ import annotations

import json
import os
import time
import types
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
import yaml

from siamkit.applications.tracking.backbones import create_backbone
from siamkit.applications.tracking.evaluate import evaluate_tracker
from siamkit.applications.tracking.model import SiamFCNet, TrackerParams, save_tracker
from siamkit.applications.tracking.pairs import PairSource, SequencePairs, SyntheticPairs
from siamkit.applications.tracking.params import read_saved_sizes
from siamkit.applications.tracking.pretrained import BUILTIN_NAME, tracker_folder
from siamkit.applications.tracking.tracker import SiamFCTracker
from siamkit.applications.tracking.train import TrainSettings, steps_done, train_siamfc
from siamkit.atomic import atomic_write, written_here
from siamkit.data.synthetic_tracking import SPLITS, synthetic_sequences
from siamkit.data.tracking_sequences import read_sequences
from siamkit.training.checkpoint import load_checkpoint
from siamkit.training.config_guard import ConfigGuard
from siamkit.training.config_io import with_plugins, without_plugins
from siamkit.training.config_sections import _coerce as config_value
from siamkit.training.config_sections import _section as config_section
from siamkit.training.config_sections import unknown_keys_message, unknown_sections_message
from siamkit.training.ddp import finish_distributed, is_main_process, resolve_device
from siamkit.training.preflight import accept_saved_config, resumed_init_from
from siamkit.training.resume_note import tracker_nothing_resumed_line
from siamkit.training.tasks import TaskOptions, TaskSummary

DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {"backbone": "small", "backbone_kwargs": {}, "init_from": None},
    "tracker": {},
    "data": {
        "root": None,
        "split": "train",
        "n_frames": 100,
        "frame_size": [384, 288],
        "max_gap": 50,
    },
    "train": {f.name: f.default for f in fields(TrainSettings)},
    "eval": {
        "split": "val",
        "n_sequences": 6,
        "n_frames": 100,
        "frame_size": [384, 288],
        "seed": 0,
    },
}


#: What a resume may change (besides ``eval``, read only by the validation after training): the
#: session's ``train`` time limit and CPU threads, and the ``tracker`` parameters only tracking
#: reads (the validation after training and the saved model; training crops its pairs with
#: exemplar_size, instance_size and context).
RESUME_MAY_CHANGE: dict[str, tuple[str, ...]] = {
    "train": ("max_minutes", "threads"),
    "tracker": tuple(
        f.name
        for f in fields(TrackerParams)
        if f.name not in ("exemplar_size", "instance_size", "context")
    ),
}


def _override(cfg: dict[str, Any], item: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or "." not in key:
        raise ValueError(f"--set takes section.key=value, got {item!r}")
    section, name = key.split(".", 1)
    if section not in DEFAULTS:  # was set aside unread: the run kept the default
        raise ValueError(unknown_sections_message([section], DEFAULTS, f" in --set {item!r}"))
    cfg.setdefault(section, {})[name] = yaml.safe_load(raw)


def resolve_config(
    config: dict[str, Any], overrides: tuple[str, ...] = (), resume: bool = False
) -> dict[str, Any]:
    """Defaults + the YAML document + ``--set`` overrides; unknown sections or keys are refused
    (a top-level ``plugins:`` is imported and dropped). A new run's crop sizes off the backbones'
    grid are refused; a run resumed (``resume``) may have started before they were, so its
    ``instance_size`` is read as a saved model's is (:func:`~.params.read_saved_sizes`), which
    the checkpoint's is compared as (:func:`_resumable`)."""
    cfg: dict[str, Any] = {k: dict(v) for k, v in DEFAULTS.items()}
    for section, values in without_plugins(config)[0].items():
        if section not in DEFAULTS:
            raise ValueError(unknown_sections_message([section], DEFAULTS, " in a siamfc config"))
        if not isinstance(values, dict):
            raise ValueError(f"section {section!r} must be a mapping")
        cfg[section].update(values)
    for item in overrides:
        _override(cfg, item)
    for section in ("data", "eval", "model"):
        unknown = [k for k in cfg[section] if k not in DEFAULTS[section]]
        if unknown:
            raise ValueError(unknown_keys_message(unknown, section, DEFAULTS[section]))
        cfg[section] = {  # unchecked, a wrong type crashed later (eval's: after the training)
            key: config_value(value, _expected(DEFAULTS[section][key]), f"{section}.{key}")
            for key, value in cfg[section].items()
        }
    if resume:
        cfg["tracker"] = read_saved_sizes(cfg["tracker"], "the resumed run's config")
    TrackerParams.from_dict(cfg["tracker"])  # validates
    _settings(cfg["train"])  # validates: an unknown key or a value of the wrong type, named
    for section in ("data", "eval"):  # read only when sequences are made, after training starts
        if cfg[section]["split"] not in SPLITS:
            raise ValueError(
                f"{section}.split must be one of {', '.join(SPLITS)}, got {cfg[section]['split']!r}"
            )
    return cfg


def _expected(default: Any) -> Any:
    """The type of a ``model``, ``data`` or ``eval`` value, from its default: ``None`` stands for
    text or nothing (a folder, a saved model), a list for a list of its first item's type."""
    if default is None:
        return str | None
    if isinstance(default, list):
        return types.GenericAlias(list, (type(default[0]),))
    if isinstance(default, dict):
        return dict[str, Any]
    return type(default)


def _settings(train: dict[str, Any]) -> TrainSettings:
    """The ``train`` section read by the shared check (unknown keys and values of the wrong
    type are refused, naming the key)."""
    settings: TrainSettings = config_section(TrainSettings, train, "train")
    return settings


def _check_root(data: dict[str, Any]) -> None:
    """Refuse a ``data.root`` that is not a folder, before any file is read."""
    if data["root"] and not Path(data["root"]).is_dir():
        # "no sequence folder at X" did not name data.root
        raise FileNotFoundError(
            f"data.root {data['root']} is not a folder; set it to a folder of GOT-10k or "
            "OTB sequences, or to null for synthetic pairs"
        )


def _source(data: dict[str, Any]) -> tuple[PairSource, str]:
    _check_root(data)
    if data["root"]:
        seqs = read_sequences(data["root"])
        return SequencePairs(seqs, data["max_gap"]), f"{len(seqs)} sequences from {data['root']}"
    size = tuple(data["frame_size"])
    src = SyntheticPairs(
        data["split"], data["n_frames"], (int(size[0]), int(size[1])), data["max_gap"]
    )
    return src, f"synthetic pairs, split {data['split']!r}, {size[0]}x{size[1]} frames"


def _resumable(cfg: dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the checkpoint, of a resolved config or the one a
    checkpoint recorded: each section with its defaults filled in (a key added since takes its
    default; ``tracker`` holds every :class:`TrackerParams` value), less
    :data:`RESUME_MAY_CHANGE`. Sections and keys the config does not know are kept, to be named."""
    defaults: dict[str, dict[str, Any]] = {**DEFAULTS, "tracker": asdict(TrackerParams())}
    out: dict[str, Any] = {}
    for name, section in cfg.items():
        if name in defaults and isinstance(section, dict):
            drop = RESUME_MAY_CHANGE.get(name, ())
            section = {k: v for k, v in {**defaults[name], **section}.items() if k not in drop}
            if name == "tracker":  # a run's checkpoint from before off-grid sizes were refused
                section = read_saved_sizes(section, "", warn=False)
        out[name] = section
    return json.loads(json.dumps(out))  # tuples as lists, as the checkpoint stores them


def _read_saved_config(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    return _resumable(saved)


def tracker_config_guard(cfg: dict[str, Any]) -> ConfigGuard:
    """The shared :class:`~siamkit.training.config_guard.ConfigGuard` of a siamfc run of the
    resolved config ``cfg``: the checkpoint records it; a resume with another config is refused, naming
    the keys. ``train.steps`` may not change: the learning rate decays from ``train.lr`` to
    ``train.final_lr`` over them, so they fix the schedule's length (as ``optim.schedule =
    onecycle`` fixes an embedding run's ``train.epochs``). ``eval`` and :data:`RESUME_MAY_CHANGE`
    may."""
    return ConfigGuard(_resumable(cfg), read=_read_saved_config, may_change=tuple(DEFAULTS["eval"]))


def _backbone(name: str, kwargs: dict[str, Any]) -> str:
    return repr(name) + (f" (backbone_kwargs {kwargs})" if kwargs else "")


def start_from_tracker(net: SiamFCNet, init_from: str) -> None:
    """Copy the weights of the saved tracker ``init_from`` (a folder, or ``builtin``) into
    ``net``; a model of another kind, or a tracker of another backbone, is refused."""
    from siamkit.export.bundle import load_model

    folder = check_tracker_start(init_from, net.backbone_name, net.backbone_kwargs)
    source = load_model(folder)
    assert isinstance(source, SiamFCNet)
    net.load_state_dict(source.state_dict())


def check_tracker_start(init_from: str, backbone: str, backbone_kwargs: dict[str, Any]) -> Path:
    """The folder of the saved tracker ``init_from`` (a folder, or ``builtin``) that a net of
    ``backbone`` (with ``backbone_kwargs``) can start from, read from its ``siamkit.json``
    alone (no weights): a missing folder, a model of another kind, or a tracker of another
    backbone is refused. :func:`start_from_tracker`'s checks, which ``siamkit train
    --nproc-per-node`` makes once before it starts the processes."""
    from siamkit.export.bundle import read_model_config

    folder = tracker_folder(init_from)
    if not folder.exists():
        raise FileNotFoundError(f"model.init_from: no saved model at {init_from}")
    saved = read_model_config(folder).get("model", {})
    kind = saved.get("kind")
    if kind != SiamFCNet.kind:
        raise ValueError(
            f"--init-from {init_from} is a {kind!r} model, not a tracker: a siamfc run starts "
            f"from a model saved by a 'task: siamfc' run, or from the built-in tracker "
            f"(--init-from {BUILTIN_NAME})"
        )
    # as SiamFCNet.from_config reads them
    have = _backbone(saved["backbone"], dict(saved.get("backbone_kwargs") or {}))
    want = _backbone(backbone, dict(backbone_kwargs or {}))
    if have != want:
        raise ValueError(
            f"--init-from {init_from} is a tracker with the {have} backbone, but the config's "
            f"model.backbone is {want}: set model.backbone to {saved['backbone']!r} (and "
            "backbone_kwargs to the tracker's), or start from a tracker of the config's backbone"
        )
    return folder


def check_config(config: dict[str, Any], options: TaskOptions) -> None:
    """The run's checks of ``config`` with ``options`` (``--set``, ``--device``,
    ``--init-from``, ``--resume``'s reading of the crop sizes), made before anything is read or
    written: its error, or nothing (``task: siamfc``'s
    :func:`~siamkit.training.tasks.register_task` ``check``)."""
    cfg = _config(config, options)
    resolve_device(cfg["train"]["device"])  # each process's first step in train_siamfc
    # then, as each process meets them before training (no file but siamkit.json is read):
    _check_root(cfg["data"])
    model = cfg["model"]
    create_backbone(model["backbone"], **dict(model["backbone_kwargs"] or {}))  # SiamFCNet's
    if model["init_from"] is not None and not options.resume:
        check_tracker_start(model["init_from"], model["backbone"], model["backbone_kwargs"])


def check_launch(config: dict[str, Any], out_dir: Path, options: TaskOptions, world: int) -> None:
    """What each process of a ``world``-process launch of the run in ``out_dir`` refuses that
    :func:`check_config` cannot see (it has neither ``out_dir`` nor ``world``), in the
    processes' words: a ``--resume`` of a checkpoint made with another config or
    ``--init-from`` (:func:`_check_resumed`), and a new run's ``train.batch_size`` that does
    not share out over the processes (:func:`~siamkit.training.ddp.share_of_batch`; a resume's
    batch is the checkpoint's, whose process count its trainer checks). ``siamkit train
    --nproc-per-node N`` makes it once, after :func:`check_config`, before it starts the
    processes (:func:`~siamkit.training.tasks.check_launch`)."""
    from siamkit.training.ddp import share_of_batch

    cfg = _config(without_plugins(config)[0], options)
    if options.resume:
        _check_resumed(cfg, out_dir)
    else:
        share_of_batch(_settings(cfg["train"]).batch_size, world)


def _check_resumed(cfg: dict[str, Any], out_dir: Path) -> None:
    """Refuse to resume ``out_dir/checkpoint.pt`` with a config other than ``cfg`` (its
    ``model.init_from`` set to the one the run started from, as the resume records it)."""
    state = load_checkpoint(out_dir / "checkpoint.pt")
    saved = state.get("config")  # none in a checkpoint from before it was recorded
    cfg["model"]["init_from"] = resumed_init_from(saved, cfg["model"]["init_from"])
    accept_saved_config(state, tracker_config_guard(cfg))


def _config(config: dict[str, Any], options: TaskOptions) -> dict[str, Any]:
    """:func:`resolve_config` of ``config`` with ``options``' overrides, device and start."""
    cfg = resolve_config(config, options.overrides, options.resume)
    if options.device != "auto":
        cfg["train"]["device"] = options.device
    if options.init_from is not None:  # recorded as model.init_from, as a supervised run does
        cfg["model"]["init_from"] = options.init_from
    return cfg


def run(
    config: dict[str, Any], out_dir: str | os.PathLike[str], options: TaskOptions
) -> TaskSummary:
    """Train, validate on synthetic ``eval.split`` sequences, save ``out_dir/model``;
    ``out_dir``: a str or a path."""
    out_dir = Path(out_dir)
    config, own_plugins = without_plugins(config)
    cfg = _config(config, options)
    settings = _settings(cfg["train"])
    params = TrackerParams.from_dict(cfg["tracker"])
    if options.resume:  # refused before anything is written; the checkpoint's weights are used
        _check_resumed(cfg, out_dir)
    source, described = _source(cfg["data"])
    torch.manual_seed(settings.seed)  # the initial weights: train.seed makes the run repeatable
    net = SiamFCNet(cfg["model"]["backbone"], cfg["model"]["backbone_kwargs"], params)
    init_from = cfg["model"]["init_from"]
    if init_from is not None and not options.resume:
        start_from_tracker(net, init_from)
    main = is_main_process()  # under torchrun only rank 0 writes, logs and validates
    new_dir, config_file = not out_dir.exists(), out_dir / "config.yaml"
    new_config = not config_file.exists()
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        # with its task: line, as every task writes it, so `siamkit train OUT/config.yaml`
        # runs this task again (without it, it was read as an image run's config and refused)
        resolved = with_plugins({"task": "siamfc", **cfg}, [*options.plugins, *own_plugins])
        atomic_write(config_file, yaml.safe_dump(resolved, sort_keys=False))
    log = (options.log or (lambda _msg: None)) if main else (lambda _msg: None)
    if init_from is not None and not options.resume:
        log(f"starting from the weights of {init_from}")
    t0 = time.time()
    try:
        result = train_siamfc(
            net, source, settings, out_dir / "checkpoint.pt", options.resume, options.progress,
            log, config_guard=tracker_config_guard(cfg),
        )  # fmt: skip
    except BaseException:  # e.g. a corrupt frame: a run that saved nothing leaves nothing behind
        if main and not (out_dir / "checkpoint.pt").exists():
            if new_config and written_here(config_file):  # not a config the user saved over it
                config_file.unlink(missing_ok=True)
            if new_dir and not any(out_dir.iterdir()):
                out_dir.rmdir()
        raise
    finish_distributed()
    if not main:
        return TaskSummary(None)
    train_seconds = time.time() - t0
    said = tracker_nothing_resumed_line(
        result,
        steps_done(settings, result.resumed_at or 0),
        settings.steps,
        out_dir / "checkpoint.pt",
        out_dir,
    )
    if said is not None:
        log(said)
    ev = cfg["eval"]
    val = synthetic_sequences(
        ev["split"], ev["n_sequences"], ev["n_frames"], tuple(ev["frame_size"]), ev["seed"]
    )
    scores, _ = evaluate_tracker(lambda: SiamFCTracker(net), val)
    metrics = {
        **{f"val.{k}": v for k, v in scores.as_dict().items()},
        "train.final_loss": result.history[-1]["loss"] if result.history else float("nan"),
        "train.seconds_this_session": train_seconds,
        "train.steps": steps_done(settings, len(result.history)),
    }
    model_dir = save_tracker(
        net,
        out_dir / "model",
        metadata={
            "training_data": described,
            "train": asdict(settings),
            "metrics": metrics,
            **({"init_from": init_from} if init_from is not None else {}),
        },
    )
    atomic_write(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    log(
        f"validation (synthetic {ev['split']}): success AUC {scores.success_auc:.3f}, precision@20 {scores.precision_20:.3f}"
    )
    return TaskSummary(
        model_dir,
        metrics,
        {"metrics": out_dir / "metrics.json", "checkpoint": out_dir / "checkpoint.pt"},
    )
