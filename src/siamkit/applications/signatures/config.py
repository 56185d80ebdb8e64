"""The ``task: signatures`` config: frozen dataclasses read from the YAML sections.

```yaml
task: signatures
data: {root: null, layout: auto, synthetic_writers: 60, genuine: 12, forged: 12, seed: 0,
       image_size: [78, 110], split: [0.6, 0.2, 0.2]}
model: {embedding_dim: 64, encoder_kwargs: {stem_stride: 3}}
train: {steps: 600, writers_per_batch: 8, genuine_per_writer: 4, forged_per_writer: 4,
        random_fraction: 0.3, lr: 0.001, margin: 1.0, loss: contrastive, eval_every: 100, seed: 0,
        threads: 0, device: auto}
eval: {references: 5, reduce: mean, seed: 0}
```

``data.root: null`` uses the synthetic generator (``synthetic_writers`` writers); a folder uses
its CEDAR / GPDS / BHSig / ``writer/genuine|forged`` layout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from siamkit.clauses import in_number
from siamkit.data.signature_layouts import SIGNATURE_LAYOUTS
from siamkit.training.config_io import without_plugins
from siamkit.training.config_overrides import set_override
from siamkit.training.config_sections import _section as config_section
from siamkit.training.config_sections import unknown_sections_message

__all__ = ["SignatureDataConfig", "SignatureRunConfig", "signature_config_from_dict"]

# the largest train.margin: its square, summed over a batch's pairs, stays far inside float32
MAX_MARGIN = 1e9


@dataclass(frozen=True)
class SignatureDataConfig:
    root: str | None = None  # None = synthetic
    layout: str = "auto"
    synthetic_writers: int = 60
    genuine: int = 12
    forged: int = 12
    seed: int = 0
    image_size: tuple[int, int] = (78, 110)
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class SignatureModelConfig:
    embedding_dim: int = 64
    encoder_kwargs: dict[str, Any] = field(default_factory=lambda: {"stem_stride": 3})
    appearance_weight: float = 0.0  # > 0: join HOG-like features of the input (JoinedEmbedding)
    appearance_pool: int = 4


@dataclass(frozen=True)
class SignatureTrainConfig:
    steps: int = 600
    writers_per_batch: int = 8
    genuine_per_writer: int = 4
    forged_per_writer: int = 4
    random_fraction: float = 0.3  # share of the negatives that are other writers' genuines
    lr: float = 1e-3
    margin: float = 1.0
    loss: str = "contrastive"  # or "pml" (pytorch-metric-learning ContrastiveLoss: the peer)
    eval_every: int = 100
    seed: int = 0
    threads: int = 0  # 0 = torch's default
    device: str = "auto"  # auto: CUDA when available; cpu, cuda, cuda:N (`siamkit train --device`)


@dataclass(frozen=True)
class SignatureEvalConfig:
    references: int = 5
    reduce: str = "mean"  # mean | min | max | auto (the best on the validation writers)
    seed: int = 0


@dataclass(frozen=True)
class SignatureRunConfig:
    data: SignatureDataConfig = field(default_factory=SignatureDataConfig)
    model: SignatureModelConfig = field(default_factory=SignatureModelConfig)
    train: SignatureTrainConfig = field(default_factory=SignatureTrainConfig)
    eval: SignatureEvalConfig = field(default_factory=SignatureEvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {
    "data": SignatureDataConfig,
    "model": SignatureModelConfig,
    "train": SignatureTrainConfig,
    "eval": SignatureEvalConfig,
}


def _section(name: str, values: Any) -> Any:
    """Section ``name`` read by the shared check: unknown keys and values of the wrong type (a
    string where a number goes, ``true`` for a count, NaN) are refused, naming the key."""
    if not isinstance(values, dict):
        raise ValueError(f"config section {name!r} must be a mapping, got {values!r}.")
    return config_section(_SECTIONS[name], values, name)


def signature_config_from_dict(
    doc: dict[str, Any], overrides: tuple[str, ...] = ()
) -> SignatureRunConfig:
    """Build and check the config from a YAML document (without ``task``; ``plugins:`` imported)
    and ``a.b=v`` overrides.

    Raises:
        ValueError: an unknown section or key, or a value out of range, named in one sentence.
    """
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in without_plugins(doc)[0].items()}
    for item in overrides:
        key, eq, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not eq or not dot or not name:
            raise ValueError(f"override {item!r} must look like section.key=value.")
        if section not in _SECTIONS:  # a misspelled section: name it and the valid ones
            raise ValueError(
                unknown_sections_message([section], _SECTIONS, f" in override {item!r}")
            )
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:  # was PyYAML's ParserError
            raise ValueError(f"cannot read the value in override {item!r}.") from None
        set_override(doc, section, name, parsed)
    unknown = sorted(set(doc) - set(_SECTIONS))
    if unknown:
        sections = in_number(len(unknown), "section")
        raise ValueError(f"unknown config {sections} {', '.join(unknown)} for task signatures.")
    cfg = SignatureRunConfig(**{k: _section(k, v or {}) for k, v in doc.items()})
    _check(cfg)
    return cfg


def _check(cfg: SignatureRunConfig) -> None:
    t, d = cfg.train, cfg.data
    if t.loss not in ("contrastive", "pml"):
        raise ValueError(f"train.loss must be 'contrastive' or 'pml', got {t.loss!r}.")
    if min(t.steps, t.writers_per_batch, t.genuine_per_writer, t.eval_every) < 1:
        raise ValueError(
            "train.steps, writers_per_batch, genuine_per_writer, eval_every must be >= 1."
        )
    if t.writers_per_batch < 2 or t.genuine_per_writer < 2:
        raise ValueError("train.writers_per_batch and train.genuine_per_writer must be at least 2.")
    if not t.lr > 0:
        raise ValueError(f"train.lr must be positive, got {t.lr}.")
    if not 0 < t.margin <= MAX_MARGIN:  # inf too: relu(margin - d) ** 2 overflows float32 to inf,
        # and a similar pair's 0 * inf makes the loss NaN (reviewer s52_R11)
        raise ValueError(
            f"train.margin must be a positive number no larger than {MAX_MARGIN:g} (the loss "
            f"squares it in float32), got {t.margin}."
        )
    if not 0.0 <= t.random_fraction <= 1.0:
        raise ValueError(f"train.random_fraction must be in [0, 1], got {t.random_fraction}.")
    if len(d.image_size) != 2 or min(d.image_size) < 32:
        raise ValueError(
            f"data.image_size must be [height, width] >= 32, got {list(d.image_size)}."
        )
    from siamkit.applications.signatures.model import smallest_signature_side

    side = smallest_signature_side(
        cfg.model.encoder_kwargs
    )  # not a traceback after training starts
    if min(d.image_size) < side:
        raise ValueError(
            f"data.image_size {list(d.image_size)} is too small for the encoder of "
            f"model.encoder_kwargs {cfg.model.encoder_kwargs}: its feature map shrinks to "
            f"nothing; give data.image_size of at least [{side}, {side}], or a smaller "
            "model.encoder_kwargs.stem_stride."
        )
    if d.layout != "auto" and d.layout not in SIGNATURE_LAYOUTS:
        raise ValueError(
            f"data.layout must be auto or one of {', '.join(SIGNATURE_LAYOUTS)}, got {d.layout!r}."
        )
    if cfg.eval.reduce not in ("mean", "min", "max", "auto"):
        raise ValueError(f"eval.reduce must be mean, min, max or auto, got {cfg.eval.reduce!r}.")
