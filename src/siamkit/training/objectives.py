"""The training objective of a run: the config's loss section read as a registered loss.

Every objective is a loss of :data:`siamkit.losses.registry.LOSSES`, called the PML way on
embeddings (never on the model), so users' own loops and the
:class:`~siamkit.training.trainer.Trainer` share them:

``objective(z (B, D), labels (B,), indices=None) -> scalar`` (``indices``: mined Triplets/Pairs)

>>> import torch
>>> obj = build_objective(LossConfig(kind="triplet", mining="batch_hard"), distance="euclidean")
>>> z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
>>> round(float(obj(z, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))), 0) >= 0
True
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from torch import nn

from siamkit.distances import Distance
from siamkit.losses.registry import LOSSES
from siamkit.losses.xbm import CrossBatchMemory
from siamkit.training.config import LossConfig
from siamkit.training.config_loss import XBM_MINING, resolved_mining
from siamkit.training.parts import build_miner


def loss_params(cfg: LossConfig, distance: str | Distance) -> tuple[str, dict[str, Any]]:
    """The flat ``loss`` section as ``(registered loss name, its parameters)``.

    ``distance`` is the model's (``model.distance``); a learned one trains with the loss.
    """
    name, params = flat_loss_params(cfg, distance)
    params.update(cfg.params)
    return name, params


def flat_loss_params(cfg: LossConfig, distance: str | Distance) -> tuple[str, dict[str, Any]]:
    """The loss's parameters the section's own keys (``loss.margin`` ...) give, before
    ``loss.params`` (which wins) is applied."""
    kind, mining = cfg.kind, resolved_mining(cfg)
    if kind == "triplet":
        mining = None if cfg.offline_mining else mining  # offline: the batch brings its triplets
        return kind, {
            "margin": cfg.margin,
            "distance": distance,
            "mining": mining,
            "reduction": cfg.reduction,
        }
    if kind in ("contrastive", "margin"):
        return kind, {"margin": cfg.margin, "distance": distance, "mining": mining}
    if kind in ("bce", "pair_head"):
        return kind, {"head": distance, "pos_weight": cfg.pos_weight}
    if kind == "multi_similarity":
        return kind, {
            "alpha": cfg.ms_alpha,
            "beta": cfg.ms_beta,
            "base": cfg.ms_base,
            "distance": "cosine",
            "mining": mining,
        }
    if kind == "supcon":
        return kind, {"temperature": cfg.temperature}
    # any other registered loss: its settings come from loss.params; the model's distance and
    # the config's miner if it takes them
    takes = inspect.signature(LOSSES.get(kind)).parameters if kind in LOSSES else {}
    params: dict[str, Any] = {"distance": distance} if "distance" in takes else {}
    if "mining" in takes and mining is not None:
        params["mining"] = mining
    return kind, params


def build_objective(
    cfg: LossConfig,
    distance: str | Distance,
    classes: Sequence[int] | None = None,
    embedding_dim: int | None = None,
) -> nn.Module:
    """The loss module for ``cfg``, using the model's ``distance`` (a learned one trains with it).

    Args:
        cfg: the loss section of a run config.
        distance: the model's distance (``model.distance``); ``"bce"`` needs an ``MLPMetric``.
        classes, embedding_dim: the training classes and the size of the embeddings the loss
            sees, for losses that learn a proxy per class (``proxy_anchor``, ``proxy_nca``,
            ``soft_triple``, ``sub_center_arcface``, ``normalized_softmax``); their parameters
            must then be given to the optimiser.
            ``embedding_dim`` also sizes the cross-batch memory (``loss.xbm_memory_size``).

    Returns:
        A module called as ``objective(z, labels, indices=None)``.
    """
    name, params = loss_params(cfg, distance)
    if isinstance(params.get("mining"), str) and "mining" not in cfg.params:
        # the config's miner: a strategy name the loss knows, or one built by name (MINERS)
        params["mining"] = build_miner(cfg, params["mining"], params.get("distance", distance))
    takes = inspect.signature(LOSSES.get(name)).parameters if name in LOSSES else {}
    for key, value in (("classes", classes), ("embedding_dim", embedding_dim)):
        if key in takes and key not in params:
            if value is None and takes[key].default is inspect.Parameter.empty:
                raise ValueError(f"loss.kind = {name} needs the run's {key} to build its proxies")
            if value is not None:
                params[key] = value
    loss = LOSSES.build(name, **params)
    if cfg.xbm_memory_size > 0:  # mine each batch against a memory of earlier ones
        if embedding_dim is None:
            raise ValueError("loss.xbm_memory_size > 0 needs the run's embedding_dim")
        _check_xbm_mining(cfg, loss, embedding_dim, classes)
        loss = CrossBatchMemory(loss, embedding_dim, cfg.xbm_memory_size, cfg.xbm_warmup_steps)
    return loss


def _check_xbm_mining(
    cfg: LossConfig, loss: nn.Module, embedding_dim: int, classes: Sequence[int] | None
) -> None:
    """Refuse, when the objective is built (before a run writes anything), a loss.mining the
    cross-batch memory cannot mine with: the memory's first step raised 'a cross-batch memory
    with contrastive takes a pair strategy name, not PairMiner(...)' with the run's folder begun.
    The memory's own loss is tried on a four-embedding batch, as its steps will call it."""
    if cfg.kind not in XBM_MINING or resolved_mining(cfg) is None:
        return
    import torch

    from siamkit.losses.xbm import reference_loss

    ids = list(classes)[:2] if classes is not None and len(classes) >= 2 else [0, 1]
    first = next(iter([*loss.parameters(), *loss.buffers()]), None)
    device = first.device if first is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    z = nn.functional.normalize(torch.randn(4, embedding_dim, generator=gen), dim=1).to(device)
    labels = torch.tensor([ids[0], ids[0], ids[1], ids[1]], device=device)
    try:
        with torch.no_grad():
            reference_loss(loss, z, labels, z, labels)
    except ValueError:
        raise ValueError(
            f"loss.mining = {cfg.mining} cannot go with loss.xbm_memory_size = "
            f"{cfg.xbm_memory_size}: the cross-batch memory mines each batch against the memory "
            f"itself, so loss.kind = {cfg.kind} takes loss.mining = {XBM_MINING[cfg.kind]} "
            "(or turn the memory off with loss.xbm_memory_size=0)"
        ) from None


__all__ = ["build_objective", "flat_loss_params", "loss_params"]
