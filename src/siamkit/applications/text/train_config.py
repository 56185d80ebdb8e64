"""The ``task: text`` config: frozen dataclasses read from the YAML dict, every key checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from siamkit.applications.text.pairs import FORMATS
from siamkit.clauses import in_number, listed
from siamkit.encoders.text import check_window, default_overlap
from siamkit.params import count, number
from siamkit.training.config_io import without_plugins
from siamkit.training.config_sections import _section as config_section

LOSSES = (
    "cosent",
    "angle",
    "cosine_mse",
    "mnrl",
    "contrastive",
    "online_contrastive",
    "triplet",
    "matryoshka",
)
VAL_METRICS = ("auto", "none")
"""``train.val_metric``: the data's validation figure each epoch, or none (the end's alone)."""
MATRYOSHKA_DIMS = (384, 256, 128, 64)  # loss matryoshka without loss.dims: all-MiniLM-L6-v2's size


@dataclass(frozen=True)
class ModelSection:
    path: str | None = None  # a local Hugging Face folder or siamkit text bundle; None = MiniLM
    share_weights: bool = True  # False: query and document towers (half-twin)
    # tokens per window; None: the start model's (a saved model's own; a Hugging Face folder's
    # 256, or its positions where fewer: siamkit.encoders.text.default_window)
    max_length: int | None = None
    # tokens consecutive windows share; None: the start model's with max_length None, else 32,
    # or an eighth of a window too small for it (siamkit.encoders.text.default_overlap)
    overlap: int | None = None


@dataclass(frozen=True)
class DataSection:
    train: str = ""
    format: str = "pairs"  # pairs | triplets | anchor_positive
    columns: dict[str, str] = field(default_factory=dict)  # e.g. {label: score}
    score_range: list[float] | None = None  # [lo, hi] for graded scores
    val: str | None = None  # a separate validation file, else val_fraction of train
    val_fraction: float = 0.1


@dataclass(frozen=True)
class LossSection:
    name: str = "cosent"
    scale: float = 20.0
    margin: float = 0.5
    # loss matryoshka: the loss it wraps, the embedding sizes it trains (default MATRYOSHKA_DIMS)
    # and their weights (default 1 each)
    base: str | None = None
    dims: list[int] | None = None
    weights: list[float] | None = None

    @property
    def kind(self) -> str:
        """The loss each batch is scored with: ``base`` under matryoshka, else ``name``."""
        return self.base if self.name == "matryoshka" and self.base is not None else self.name

    @property
    def matryoshka(self) -> list[tuple[int, float]]:
        """The (size, weight) pairs loss matryoshka trains, largest size first (as
        sentence-transformers sorts them); empty for the other losses."""
        if self.name != "matryoshka":
            return []
        dims = list(MATRYOSHKA_DIMS) if self.dims is None else self.dims
        weights = [1.0] * len(dims) if self.weights is None else self.weights
        return sorted(zip(dims, weights), key=lambda dw: -dw[0])


@dataclass(frozen=True)
class TrainSection:
    epochs: int = 1
    batch_size: int = 16
    lr: float = 2e-5
    warmup: float = 0.1  # fraction of steps with a linear warm-up
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0  # gradient clipping (0 = off), as sentence-transformers' fit
    seed: int = 0
    amp: bool = True  # CUDA only: bf16 autocast where native, else fp16 with a GradScaler
    gradient_checkpointing: bool = False
    checkpoint_every: int = 0  # steps; 0 = at the end of every epoch
    # validation each epoch (when there are validation pairs): "auto" the data's figure (ROC AUC
    # and EER for 0/1 labels, Spearman and Pearson for graded scores, precision@1 otherwise),
    # which embeds the validation texts once an epoch; "none" validates at the end alone
    val_metric: str = "auto"


@dataclass(frozen=True)
class TextTrainConfig:
    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    loss: LossSection = LossSection()
    train: TrainSection = TrainSection()


def _section(cls: type, doc: object, name: str) -> Any:
    """Section ``name`` read by the shared check: unknown keys and values of the wrong type (a
    string where a number goes, ``true`` for a count, NaN) are refused, naming the key."""
    return config_section(cls, doc, name)


MAPPING_KEYS = {"data": ("columns",)}
"""Keys whose value is a mapping, one entry of which ``--set`` may give
(``data.columns.label=score``; the other entries stay)."""


def apply_overrides(doc: dict[str, Any], overrides: tuple[str, ...]) -> dict[str, Any]:
    """``section.key=value`` strings (values parsed as YAML) applied to a copy of ``doc``; an
    entry of a mapping key (:data:`MAPPING_KEYS`) is ``section.key.entry=value``, e.g.
    ``data.columns.label=score`` (what a pairs file's missing column tells to set)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot:
            raise ValueError(f"--set takes section.key=value, got {item!r}")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or "unreadable"
            raise ValueError(
                f"--set {item!r}: the value {value!r} is not valid YAML ({problem}); quote it, "
                "or write a list as [a, b] and a mapping as {key: value}"
            ) from None
        if out.get(section) is None:  # absent, or an empty `data:` in the YAML
            out[section] = {}
        target = out[section]
        if not isinstance(target, dict):  # refused by the section's own check, naming it
            continue
        head, dot, entry = name.partition(".")
        if dot and head in MAPPING_KEYS.get(section, ()) and entry and "." not in entry:
            current = target.get(head)
            mapping = dict(current) if isinstance(current, dict) else {}
            mapping[entry] = parsed
            name, parsed = head, mapping
        target[name] = parsed
    return out


def parse_config(doc: dict[str, Any], overrides: tuple[str, ...] = ()) -> TextTrainConfig:
    """Validate a ``task: text`` config (without its ``task`` key; ``plugins:`` imported)."""
    doc = apply_overrides(without_plugins(doc)[0], overrides)
    unknown = sorted(set(doc) - {"model", "data", "loss", "train"})
    if unknown:
        raise ValueError(
            f"unknown config {in_number(len(unknown), 'section')} {', '.join(unknown)}; use "
            "model, data, loss, train"
        )
    cfg = TextTrainConfig(
        _section(ModelSection, doc.get("model"), "model"),
        _section(DataSection, doc.get("data"), "data"),
        _section(LossSection, doc.get("loss"), "loss"),
        _section(TrainSection, doc.get("train"), "train"),
    )
    if not cfg.data.train:
        raise ValueError("data.train must name a .csv or .jsonl file of examples")
    if cfg.data.format not in FORMATS:
        raise ValueError(f"data.format is one of {', '.join(FORMATS)}, got {cfg.data.format!r}")
    _check_columns(cfg.data.columns)
    if cfg.loss.name not in LOSSES:
        raise ValueError(f"loss.name is one of {', '.join(LOSSES)}, got {cfg.loss.name!r}")
    _check_matryoshka(cfg.loss)
    _check_scale_and_margin(cfg.loss)
    need = {
        "cosent": "pairs",
        "angle": "pairs",
        "cosine_mse": "pairs",
        "contrastive": "pairs",
        "online_contrastive": "pairs",
        "triplet": "triplets",
    }.get(cfg.loss.kind)
    if need and cfg.data.format != need:
        raise ValueError(
            f"loss {cfg.loss.kind!r} trains on data.format {need!r}, got {cfg.data.format!r}"
        )
    if cfg.loss.kind == "mnrl" and cfg.data.format == "pairs":
        raise ValueError(
            "loss 'mnrl' trains on anchor_positive or triplets data (in-batch negatives)"
        )
    _check_train_numbers(cfg.train)
    if cfg.train.val_metric not in VAL_METRICS:
        raise ValueError(
            f"train.val_metric is one of {', '.join(VAL_METRICS)} (none: validate at the end "
            f"alone), got {cfg.train.val_metric!r}"
        )
    if not 0 <= cfg.data.val_fraction < 1:
        raise ValueError(f"data.val_fraction lies in [0, 1), got {cfg.data.val_fraction}")
    # before any model is loaded; the transformer's own limit is checked once it is
    if cfg.model.max_length is not None:  # None: the default window, within the positions
        size, step = cfg.model.max_length, cfg.model.overlap
        default = default_overlap(size, given=True)
        check_window(size, default if step is None else step, prefix="model.", optional=True,
                     default_step=default)  # fmt: skip
    sr = cfg.data.score_range
    if sr is not None and (len(sr) != 2 or not sr[0] < sr[1]):
        raise ValueError(f"data.score_range is [low, high] with low < high, got {sr}")
    return cfg


def _check_columns(columns: dict[str, Any]) -> None:
    """Each ``data.columns`` entry names a column with a string: ``label: 3`` (YAML's number) or
    ``label: null`` failed inside the reader with a traceback."""
    for name, column in columns.items():
        if isinstance(column, str) and column.strip():
            continue
        number = isinstance(column, (int, float)) and not isinstance(column, bool)
        shown = "null" if column is None else repr(column)
        quote = f" (quote it, '{column}', for a column named {column})" if number else ""
        raise ValueError(
            f"data.columns.{name} names the file's column that holds {name}, a string, got "
            f"{shown}{quote}"
        )


def unread_data_keys(cfg: TextTrainConfig) -> str | None:
    """A note when ``data.columns`` names a field ``data.format`` does not read (the pairs
    config's ``label: score`` in a triplets run) or ``data.score_range`` is set for a format
    without scores (triplets, anchor_positive): the run ignores them, where nothing said so."""
    d = cfg.data
    fields = FORMATS[d.format]
    unread = {k: v for k, v in d.columns.items() if k not in fields}
    given = []
    if unread:
        entries = ", ".join(f"{k}: {v}" for k, v in unread.items())
        given.append(f"data.columns {{{entries}}}")
    scores = d.score_range is not None and d.format != "pairs"
    if scores:
        given.append(f"data.score_range [{', '.join(f'{x:g}' for x in d.score_range or [])}]")
    if not given:
        return None
    return (
        f"{listed(given)} {in_number(len(given), 'is', 'are')} not read: data.format "
        f"{d.format} reads the columns {', '.join(fields)} (data.columns renames only these)"
        f"{' and no scores' if scores else ''}; this run ignores "
        f"{'them' if len(given) > 1 else 'it'}"
    )


def _check_train_numbers(train: TrainSection) -> None:
    """One sentence naming the ``train`` key, its value and its range (a :class:`ParamError`).
    A warmup above 1 or below 0, a negative max_grad_norm or checkpoint_every and a negative
    weight_decay were taken without a word (a run all warm-up, clipping off, a checkpoint every
    step) or failed in PyTorch's words without the key."""
    count("train.epochs", train.epochs)
    count(
        "train.batch_size",
        train.batch_size,
        2,
        note="in-batch losses compare each example with the others",
    )
    number("train.lr", train.lr, low=0, open_low=True)
    number("train.warmup", train.warmup, low=0, high=1, note="a share of the steps")
    number("train.weight_decay", train.weight_decay, low=0)
    number("train.max_grad_norm", train.max_grad_norm, low=0, note="0 turns clipping off")
    count("train.checkpoint_every", train.checkpoint_every, 0, note="0: at every epoch's end")


def _check_scale_and_margin(loss: LossSection) -> None:
    """``loss.scale`` and ``loss.margin`` where the loss uses them: a scale of 0 leaves no
    gradient and a negative one ranks the pairs backwards; a negative margin (a cosine distance)
    never pushes a negative pair apart. Both trained without a word."""
    if loss.kind in ("cosent", "angle", "mnrl") and not loss.scale > 0:
        raise ValueError(
            f"loss.scale must be positive for loss {loss.kind} (it multiplies the similarities; "
            f"the default is 20), got {loss.scale}"
        )
    if loss.kind in ("contrastive", "online_contrastive", "triplet") and not loss.margin >= 0:
        raise ValueError(
            f"loss.margin must be at least 0 for loss {loss.kind} (a cosine distance; the "
            f"default is 0.5), got {loss.margin}"
        )


def _check_matryoshka(loss: LossSection) -> None:
    """``loss.base``, ``loss.dims`` and ``loss.weights`` belong to loss matryoshka and are checked
    there (the sizes against the model once it is loaded)."""
    if loss.name != "matryoshka":
        given = [k for k in ("base", "dims", "weights") if getattr(loss, k) is not None]
        if given:
            keys = ", ".join(f"loss.{k}" for k in given)
            raise ValueError(
                f"{keys} belong to loss matryoshka, and loss.name is {loss.name!r}: set "
                f"loss.name: matryoshka with loss.base: {loss.name}, or remove them"
            )
        return
    bases = [n for n in LOSSES if n != "matryoshka"]
    if loss.base not in bases:
        raise ValueError(
            f"loss matryoshka wraps another loss: loss.base is one of {', '.join(bases)}, "
            f"got {loss.base!r}"
        )
    dims = loss.dims if loss.dims is not None else list(MATRYOSHKA_DIMS)
    if not dims or any(d < 1 for d in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"loss.dims is a list of different sizes of at least 1, got {dims}")
    if loss.weights is not None and (
        len(loss.weights) != len(dims) or any(not w > 0 for w in loss.weights)
    ):
        raise ValueError(
            f"loss.weights gives one positive weight for each of loss.dims {dims}, got "
            f"{loss.weights}"
        )
