"""Proxy-based losses: one learned vector per training class stands in for the class.

Proxy losses compare each embedding with C proxies instead of with the other B - 1 items of the
batch, so every step sees every class, whatever a CPU-sized batch holds, and there is no mining.

- :func:`proxy_anchor_loss` (Kim et al., 2020): each proxy pulls its class's embeddings and pushes
  the rest, with a log-sum-exp over the batch per proxy.
- :func:`proxy_nca_loss` (Movshovitz-Attias et al., 2017): NCA against the proxies, a softmax
  over ``-scale * squared distance`` to each proxy.
- :func:`normalized_softmax_loss` (Zhai & Wu, 2019) with an additive angular margin (ArcFace,
  Deng et al., 2019) or an additive cosine margin (CosFace, Wang et al., 2018): cross-entropy
  over scaled cosines to the proxies, the true class's angle widened by ``margin`` radians, or
  its cosine lowered by ``margin``.

Labels are the dataset's class ids; the modules map them onto their proxies (``classes``).

>>> loss = ProxyAnchorLoss(classes=[3, 5, 7], embedding_dim=4)
>>> loss(torch.nn.functional.normalize(torch.randn(6, 4), dim=1), torch.tensor([3, 3, 5, 5, 7, 7])).item() > 0
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.losses.class_rows import class_lookup, class_rows
from siamkit.losses.functional import at_least_float32
from siamkit.miners._common import check_batch
from siamkit.params import choice, count, flag, number

#: How :func:`normalized_softmax_loss` applies its margin: ``"arc"`` adds it to the target's angle
#: (ArcFace), ``"cos"`` subtracts it from the target's cosine (CosFace).
MarginType = Literal["arc", "cos"]
MARGIN_TYPES: tuple[MarginType, ...] = ("arc", "cos")


def check_margin_type(margin_type: object) -> MarginType:
    """``margin_type`` if it is one of :data:`MARGIN_TYPES`, else a ``ParamError``."""
    return choice("margin_type", margin_type, MARGIN_TYPES)  # type: ignore[return-value]


def check_target_margin(margin: object, margin_type: MarginType) -> float:
    """ArcFace's or CosFace's ``margin`` as a float: an angle in ``[0, pi/2)`` radians
    (``"arc"``), or a cosine in ``[0, 1)`` (``"cos"``); past them the target is pushed away."""
    top, unit = (
        (math.pi / 2, "radians") if check_margin_type(margin_type) == "arc" else (1, "a cosine")
    )
    note = f"{unit}, for margin_type {margin_type!r}"
    return number("margin", margin, 0, top, open_high=True, note=note)


def check_scale(scale: object, note: str) -> float:
    """A softmax's ``scale`` (the inverse temperature) as a float: finite and positive."""
    return number("scale", scale, low=0, open_low=True, note=note)


