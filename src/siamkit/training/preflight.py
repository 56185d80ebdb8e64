"""Checks a run makes before it writes anything: each refusal is one sentence naming the key.

:func:`~siamkit.experiment.run.run_experiment` (``siamkit train``) and
:func:`~siamkit.tuning.run_study` (``siamkit tune``) call them after loading the data and
building the model, so a config that cannot train (or resume) leaves no ``config.yaml``, no
checkpoint and no study behind.

* :func:`check_resumable`: ``--resume`` with a checkpoint made by the same config
  (:func:`resumable_state`: the same check for any run's config guard; :func:`resumed_model`:
  a resume without ``--init-from`` keeps the ``model.init_from`` the run started from).
* :func:`check_positives`: a loss that learns from same-class pairs gets classes of 2 images.
* :func:`check_input_size`: the model takes images of the data's size (a dummy forward pass).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from siamkit.atomic import same_file
from siamkit.clauses import in_number
from siamkit.launch_env import env_world
from siamkit.training.config import ModelConfig, RunConfig
from siamkit.training.data import RunData
from siamkit.training.ddp import check_resumed_world

if TYPE_CHECKING:
    from siamkit.training.config_guard import ConfigGuard

#: Losses that pull each embedding towards a learned class proxy (or class weight) rather than
#: towards other images of its class: they train on classes of a single image.
PROXY_LOSSES = frozenset(
    {"proxy_anchor", "proxy_nca", "soft_triple", "sub_center_arcface", "normalized_softmax"}
)


def needs_positives(loss_kind: str) -> bool:
    """Whether ``loss.kind`` learns from pairs of images of one class (every loss but a proxy one)."""
    return loss_kind not in PROXY_LOSSES


def _proxies() -> str:
    return ", ".join(sorted(PROXY_LOSSES))


def check_labels_per_class(cfg: RunConfig) -> None:
    """``data.labels_per_class: 1`` with a loss that needs positive pairs, refused from the config
    alone (before any data is read)."""
    if cfg.data.labels_per_class == 1 and needs_positives(cfg.loss.kind):
        raise ValueError(
            f"data.labels_per_class = 1 keeps one image of each class, but loss.kind = "
            f"{cfg.loss.kind} learns from two images of a class (positive pairs): keep at least "
            f"2, or use a proxy loss ({_proxies()})"
        )


def check_positives(cfg: RunConfig, data: RunData) -> None:
    """Refuse training classes of a single image when ``loss.kind`` learns from positive pairs:
    P×K batches would repeat the image as its own positive (a distance of 0, no signal).

    (``data.labels_per_class: 1`` is refused from the config alone, when it is read:
    :func:`check_labels_per_class`; a config built without the reader is refused here, by its data.)
    """
    if not needs_positives(cfg.loss.kind) or data.train_y.numel() == 0:
        return
    counts = torch.bincount(data.train_y)
    single = [c for c in data.train_classes if c < counts.numel() and int(counts[c]) == 1]
    if not single:
        return
    from siamkit.clauses import listing

    shown = listing([repr(data.class_names[c]) for c in single], 5)
    after, fix = "", ""
    if cfg.data.labels_per_class == 1:
        after, fix = " after data.labels_per_class = 1", "keep at least 2 labels per class, "
    elif cfg.data.limit is not None:
        after, fix = f" after data.limit = {cfg.data.limit}", "raise data.limit, "
    raise ValueError(
        f"training {in_number(len(single), 'class', 'classes')} {shown} "
        f"{in_number(len(single), 'has', 'have')} a single training image{after}, but loss.kind = "
        f"{cfg.loss.kind} learns from two images of a class (positive pairs): {fix}give "
        f"{'that class' if len(single) == 1 else 'those classes'} more images, or use a proxy "
        f"loss ({_proxies()})"
    )


def _fits(model: nn.Module, shape: tuple[int, ...]) -> bool:
    try:
        model.embed(torch.zeros(2, *shape), check=False)  # type: ignore[operator]
    except (RuntimeError, ValueError, IndexError):
        return False
    return True


def _smallest_size(model: nn.Module, channels: int, failed: int, limit: int = 1024) -> int | None:
    """The smallest square size above ``failed`` the model embeds (doubling, then bisecting)."""
    lo, hi = failed, max(failed + 1, 2 * failed)
    while not _fits(model, (channels, hi, hi)):
        lo, hi = hi, 2 * hi
        if hi > limit:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _fits(model, (channels, mid, mid)) else (mid, hi)
    return hi


def _honours_size(dataset: str) -> bool:
    """Whether data source ``dataset`` reads its images at ``data.image_size`` (it takes the
    parameter and is not one of :data:`~siamkit.data.sources.FIXED_SIZES`, which refuse
    another size)."""
    import inspect

    from siamkit.data.sources import DATA_SOURCES, FIXED_SIZES

    if dataset in FIXED_SIZES or dataset not in DATA_SOURCES:
        return False
    return "image_size" in inspect.signature(DATA_SOURCES.get(dataset)).parameters


def check_input_size(net: nn.Module, cfg: RunConfig, input_shape: tuple[int, ...]) -> None:
    """Embed two blank inputs of ``input_shape`` with the model the run trains and saves; refuse
    images too small for its encoder (or appearance features), naming ``data.image_size`` and,
    when one is found, the smallest square size that works."""
    if len(input_shape) != 3:
        return
    from siamkit.training.builders import embedding_model

    model = embedding_model(net, cfg.model)  # type: ignore[arg-type]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if _fits(model, input_shape):
                return
            c, h, w = input_shape
            smallest = _smallest_size(model, c, max(h, w))
    finally:
        model.train(was_training)
    from siamkit.training.parts import data_part

    _, params = data_part(cfg.data)
    what = f"the {cfg.data.dataset} images ({h}×{w})"
    if "image_size" in params and h == w == cfg.data.image_size:
        what = f"data.image_size = {cfg.data.image_size}"
    elif cfg.data.image_size is None and h == w and _honours_size(cfg.data.dataset):
        # unset, the source read them at its own size: the key is still what to set
        what = f"data.image_size, left unset ({h} for {cfg.data.dataset}),"
    hint = f"; the smallest size that works is {smallest}" if smallest is not None else ""
    raise ValueError(
        f"{what} is too small for model.encoder = {cfg.model.encoder} (it fails on {h}×{w} "
        f"images){hint}"
    )


def run_config_guard(cfg: RunConfig) -> ConfigGuard:
    """The :class:`~siamkit.training.config_guard.ConfigGuard` of an embedding run of ``cfg`` (the
    trainer holds it; :func:`check_resumable` asks it before anything is written): a onecycle
    schedule fixes ``train.epochs``."""
    from siamkit.training.config_guard import ConfigGuard
    from siamkit.training.config_io import config_to_dict

    return ConfigGuard(
        _located(config_to_dict(cfg)), cfg.optim.schedule == "onecycle", read=_read_located
    )


def _located(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a run config's dict) with ``data.root`` as the absolute folder it names from
    the current folder: what the checkpoint records and compares, so ``./data/x``, ``data/x``
    and its absolute path are one folder, and a resume from another folder knows the data."""
    data = config.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("root"), str):
        return config
    return {**config, "data": {**data, "root": str(Path(data["root"]).resolve())}}


