"""Build the model, optimiser and learning-rate schedule of a run from its config.

>>> from siamkit.training.config import RunConfig
>>> cfg = RunConfig()
>>> net = build_model(cfg.model, input_shape=(1, 28, 28), mean=(0.3,), std=(0.35,))
>>> net.embedding_dim
128
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from siamkit.clauses import counted
from siamkit.distances.registry import build_distance
from siamkit.encoders import create_encoder
from siamkit.heads import AppearanceFeatures
from siamkit.models import JoinedEmbedding, Preprocess, SiameseNetwork
from siamkit.training.config import ModelConfig, OptimConfig
from siamkit.training.optim import OPTIMIZERS, SCHEDULES, lr_factor
from siamkit.training.parts import distance_part, encoder_part, optimizer_part, schedule_part


def build_appearance_features(cfg: ModelConfig) -> AppearanceFeatures | None:
    """The config's :class:`AppearanceFeatures` (``None`` without ``model.appearance``)."""
    a = cfg.appearance
    if a is None:
        return None
    return AppearanceFeatures(
        a.pool, features=a.features, bins=a.bins, signed=a.signed, levels=a.levels
    )


def input_normalisation(
    cfg: ModelConfig, input_shape: Sequence[int], mean: Sequence[float], std: Sequence[float]
) -> tuple[tuple[float, ...], tuple[float, ...], str | None]:
    """The per-channel ``(mean, std)`` a model for images of ``input_shape`` keeps, and a
    sentence when the config's were set aside (else ``None``).

    The config's ``input_mean`` / ``input_std`` win when they give one value per channel of the
    images; otherwise (``configs/demo.yaml``'s one-channel Fashion-MNIST values on an RGB image
    folder) they describe other data, and ``mean`` / ``std`` (the training images' statistics)
    are used: one grey value broadcast to three colour channels would normalise every channel
    with statistics that are not its own. Feature-vector inputs ``(F,)`` keep the config's.

    >>> cfg = ModelConfig(input_mean=(0.286,), input_std=(0.353,))
    >>> input_normalisation(cfg, (3, 8, 8), (0.4, 0.5, 0.6), (0.2, 0.2, 0.2))[:2]
    ((0.4, 0.5, 0.6), (0.2, 0.2, 0.2))
    """
    data = (tuple(float(v) for v in mean), tuple(float(v) for v in std))
    if cfg.input_mean is None or cfg.input_std is None:
        return (*data, None)
    channels = int(input_shape[0])
    if len(input_shape) != 3 or len(cfg.input_mean) == len(cfg.input_std) == channels:
        return tuple(cfg.input_mean), tuple(cfg.input_std), None
    note = (
        f"model.input_mean / model.input_std give {counted(len(cfg.input_mean), 'value')} but "
        f"the images have {counted(channels, 'channel')}: normalising with the training "
        f"images' own statistics, mean {list(data[0])} and std {list(data[1])}, instead (set "
        f"both keys to {counted(channels, 'value')}, or to null, to silence this)"
    )
    if channels == 3 and len(set(data[0])) == 1 and len(set(data[1])) == 1:
        # grey images read as colour (an image folder's default): one channel is what they hold
        note += (
            "; the three channels are alike, so these look like grey images read as colour: "
            "--set data.grayscale=true reads them as one channel"
        )
    return (*data, note)


def build_model(
    cfg: ModelConfig,
    input_shape: Sequence[int],
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    log: Callable[[str], None] | None = None,
) -> SiameseNetwork | JoinedEmbedding:
    """The model a run trains, for inputs of ``input_shape`` ``(C, H, W)`` or ``(F,)``: a
    :class:`SiameseNetwork`, or the :class:`JoinedEmbedding` of one when the loss sees the
    appearance features (``model.appearance.in_loss``). :func:`embedding_model` gives the model
    a run saves and evaluates.

    ``mean`` / ``std`` (usually the training images' statistics) are used unless the config
    fixes ``input_mean`` / ``input_std`` with one value per channel of the images
    (:func:`input_normalisation`; when they have another count, ``log`` gets one line saying
    they were set aside, or a ``UserWarning`` is raised without ``log``). The encoder gets
    ``in_channels`` (images) or ``in_features`` (vectors) from the data unless
    ``encoder_kwargs`` sets it.
    """
    name, kwargs = encoder_part(cfg, tuple(input_shape))
    try:
        encoder = create_encoder(name, **kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"model.encoder / model.encoder_kwargs: {err}") from None
    features = build_appearance_features(cfg)
    if features is not None and len(input_shape) != 3:
        raise ValueError("model.appearance needs image inputs; set it to null")
    joined = features is not None and cfg.appearance is not None and cfg.appearance.in_loss
    dim = cfg.embedding_dim + int(getattr(encoder, "num_passthrough", 0))
    dim += features.extra_dim(input_shape) if joined and features else 0
    kind, params = distance_part(cfg)
    distance = build_distance(kind, dim, **params)
    mean, std, note = input_normalisation(cfg, input_shape, mean, std)
    if note is not None:
        if log is None:
            warnings.warn(note, UserWarning, stacklevel=2)
        else:
            log(note)
    fixed = not isinstance(distance, nn.Module) or not any(True for _ in distance.parameters())
    net = SiameseNetwork(
        encoder,
        embedding_dim=cfg.embedding_dim,
        # a learned distance of the joined embedding is the joined model's, not the network's
        distance=distance if fixed or not joined else "euclidean",  # type: ignore[arg-type]
        head_hidden=cfg.head_hidden,
        preprocess=Preprocess(mean=mean, std=std, input_shape=input_shape),
    )
    if not joined or features is None or cfg.appearance is None:
        return net
    return JoinedEmbedding(net, features, cfg.appearance.weight, distance=distance)  # type: ignore[arg-type]