def unit_rows(embeddings: Tensor, proxies: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, D)`` embeddings and ``(C, D)`` proxies L2-normalised, in one dtype: the wider of
    the two (bfloat16 or float16 embeddings of a network run in half precision meet float32
    proxies, which a matmul refuses to mix; the loss is then computed in float32)."""
    dtype = torch.promote_types(embeddings.dtype, proxies.dtype)
    return F.normalize(embeddings.to(dtype), dim=1), F.normalize(proxies.to(dtype), dim=1)


def proxy_anchor_loss(
    embeddings: Tensor, targets: Tensor, proxies: Tensor, margin: float = 0.1, alpha: float = 32.0
) -> Tensor:
    """Proxy-Anchor loss of ``(B, D)`` embeddings with proxy indices ``targets`` ``(B,)`` against
    ``(C, D)`` proxies (both L2-normalised inside).

    ``mean over proxies with positives of log(1 + sum_pos exp(-alpha (s - margin)))`` plus
    ``mean over all proxies of log(1 + sum_neg exp(alpha (s + margin)))``, s the cosine.
    """
    x, p = unit_rows(embeddings, proxies)
    s = x @ p.T  # (B, C)
    pos = F.one_hot(targets, proxies.shape[0]).bool()  # (B, C)
    neg_inf = torch.finfo(s.dtype).min
    pos_logits = torch.where(pos, -alpha * (s - margin), neg_inf)
    neg_logits = torch.where(~pos, alpha * (s + margin), neg_inf)
    zero = s.new_zeros(1, s.shape[1])
    # log(1 + sum exp(x)) = logsumexp over [0, x...]; columns with no term give log(1) = 0
    pos_term = torch.logsumexp(torch.cat([zero, pos_logits]), dim=0)  # (C,)
    neg_term = torch.logsumexp(torch.cat([zero, neg_logits]), dim=0)  # (C,)
    with_pos = pos.any(dim=0)
    return pos_term[with_pos].sum() / with_pos.sum().clamp_min(1) + neg_term.mean()


def proxy_nca_loss(
    embeddings: Tensor,
    targets: Tensor,
    proxies: Tensor,
    scale: float = 1.0,
    exclude_positive: bool = False,
) -> Tensor:
    """ProxyNCA of ``(B, D)`` embeddings with proxy indices ``targets`` ``(B,)`` against ``(C, D)``
    proxies (both L2-normalised inside), ``d`` the squared Euclidean distance.

    ``mean over items of -log(exp(-scale d(x, p_y)) / sum_z exp(-scale d(x, p_z)))``, the sum over
    every proxy (pytorch-metric-learning's ``ProxyNCALoss``, whose ``softmax_scale`` is
    ``scale``; ProxyNCA++'s form). ``exclude_positive=True`` sums over the other proxies only,
    the paper's eq. 4, which has no lower bound.
    """
    x, p = unit_rows(embeddings, proxies)
    d = (2 - 2 * x @ p.T).clamp_min(0)  # (B, C) squared distances of unit vectors
    logits = -scale * d
    if not exclude_positive:
        return F.cross_entropy(logits, targets)
    target = F.one_hot(targets, p.shape[0]).bool()
    others = torch.logsumexp(logits.masked_fill(target, torch.finfo(d.dtype).min), dim=1)
    return (others - logits.gather(1, targets[:, None]).squeeze(1)).mean()


def normalized_softmax_loss(
    embeddings: Tensor,
    targets: Tensor,
    proxies: Tensor,
    scale: float = 16.0,
    margin: float = 0.0,
    margin_type: MarginType = "arc",
) -> Tensor:
    """Cross-entropy over ``scale * cos`` to ``(C, D)`` proxies, with a ``margin`` on the target.

    ``margin_type="arc"``: the target's angle is widened by ``margin`` radians (ArcFace, ~0.5;
    pytorch-metric-learning's ``ArcFaceLoss`` takes it in degrees). ``"cos"``: ``margin`` is
    subtracted from the target's cosine (CosFace, ~0.35; ``CosFaceLoss``). 0 = plain normalised
    softmax either way.
    """
    x, p = unit_rows(embeddings, proxies)
    cos = x @ p.T  # (B, C)
    return F.cross_entropy(scale * with_target_margin(cos, targets, margin, margin_type), targets)


def with_target_margin(
    cos: Tensor, targets: Tensor, margin: float, margin_type: MarginType = "arc"
) -> Tensor:
    """``(B, C)`` cosines with ``margin`` applied to each row's target class: its angle widened
    (``"arc"``, ArcFace) or its cosine lowered (``"cos"``, CosFace); 0 leaves them as they are."""
    if check_margin_type(margin_type) == "cos" and margin:
        cos = cos - margin * F.one_hot(targets, cos.shape[1]).to(cos.dtype)
    elif margin:
        cos = at_least_float32(cos)  # half precision rounds a target cosine to 1 (NaN gradient)
        target_cos = cos.gather(1, targets[:, None]).clamp(-1 + 1e-7, 1 - 1e-7)
        angle = torch.acos(target_cos)
        # past theta = pi - m, cos(theta + m) rises again and would push the target away; there
        # ArcFace (insightface, PML) continues with cos(theta) - m sin(m), which keeps falling
        widened = torch.where(
            angle <= math.pi - margin,
            torch.cos(angle + margin),
            target_cos - margin * math.sin(margin),
        )
        cos = cos.scatter(1, targets[:, None], widened)
    return cos


class _ProxyLoss(nn.Module):
    """Holds the proxies (``per_class`` rows per class, class ``c``'s at rows ``c * per_class``
    onwards) and the map from class ids to classes."""

    lookup: Tensor  # (C,) the class ids in increasing order: class lookup[r] owns row r

    def __init__(self, classes: Sequence[int], embedding_dim: int, per_class: int = 1) -> None:
        super().__init__()
        ids = sorted({int(c) for c in classes})
        if len(ids) < 2:
            raise ValueError(f"a proxy loss needs at least 2 training classes, got {ids}")
        embedding_dim = count("embedding_dim", embedding_dim)
        self.proxies = nn.Parameter(torch.empty(len(ids) * per_class, embedding_dim))
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")
        self.register_buffer("lookup", class_lookup(ids, 2), persistent=False)

    def targets(self, labels: Tensor, embeddings: Tensor | None = None) -> Tensor:
        """Class ids ``(B,)`` -> class rows; a clear error for a class without a proxy, and,
        given the batch's ``(B, D)`` ``embeddings``, for labels or embeddings that do not fit
        them or the proxies (another length, another size, float labels, no items)."""
        if embeddings is not None:
            labels = check_batch(embeddings, labels)
            if embeddings.shape[0] == 0:
                raise ValueError(
                    "embeddings is empty (a batch of 0); a proxy loss needs at least one embedding"
                )
            dim = self.proxies.shape[1]
            if embeddings.shape[1] != dim:
                raise ValueError(
                    f"embeddings are {embeddings.shape[1]}-d but the loss was built with "
                    f"embedding_dim={dim}; build it with the network's embedding size"
                )
        return class_rows(self.lookup, labels)


class ProxyAnchorLoss(_ProxyLoss):
    """Proxy-Anchor (Kim et al., 2020) with one learned proxy per class in ``classes``.

    The proxies are parameters of the loss: give them to the optimiser too (the trainer does), with
    a learning rate about 100x the network's as the paper does, or the same one.
    """

    def __init__(
        self, classes: Sequence[int], embedding_dim: int, margin: float = 0.1, alpha: float = 32.0
    ) -> None:
        super().__init__(classes, embedding_dim)
        self.margin = number(
            "margin", margin, 0, 1, open_high=True, note="a cosine; the paper's 0.1"
        )
        self.alpha = number("alpha", alpha, low=0, open_low=True, note="the paper's 32")

    def forward(self, embeddings: Tensor, labels: Tensor, indices: object = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` class ids -> scalar loss (``indices`` is unused:
        proxies need no mining)."""
        return proxy_anchor_loss(
            embeddings, self.targets(labels, embeddings), self.proxies, self.margin, self.alpha
        )


class ProxyNCALoss(_ProxyLoss):
    """ProxyNCA (Movshovitz-Attias et al., 2017) with one learned proxy per class in ``classes``:
    each embedding is classified by a softmax over ``-scale`` times its squared distances to the
    proxies (embeddings and proxies L2-normalised).

    ``scale`` 1 (pytorch-metric-learning's default) gives soft targets on the unit sphere;
    ProxyNCA++ uses ~9. ``exclude_positive`` leaves the own proxy out of the denominator, as the
    paper's formula does. The proxies are parameters of the loss (the trainer optimises and
    checkpoints them).

    >>> loss = ProxyNCALoss(classes=[3, 5, 7], embedding_dim=4, scale=9.0)
    >>> loss(torch.randn(6, 4), torch.tensor([3, 3, 5, 5, 7, 7])).dim()
    0
    """

    def __init__(
        self,
        classes: Sequence[int],
        embedding_dim: int,
        scale: float = 1.0,
        exclude_positive: bool = False,
    ) -> None:
        super().__init__(classes, embedding_dim)
        self.scale = check_scale(scale, "PML's 1, ProxyNCA++'s 9")
        self.exclude_positive = flag("exclude_positive", exclude_positive)

    def forward(self, embeddings: Tensor, labels: Tensor, indices: object = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` class ids -> scalar loss (``indices`` is unused)."""
        return proxy_nca_loss(
            embeddings,
            self.targets(labels, embeddings),
            self.proxies,
            self.scale,
            self.exclude_positive,
        )


class NormalizedSoftmaxLoss(_ProxyLoss):
    """Normalised softmax over class proxies, with an optional ``margin`` on the target class:
    ArcFace's angular one (``margin_type="arc"``, radians) or CosFace's on the cosine
    (``margin_type="cos"``). ``scale`` is the inverse temperature."""

    def __init__(
        self,
        classes: Sequence[int],
        embedding_dim: int,
        scale: float = 16.0,
        margin: float = 0.0,
        margin_type: MarginType = "arc",
    ) -> None:
        super().__init__(classes, embedding_dim)
        self.scale = check_scale(scale, "Zhai & Wu's 16, ArcFace's 64")
        self.margin = check_target_margin(margin, margin_type)
        self.margin_type = margin_type

    def forward(self, embeddings: Tensor, labels: Tensor, indices: object = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` class ids -> scalar loss."""
        return normalized_softmax_loss(
            embeddings,
            self.targets(labels, embeddings),
            self.proxies,
            self.scale,
            self.margin,
            self.margin_type,
        )