def _read_located(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's config as the guard compares it: :func:`_located` (a checkpoint made
    before runs recorded the absolute ``data.root`` has the root as given, taken from here)."""
    from siamkit.training.config_guard import read_run_config

    return _located(read_run_config(saved, now))


def _recorded_root(cfg: RunConfig, saved: Any) -> RunConfig:
    """``cfg`` with the checkpoint's absolute ``data.root`` when ``cfg`` gives a relative root
    that is no folder from here but names that folder from where the run was started (a resume
    from another folder with the run's own config); otherwise ``cfg``."""
    root = cfg.data.root
    section = saved.get("data") if isinstance(saved, dict) else None
    recorded = section.get("root") if isinstance(section, dict) else None
    if root is None or not isinstance(recorded, str) or not Path(recorded).is_absolute():
        return cfg
    given = Path(os.path.normpath(root))
    if given.is_absolute() or given.is_dir() or ".." in given.parts:
        return cfg
    if Path(recorded).parts[-len(given.parts) :] != given.parts:
        return cfg
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, root=recorded))


def check_resumable(
    cfg: RunConfig,
    checkpoint: str | os.PathLike[str],
    state: dict[str, Any] | None = None,
    world: int | None = None,
) -> RunConfig:
    """Returns the config to run with (``cfg`` with the ``model.init_from`` the run started
    from, :func:`resumed_model`): callers must use it, not ``cfg``. Refuses ``--resume`` before
    anything is written: no checkpoint, one made by another process count (torchrun's
    ``WORLD_SIZE``: :func:`~siamkit.training.ddp.check_resumed_world`), or by another config
    (the run's :func:`run_config_guard` decides; ``data.root`` compares by the folder it
    names). A relative ``data.root`` that is no folder from here but is the checkpoint's folder
    from where the run was started (the run's own config, resumed from another folder) becomes
    that folder. ``state``: the checkpoint already read by the caller (else it is read here).
    ``world``: the process count of a launch about to start (``siamkit train --nproc-per-node
    N --resume`` checks the checkpoint once before it starts the processes), in place of this
    process's ``WORLD_SIZE``.
    """
    from siamkit.training.checkpoint import load_checkpoint

    if state is None:
        state = load_checkpoint(Path(checkpoint))
    check_resumed_world(state.get("world"), env_world() if world is None else world)
    cfg = dataclasses.replace(cfg, model=resumed_model(cfg.model, state.get("config")))
    cfg = _recorded_root(cfg, state.get("config"))
    accept_saved_config(state, run_config_guard(cfg))
    return cfg