def embedding_model(
    net: SiameseNetwork | JoinedEmbedding, cfg: ModelConfig
) -> SiameseNetwork | JoinedEmbedding:
    """The model a run saves, calibrates and evaluates: the trained ``net`` joined with the
    config's appearance features (:class:`JoinedEmbedding`), or ``net`` itself when it has them
    already (``in_loss``) or the config has none. No copy: the result embeds with ``net``'s
    current weights."""
    features = build_appearance_features(cfg)
    if features is None or cfg.appearance is None or isinstance(net, JoinedEmbedding):
        return net
    return JoinedEmbedding(net, features, cfg.appearance.weight)


def build_optimizer(
    cfg: OptimConfig, params: list[nn.Parameter], loss_params: Sequence[nn.Parameter] = ()
) -> torch.optim.Optimizer:
    """The registered optimiser ``cfg.optimizer`` (:data:`~siamkit.training.optim.OPTIMIZERS`)
    over ``params`` (the network's) and ``loss_params`` (those the loss learns itself, e.g. class
    proxies; any that are in ``params`` too stay the network's).

    With ``cfg.loss_lr_factor`` other than 1 the loss's parameters are a second param group at
    that multiple of ``cfg.lr`` (the network's group stays first: its rate is the one logged);
    at 1, or with none, there is one group of them all, as before the factor existed.
    """
    kind, kwargs = optimizer_part(cfg)
    network = list(params)
    seen = {id(p) for p in network}
    own = list({id(p): p for p in loss_params if id(p) not in seen}.values())
    if not own or cfg.loss_lr_factor == 1.0:
        return OPTIMIZERS.build(kind, params=[*network, *own], **kwargs)
    groups = [{"params": network}, {"params": own, "lr": cfg.lr * cfg.loss_lr_factor}]
    return OPTIMIZERS.build(kind, params=groups, **kwargs)


def build_scheduler(
    cfg: OptimConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-batch schedule over ``total_steps`` (:data:`~siamkit.training.optim.SCHEDULES`).

    ``onecycle`` is torch's ``OneCycleLR`` (warm-up share ``warmup_fraction``, cosine annealing,
    momentum cycling); ``cosine`` is a linear warm-up then cosine decay; ``constant`` keeps the
    rate. Each param group keeps its rate's ratio to the first's (``optim.loss_lr_factor``);
    a schedule that does not is refused. The schedule is rebuilt from the config on resume,
    then its state is restored.
    """
    kind, kwargs = schedule_part(cfg)
    before = [float(g["lr"]) for g in optimizer.param_groups]
    scheduler = SCHEDULES.build(
        kind, optimizer=optimizer, total_steps=max(1, total_steps), **kwargs
    )
    if not _same_ratios(before, [float(g["lr"]) for g in optimizer.param_groups]):
        raise ValueError(
            f"optim.schedule = {kind!r} does not keep the loss's learning rate at "
            f"optim.loss_lr_factor = {cfg.loss_lr_factor} times the network's; set the factor "
            "to 1 or use a schedule that scales each param group's own rate (e.g. cosine)"
        )
    return scheduler


def _same_ratios(before: list[float], after: list[float]) -> bool:
    """Whether each param group's rate kept its ratio to the first group's."""
    return all(
        math.isclose(a * before[0], b * after[0], rel_tol=1e-6, abs_tol=1e-30)
        for a, b in zip(after, before, strict=True)
    )


__all__ = [
    "build_appearance_features",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "embedding_model",
    "input_normalisation",
    "lr_factor",
]
