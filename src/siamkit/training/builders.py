"""Build the model, optimiser and learning-rate schedule of a run from its config.

>>> cfg = RunConfig()
>>> net = build_model(cfg.model, input_shape=(1, 28, 28), mean=(0.3,), std=(0.35,))
>>> net.embedding_dim
128
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from siamkit.distances import MahalanobisDistance, MLPMetric
from siamkit.encoders import create_encoder
from siamkit.heads import AppearanceSkip
from siamkit.models import Preprocess, SiameseNetwork
from siamkit.training.config import ModelConfig, OptimConfig


def build_appearance_skip(cfg: ModelConfig) -> AppearanceSkip | None:
    """The config's :class:`AppearanceSkip` (``None`` when ``appearance_skip_weight`` is 0)."""
    if cfg.appearance_skip_weight <= 0:
        return None
    return AppearanceSkip(
        cfg.appearance_skip_weight,
        cfg.appearance_skip_pool,
        features=cfg.appearance_skip_features,
        bins=cfg.appearance_skip_bins,
        signed=cfg.appearance_skip_signed,
        levels=cfg.appearance_skip_levels,
    )


def build_model(
    cfg: ModelConfig,
    input_shape: Sequence[int],
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
) -> SiameseNetwork:
    """A :class:`SiameseNetwork` for inputs of ``input_shape`` ``(C, H, W)`` or ``(F,)``.

    ``mean`` / ``std`` (usually the training images' statistics) are used unless the config
    fixes ``input_mean`` / ``input_std``. The encoder gets ``in_channels`` (images) or ``in_features`` (vectors) from the data unless
    ``encoder_kwargs`` sets it.
    """
    kwargs = dict(cfg.encoder_kwargs)
    if len(input_shape) == 3 and cfg.encoder in ("convnet", "resnet"):
        kwargs.setdefault("in_channels", int(input_shape[0]))
    elif len(input_shape) == 1 and cfg.encoder == "mlp":
        kwargs.setdefault("in_features", int(input_shape[0]))
    try:
        encoder = create_encoder(cfg.encoder, **kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"model.encoder / model.encoder_kwargs: {err}") from None
    skip = build_appearance_skip(cfg)
    if skip is not None and len(input_shape) != 3:
        raise ValueError("model.appearance_skip_weight > 0 needs image inputs; set it to 0")
    dim = cfg.embedding_dim + (skip.extra_dim(input_shape) if skip is not None else 0)
    distance: object = cfg.distance
    if cfg.distance == "mahalanobis":
        distance = MahalanobisDistance(dim)
    elif cfg.distance == "mlp":
        distance = MLPMetric(dim, hidden=cfg.metric_hidden)
    if cfg.input_mean is not None and cfg.input_std is not None:
        mean, std = cfg.input_mean, cfg.input_std
    return SiameseNetwork(
        encoder,
        embedding_dim=cfg.embedding_dim,
        distance=distance,  # type: ignore[arg-type]
        head_hidden=cfg.head_hidden,
        preprocess=Preprocess(mean=mean, std=std, input_shape=input_shape),
        appearance_skip=skip,
    )


def build_optimizer(cfg: OptimConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (Nesterov momentum) over ``params``."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
        )
    raise ValueError(f"unknown optim.optimizer {cfg.optimizer!r}")


def lr_factor(step: int, total: int, schedule: str, warmup_fraction: float) -> float:
    """Multiplier of the base learning rate at ``step`` of ``total`` (linear warm-up, then the schedule).

    >>> lr_factor(0, 100, "constant", 0.0)
    1.0
    """
    warm = int(warmup_fraction * total) if schedule != "constant" else 0
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    t = min(1.0, (step - warm) / max(1, total - warm))
    return 0.5 * (1.0 + math.cos(math.pi * t))


def build_scheduler(
    cfg: OptimConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-batch schedule over ``total_steps``.

    ``onecycle`` is torch's ``OneCycleLR`` (warm-up share ``warmup_fraction``, cosine annealing,
    momentum cycling); ``cosine`` is a linear warm-up then cosine decay; ``constant`` keeps the
    rate. The schedule is rebuilt from the config on resume, then its state is restored.
    """
    total_steps = max(1, total_steps)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=cfg.lr,
            total_steps=total_steps,
            pct_start=cfg.warmup_fraction,
            cycle_momentum=cfg.optimizer != "sgd" or cfg.momentum > 0,
        )
    schedule, warm = cfg.schedule, cfg.warmup_fraction
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, schedule, warm)
    )