def resumed_model(model: ModelConfig, saved: Any) -> ModelConfig:
    """``model`` of a resumed run whose checkpoint recorded the config ``saved``, with the
    ``model.init_from`` of :func:`resumed_init_from`."""
    return dataclasses.replace(model, init_from=resumed_init_from(saved, model.init_from))


def resumed_init_from(saved: Any, given: str | None) -> str | None:
    """The ``model.init_from`` of a resumed run whose checkpoint recorded the config ``saved``:
    the checkpoint's when ``given`` is ``None``, so a resume needs no ``--init-from`` and the run
    still records where it started. A resume never reads that model (the checkpoint's weights
    replace the ones it gave), so it may since have been moved or deleted.

    Raises:
        ValueError: ``given`` is another model than the run started from, or the run started
            from none.
    """
    section = saved.get("model") if isinstance(saved, dict) else None
    started = section.get("init_from") if isinstance(section, dict) else None
    if given is None or given == started:
        return started
    if started is None:
        raise ValueError(
            f"the checkpoint's run did not start from a saved model: resume without "
            f"--init-from / model.init_from {given}"
        )
    if same_file(given, started):  # the same folder spelt otherwise (it may since be gone)
        return started
    raise ValueError(
        f"the checkpoint's run started from --init-from / model.init_from {started}, not "
        f"{given}: resume without --init-from / model.init_from (the checkpoint holds the "
        "weights), or start a new run in another --out"
    )


def resumable_state(checkpoint: str | os.PathLike[str], guard: ConfigGuard) -> dict[str, Any]:
    """The state in ``checkpoint``, once ``guard`` (the run's config guard, as the trainer will
    hold it) accepts the config it was made with: any run's ``--resume`` check, made before
    anything is written.

    Raises:
        FileNotFoundError: there is no checkpoint.
        ValueError: a different config, named by key (or an unreadable checkpoint).
    """
    from siamkit.training.checkpoint import load_checkpoint

    state = load_checkpoint(Path(checkpoint))
    accept_saved_config(state, guard)
    return state


def accept_saved_config(state: dict[str, Any], guard: ConfigGuard) -> None:
    """Have ``guard`` check the config a loaded checkpoint ``state`` was made with, if it
    recorded one (:func:`resumable_state` of a checkpoint already read).

    Raises:
        ValueError: a different config, named by key.
    """
    saved = state.get(guard.key)
    if saved is not None:
        guard.load_state_dict(saved)


__all__ = [
    "PROXY_LOSSES",
    "accept_saved_config",
    "check_input_size",
    "check_labels_per_class",
    "check_positives",
    "check_resumable",
    "needs_positives",
    "resumable_state",
    "resumed_init_from",
    "resumed_model",
    "run_config_guard",
]
