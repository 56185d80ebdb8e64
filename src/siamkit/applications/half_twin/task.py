"""``siamkit train`` with ``task: half_twin``: a :class:`HalfTwinNetwork` on paired vectors.

The data is an ``.npz`` with ``x`` ``(N, F)`` (first kind, branch f), ``y`` ``(N, G)`` (second
kind, branch g) and ``labels`` ``(N,)``; ``x`` or ``y`` may be images ``(N, C, H, W)`` instead
(values in [0, 1], each kind at its own size), for an image encoder such as ``convnet``, so
``siamkit enroll``, ``identify`` and ``verify`` read image files for it: ``x_i`` and ``y_j`` match when their labels are equal
(e.g. a query's text vector and the item it is about). Every (f(x_i), g(y_j)) in a batch is a
pair for the contrastive loss (positive if the labels match). Validation rows are a seeded
``val_fraction`` of the rows; the score is cross-modal P@1 (the nearest g(y) of each f(x) has its
label), reported for the untrained network too. It trains in one process, on the CPU (its
networks are small): ``--device cuda`` and ``torchrun`` are refused.

Example config::

    task: half_twin
    data: {path: pairs.npz, val_fraction: 0.2}
    model: {encoder_f: {name: mlp, kwargs: {hidden: [64]}}, encoder_g: {name: mlp, kwargs: {hidden: [64]}},
            embedding_dim: 32, distance: euclidean}
    loss: {margin: 1.0}
    train: {epochs: 20, batch_size: 64, lr: 0.001, seed: 0}

The run writes ``OUT/config.yaml`` (the config with every default filled in, its ``task:`` and
the run's ``plugins:``) before training, as an image run does, so ``siamkit train
OUT/config.yaml --out OTHER`` trains it again. The model's metadata records that config with
``data.path`` made absolute, which ``siamkit export --int8`` reads its x images from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from siamkit.atomic import atomic_write
from siamkit.clauses import counted, in_number
from siamkit.distances import list_distances
from siamkit.encoders import create_encoder
from siamkit.export.bundle import save_model
from siamkit.losses import contrastive_loss
from siamkit.models import HalfTwinNetwork, Preprocess
from siamkit.training.config_io import with_plugins, without_plugins
from siamkit.training.config_sections import unknown_keys_message, unknown_sections_message
from siamkit.training.ddp import refuse_torchrun
from siamkit.training.tasks import TaskOptions, TaskSummary

_SECTIONS = {"data", "model", "loss", "train"}
# the keys each section reads: any other (a typo such as train.epoch) is refused, not ignored
_KEYS = {
    "data": {"path", "val_fraction"},
    "model": {"encoder_f", "encoder_g", "embedding_dim", "distance"},
    "loss": {"margin"},
    "train": {"epochs", "batch_size", "lr", "seed"},
}
_ENCODER_KEYS = {"name", "kwargs"}
_DEFAULT_ENCODER: dict[str, Any] = {"name": "mlp", "kwargs": {"hidden": [64]}}
#: Every key's value when the config leaves it out (``data.path`` is required).
DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"path": None, "val_fraction": 0.2},
    "model": {
        "encoder_f": _DEFAULT_ENCODER,
        "encoder_g": _DEFAULT_ENCODER,
        "embedding_dim": 32,
        "distance": "euclidean",
    },
    "loss": {"margin": 1.0},
    "train": {"epochs": 20, "batch_size": 64, "lr": 1e-3, "seed": 0},
}


@dataclass(frozen=True)
class HalfTwinData:
    x: torch.Tensor  # (N, F)
    y: torch.Tensor  # (N, G)
    labels: torch.Tensor  # (N,)


def load_pairs(path: str | os.PathLike[str]) -> HalfTwinData:
    """Read ``x``, ``y``, ``labels`` from an ``.npz``; one sentence naming what is wrong."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x", "y", "labels") if k in f}
    except (OSError, ValueError, EOFError) as err:  # EOFError: an empty file (was "Aborted!")
        raise ValueError(f"data.path {path}: not a readable .npz file ({err})") from None
    except (AttributeError, TypeError):  # np.load gave one array (an .npy file), not an archive
        raise ValueError(
            f"data.path {path}: an .npy file holds one array; save x, y and labels in one .npz "
            "with numpy.savez"
        ) from None
    missing = {"x", "y", "labels"} - set(arrays)
    if missing:
        arrays_ = in_number(len(missing), "array")
        raise ValueError(
            f"data.path {path}: missing {arrays_} {sorted(missing)}; need x, y, labels"
        )
    x, y, labels = arrays["x"], arrays["y"], arrays["labels"]
    shapes_ok = x.ndim in (2, 4) and y.ndim in (2, 4) and labels.ndim == 1
    if not shapes_ok or not (len(x) == len(y) == len(labels)):
        raise ValueError(
            f"data.path {path}: need x (N, F) or (N, C, H, W), y (N, G) or (N, C, H, W) and "
            f"labels (N,), got {x.shape}, {y.shape}, {labels.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"data.path {path}: x or y contains NaN or infinite values")
    for name, images in (("x", x), ("y", y)):
        # siamkit reads image files into [0, 1]: images trained on 0..255 would never match them
        if images.ndim == 4 and images.size and (images.min() < 0 or images.max() > 1):
            raise ValueError(
                f"data.path {path}: {name} holds images with values from {images.min():g} to "
                f"{images.max():g}; save them in [0, 1] (e.g. divided by 255), as siamkit reads "
                "image files"
            )
    return HalfTwinData(
        torch.from_numpy(x.astype(np.float32)),
        torch.from_numpy(y.astype(np.float32)),
        torch.from_numpy(np.unique(labels, return_inverse=True)[1].astype(np.int64)),
    )


def _apply_overrides(cfg: dict[str, Any], overrides: tuple[str, ...]) -> dict[str, Any]:
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: write KEY=VALUE, e.g. train.epochs=5")
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return cfg


def build_half_twin(
    model: dict[str, Any], dims: tuple[int | tuple[int, ...], int | tuple[int, ...]]
) -> HalfTwinNetwork:
    """The network of the ``model`` section for inputs of ``dims = (F, G)`` features, or of
    ``(C, H, W)`` image shapes (one branch or both; an image branch needs an image encoder such
    as ``convnet``, whose ``in_channels`` defaults to ``C``)."""
    shapes = [(d,) if isinstance(d, int) else tuple(d) for d in dims]
    encoders = []
    for branch, shape, kind in zip(("encoder_f", "encoder_g"), shapes, ("x", "y")):
        spec = dict(model.get(branch) or _DEFAULT_ENCODER)
        kwargs = dict(spec.get("kwargs") or {})
        name = spec.get("name", "mlp")
        if name == "mlp" and len(shape) != 1:
            raise ValueError(
                f"model.{branch}: mlp takes vectors but {kind} holds images {shape}; name an "
                "image encoder (e.g. convnet) or save the images flattened"
            )
        if name == "mlp":
            kwargs.setdefault("in_features", shape[0])
        elif len(shape) == 3 and name == "convnet":
            kwargs.setdefault("in_channels", shape[0])
        try:
            encoders.append(create_encoder(spec.get("name", "mlp"), **kwargs))
        except (TypeError, ValueError) as err:
            raise ValueError(f"model.{branch}: {err}") from None
    return HalfTwinNetwork(
        encoders[0],
        encoders[1],
        embedding_dim=int(model.get("embedding_dim", DEFAULTS["model"]["embedding_dim"])),
        distance=str(model.get("distance", DEFAULTS["model"]["distance"])),
        preprocess_f=Preprocess(input_shape=shapes[0]),
        preprocess_g=Preprocess(input_shape=shapes[1]),
    )


def cross_modal_p_at_1(net: HalfTwinNetwork, data: HalfTwinData) -> float:
    """Share of f(x_i) whose nearest g(y_j) has the same label."""
    net.eval()
    with torch.inference_mode():
        d = net.distance.matrix(net.embed_f(data.x), net.embed_g(data.y))  # (N, N)
    return float((data.labels[d.argmin(1)] == data.labels).float().mean())


def train_half_twin(
    net: HalfTwinNetwork, data: HalfTwinData, train: dict[str, Any], margin: float
) -> list[float]:
    """Adam on the cross-modal contrastive loss; returns each epoch's mean loss."""
    train = {**DEFAULTS["train"], **train}
    gen = torch.Generator().manual_seed(int(train["seed"]))
    opt = torch.optim.Adam(net.parameters(), lr=float(train["lr"]))
    bs, history = int(train["batch_size"]), []
    for _ in range(int(train["epochs"])):
        net.train()
        order, losses = torch.randperm(len(data.labels), generator=gen), []
        for s in range(0, len(order), bs):
            i = order[s : s + bs]
            if len(i) < 2:  # a lone last row: batch norm cannot train on one (shuffled next epoch)
                continue
            d = net.distance.matrix(net.embed_f(data.x[i]), net.embed_g(data.y[i]))  # (B, B)
            same = (data.labels[i, None] == data.labels[None, i]).float()
            loss = contrastive_loss(d.reshape(-1), same.reshape(-1), margin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
    return history


def split_rows(
    n: int, val_fraction: Any, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training and validation row numbers of ``n`` rows, in the order training takes
    them: a permutation drawn from ``generator`` (not torch's global generator, which this
    leaves alone), whose first ``round(val_fraction * n)`` are held out for validation. A run
    passes a generator seeded with ``train.seed``; the int8 check redraws its rows so.

    >>> [t.tolist() for t in split_rows(10, 0.2, torch.Generator().manual_seed(0))]
    [[7, 5, 3, 9, 0, 8, 6, 2], [4, 1]]
    """
    frac = float(val_fraction)
    if not 0 <= frac < 1:
        raise ValueError(f"data.val_fraction is in [0, 1), got {val_fraction}")
    perm = torch.randperm(n, generator=generator)
    n_val = round(frac * n)
    return perm[n_val:], perm[:n_val]


def _split(
    data: HalfTwinData, val_fraction: Any, train: dict[str, Any]
) -> tuple[HalfTwinData, HalfTwinData]:
    """Seeded training / validation rows (:func:`split_rows`), and the global generator seeded
    for the encoders' initial weights."""
    seed = int(train.get("seed", DEFAULTS["train"]["seed"]))
    rows = split_rows(len(data.labels), val_fraction, torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)  # the encoders' initial weights

    def pick(idx: torch.Tensor) -> HalfTwinData:
        return HalfTwinData(data.x[idx], data.y[idx], data.labels[idx])

    return pick(rows[0]), pick(rows[1])


def _check_keys(cfg: dict[str, Any]) -> None:
    """Refuse a key no section reads, naming it and the keys that section has."""
    for section, allowed in _KEYS.items():
        node = cfg.get(section)
        if node is None:
            continue
        if not isinstance(node, dict):
            raise ValueError(f"{section} is a mapping of {sorted(allowed)}, got {node!r}")
        unknown = set(node) - allowed
        if unknown:
            raise ValueError(unknown_keys_message(sorted(unknown), section, sorted(allowed)))
    for branch in ("encoder_f", "encoder_g"):
        spec = (cfg.get("model") or {}).get(branch)
        if spec is not None and (not isinstance(spec, dict) or set(spec) - _ENCODER_KEYS):
            raise ValueError(f"model.{branch} is {{name: ENCODER, kwargs: {{...}}}}, got {spec!r}")


# (section, key, type, lowest allowed, whether the lowest is allowed): checked before training
_NUMBERS = (
    ("train", "epochs", int, 1, True),
    ("train", "batch_size", int, 2, True),  # a batch's pairs are its rows' (f, g) pairs
    ("train", "lr", float, 0.0, False),
    ("train", "seed", int, None, True),
    ("loss", "margin", float, 0.0, False),
)


def _check_numbers(cfg: dict[str, Any]) -> None:
    """Refuse a number the run cannot train with, naming its key (``train.batch_size=0`` was
    Python's "range() arg 3 must not be zero", ``train.epochs=0`` saved an untrained model)."""
    for section, key, kind, low, inclusive in _NUMBERS:
        value = (cfg.get(section) or {}).get(key)
        if value is None:
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (kind is float or isinstance(value, int))
        ok = ok and (low is None or (value >= low if inclusive else value > low))
        if not ok:
            what = "an integer" if kind is int else "a number"
            bound = "" if low is None else f" {'>=' if inclusive else '>'} {low:g}"
            raise ValueError(f"{section}.{key} must be {what}{bound}, got {value!r}")


def _check_distance(cfg: dict[str, Any]) -> None:
    """Refuse a ``model.distance`` that is not a distance's name, naming the key and the names
    (it was the distance registry's "unknown distance '3'", which named no key)."""
    model = cfg.get("model") or {}
    if "distance" not in model:  # the default, euclidean
        return
    value = model["distance"]
    if not isinstance(value, str) or value.lower() not in list_distances():
        raise ValueError(
            f"model.distance must be one of {', '.join(list_distances())}, got {value!r}"
        )


def _refuse_start(options: TaskOptions) -> None:
    if options.resume or options.init_from:
        raise ValueError(
            "task half_twin trains from scratch: --resume and --init-from are not supported"
        )


def _config(config: dict[str, Any], options: TaskOptions) -> tuple[dict[str, Any], list[str]]:
    """``config`` (checked, without its ``plugins:``) with ``options``' overrides and every
    default (:func:`_resolved`), and the plug-ins it named; ``--device`` other than the CPU
    refused."""
    if options.device not in ("auto", "cpu"):  # small networks over vectors or small images
        raise ValueError(
            f"task half_twin trains on the CPU: drop --device {options.device} "
            "(or use --device cpu)"
        )
    config, own_plugins = without_plugins(config)
    cfg = _apply_overrides(json.loads(json.dumps(config)), options.overrides)
    unknown = set(cfg) - _SECTIONS
    if unknown:
        raise ValueError(
            unknown_sections_message(sorted(unknown), sorted(_SECTIONS), " for task half_twin")
        )
    _check_keys(cfg)
    _check_numbers(cfg)
    _check_distance(cfg)
    cfg = _resolved(cfg)
    if cfg["data"]["path"] is None:
        raise ValueError("data.path is required: an .npz with x, y and labels")
    return cfg, own_plugins


def check_config(config: dict[str, Any], options: TaskOptions) -> None:
    """The run's checks of ``config`` with ``options`` (``--set``, ``--device``, ``--resume``,
    ``--init-from``), as :func:`run` makes them before it reads the data or writes anything:
    its error, or nothing (``task: half_twin``'s
    :func:`~siamkit.training.tasks.register_task` ``check``)."""
    _refuse_start(options)
    _config(config, options)


def run(
    config: dict[str, Any], out_dir: str | os.PathLike[str], options: TaskOptions
) -> TaskSummary:
    """The ``task: half_twin`` runner (see the module docstring); ``out_dir``: a str or a path.

    It prints no lines and shows no progress bar (small networks, trained in seconds):
    ``options.log`` and ``options.progress`` change nothing. ``metrics.json`` holds each epoch's
    training loss, the returned summary the validation P@1 before and after training.
    """
    out_dir = Path(out_dir)
    _refuse_start(options)
    refuse_torchrun("half_twin")
    cfg, own_plugins = _config(config, options)
    data_cfg, train = cfg["data"], cfg["train"]
    tr, val = _split(load_pairs(data_cfg["path"]), data_cfg["val_fraction"], train)
    if len(tr.labels) < 2:
        raise ValueError(
            f"data.val_fraction {data_cfg['val_fraction']} leaves "
            f"{counted(len(tr.labels), 'training row')}; training needs at least 2: lower it or "
            "add rows"
        )
    net = build_half_twin(cfg["model"], (tuple(tr.x.shape[1:]), tuple(tr.y.shape[1:])))
    out_dir.mkdir(parents=True, exist_ok=True)
    # the resolved config once every check has passed, before training, as an image run
    # writes it: `siamkit train OUT/config.yaml` trains this run again (its plug-ins imported)
    resolved = with_plugins({"task": "half_twin", **cfg}, [*options.plugins, *own_plugins])
    atomic_write(out_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    before = cross_modal_p_at_1(net, val) if len(val.labels) else None
    history = train_half_twin(net, tr, train, float(cfg["loss"]["margin"]))
    metrics = {
        "half_twin": {
            "val_p_at_1": cross_modal_p_at_1(net, val) if len(val.labels) else None,
            "val_p_at_1_untrained": before,
            "train_loss": history,
        }
    }
    # the metrics before the model: a run killed (or failing) between the two leaves metrics
    # and no model, never a model without its metrics (each write is atomic on its own)
    atomic_write(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    # data.path made absolute in the model (config.yaml keeps it as written): a relative one
    # names the file from the folder training ran in, so `siamkit export --int8` run from
    # another folder found no x images to calibrate and check on, or another project's file
    data_path = str(Path(data_cfg["path"]).resolve())
    recorded = {**cfg, "data": {**data_cfg, "path": data_path}}
    model_dir = save_model(
        net.eval(), out_dir / "model", metadata={"task": "half_twin", "config": recorded}
    )
    return TaskSummary(
        model_dir,
        {k: metrics["half_twin"][k] for k in ("val_p_at_1", "val_p_at_1_untrained")},
        {"metrics": out_dir / "metrics.json", "config": out_dir / "config.yaml"},
    )


def _resolved(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` (checked) with every key it leaves out set to its default (:data:`DEFAULTS`), in
    the order of the sections and keys the run reads (a copy: no value is shared)."""
    doc = {section: {**keys, **(cfg.get(section) or {})} for section, keys in DEFAULTS.items()}
    return json.loads(json.dumps(doc))  # type: ignore[no-any-return]
