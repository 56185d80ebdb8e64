"""The int8 check's data for a half-twin (``task: half_twin``): the rows of its own training data
(``data.path``: ``x`` through tower f, ``y`` through tower g, ``labels``), so that each tower is
scored on inputs of its own kind (g was given resized copies of f's images), and vector
half-twins, which have no held-out images, are checked at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siamkit.cli._int8_check import CHECK_IMAGES, CheckImages


def validation_rows(n: int, val_fraction: float, seed: int) -> Any:
    """The rows ``task: half_twin`` held out for validation, drawn as its run split them
    (:func:`~siamkit.applications.half_twin.task.split_rows` with a generator seeded with
    ``train.seed``, leaving torch's global generator alone), sorted.

    >>> validation_rows(10, 0.2, 0).tolist()
    [1, 4]
    """
    import torch

    from siamkit.applications.half_twin.task import split_rows

    return split_rows(n, val_fraction, torch.Generator().manual_seed(seed))[1].sort().values


def recorded_data_path(meta: dict[str, Any]) -> tuple[str | None, str]:
    """The ``.npz`` a half-twin's run trained on (``data.path`` in its metadata's config, made
    absolute where training ran) and ``""``; else ``None`` and the clause saying why it is not
    read: the model records none, or the file is not there (an absolute path: moved with its
    project, or removed).

    A model saved before runs made it absolute records it only as the config gave it, relative
    to the folder training ran in, which the model does not record: such a path is read from
    the current folder where it is there (the export is usually run where the model trained,
    and nothing else finds its rows: ``--calib-data`` and ``--check-data`` take images, not an
    ``.npz``), which :func:`read_here_note` says in a line; else named as not there.

    >>> recorded_data_path({"task": "half_twin", "config": {"data": {"path": "no/pairs.npz"}}})[1]
    'its run recorded data.path no/pairs.npz relative to the folder it trained in, which the model does not record, and the current folder has no no/pairs.npz: run the export from the folder it trained in'
    """
    path = ((meta.get("config") or {}).get("data") or {}).get("path")
    if meta.get("task") != "half_twin" or not isinstance(path, str) or not path:
        return None, "the model records no half-twin run's data.path"
    if not Path(path).is_absolute() and not Path(path).is_file():
        return None, (
            f"its run recorded data.path {path} relative to the folder it trained in, which the "
            f"model does not record, and the current folder has no {path}: run the export from "
            "the folder it trained in"
        )
    if not Path(path).is_file():
        return None, (f"its run's data.path {path} is not there, moved with its project or removed")
    return path, ""


def read_here_note(meta: dict[str, Any]) -> str:
    """The line saying that an old model's relative ``data.path`` (see
    :func:`recorded_data_path`) is read from the current folder, which may hold another
    project's file of that name; ``""`` where nothing is read that way.

    >>> read_here_note({"task": "half_twin", "config": {"data": {"path": "/abs/pairs.npz"}}})
    ''
    """
    path, _ = recorded_data_path(meta)
    if path is None or Path(path).is_absolute():
        return ""
    return (
        f"data.path {path} read from the current folder: the model does not record where it trained"
    )


def _allows_check(labels: Any) -> bool:
    """At least two classes of two rows each: what the check's EER and episodes need."""
    import numpy as np

    return int((np.unique(labels, return_counts=True)[1] >= 2).sum()) >= 2


def half_twin_rows(
    model_doc: dict[str, Any], f_shape: tuple[int, ...], g_shape: tuple[int, ...]
) -> CheckImages | str:
    """A half-twin's check data from its run's ``data.path``: its validation rows (all rows
    when it held too few out), at most :data:`CHECK_IMAGES`, a seeded sample, with their
    ``y`` inputs for tower g; else the clause saying why there are none (no such run, the
    file is not there, here for a relative one, or not readable, or its inputs are not the
    towers' shapes: :func:`recorded_data_path`)."""
    import numpy as np
    import torch

    from siamkit.applications.half_twin import load_pairs

    meta = model_doc.get("metadata") or {}
    config = meta.get("config") or {}
    path, why = recorded_data_path(meta)
    if path is None:
        return why
    try:
        data = load_pairs(path)
    except ValueError as err:
        return str(err).rstrip(".")
    shapes = (tuple(data.x.shape[1:]), tuple(data.y.shape[1:]))
    if shapes != (tuple(f_shape), tuple(g_shape)):
        return (
            f"its run's data.path {path} holds x {shapes[0]} and y {shapes[1]}, not the towers' "
            f"inputs {tuple(f_shape)} and {tuple(g_shape)}"
        )
    train = config.get("train") or {}
    n = len(data.labels)
    try:
        rows = validation_rows(n, float(config["data"].get("val_fraction", 0.2)),
                               int(train.get("seed", 0)))  # fmt: skip
    except (TypeError, ValueError):
        rows = torch.arange(0)
    what = f"validation rows of its training data {path}"
    if not _allows_check(data.labels[rows].numpy()):
        rows, what = torch.arange(n), f"rows of its training data {path} (all: it held out too few)"
    pick = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))[:CHECK_IMAGES]
    rows = rows[pick.sort().values]
    return CheckImages(
        data.x[rows].numpy(),
        data.labels[rows].numpy().astype(np.int64),
        f"{len(rows)} {what}",
        "the half-twin's own rows",
        data.y[rows].numpy(),
    )
