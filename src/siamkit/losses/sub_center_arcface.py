"""Sub-center ArcFace (Deng, Guo, Liu, Zafeiriou, Jin: "Sub-center ArcFace: Boosting Face
Recognition by Large-Scale Noisy Web Faces", ECCV 2020): ``K`` learned sub-centres per class,
each embedding compared with its nearest sub-centre of every class, then ArcFace's margin and
softmax. Clean images gather around one dominant sub-centre per class, noisy ones around the
others, so a noisy training set does not pull the class apart; :meth:`SubCenterArcFaceLoss.
outliers` names the images far from their class's dominant sub-centre (the paper drops them and
trains again with the dominant sub-centres alone).

>>> loss = SubCenterArcFaceLoss(classes=[3, 5, 7], embedding_dim=4, sub_centers=2)
>>> loss(torch.randn(6, 4), torch.tensor([3, 3, 5, 5, 7, 7])).dim()
0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from siamkit.losses.proxies import (
    MarginType,
    _ProxyLoss,
    check_scale,
    check_target_margin,
    unit_rows,
    with_target_margin,
)
from siamkit.params import count


def sub_center_cosines(embeddings: Tensor, centers: Tensor, sub_centers: int) -> Tensor:
    """``(B, C, K)`` cosines of ``(B, D)`` embeddings to ``(C * K, D)`` sub-centres (class
    ``c``'s at rows ``c * K`` to ``c * K + K - 1``; both L2-normalised inside)."""
    k = int(sub_centers)
    if centers.dim() != 2 or k < 1 or centers.shape[0] % k:
        raise ValueError(
            f"centers must be (C * K, D) with K = sub_centers = {k}, got {tuple(centers.shape)}"
        )
    x, w = unit_rows(embeddings, centers)
    cos = x @ w.T
    return cos.view(embeddings.shape[0], -1, k)


def sub_center_arcface_loss(
    embeddings: Tensor,
    targets: Tensor,
    centers: Tensor,
    sub_centers: int,
    scale: float = 64.0,
    margin: float = 0.5,
    margin_type: MarginType = "arc",
) -> Tensor:
    """Cross-entropy over ``scale * max_k cos(x, w_ck)``, each class's nearest sub-centre, with
    ArcFace's ``margin`` (radians) on the target class (``margin_type="cos"``: CosFace's)."""
    cos = sub_center_cosines(embeddings, centers, sub_centers).amax(dim=2)  # (B, C)
    return F.cross_entropy(scale * with_target_margin(cos, targets, margin, margin_type), targets)


class SubCenterArcFaceLoss(_ProxyLoss):
    """Sub-center ArcFace with ``sub_centers`` learned sub-centres for each class in ``classes``.

    Args:
        classes, embedding_dim: the training class ids and the embeddings' size.
        sub_centers: ``K``, the paper's 3 (1 is ArcFace: ``normalized_softmax`` with a margin).
        scale: the inverse temperature (the paper's 64).
        margin: the angular margin in radians (the paper's 0.5; pytorch-metric-learning's
            ``SubCenterArcFaceLoss`` takes degrees, 28.6).
        margin_type: ``"arc"`` (ArcFace) or ``"cos"`` (a cosine margin: sub-center CosFace).

    The sub-centres (``proxies``, ``(C * K, D)``) are parameters of the loss: the trainer
    optimises and checkpoints them. ``forward(embeddings (B, D), labels (B,), indices=None)``;
    ``indices`` is unused.
    """

    def __init__(
        self,
        classes: Sequence[int],
        embedding_dim: int,
        sub_centers: int = 3,
        scale: float = 64.0,
        margin: float = 0.5,
        margin_type: MarginType = "arc",
    ) -> None:
        sub_centers = count("sub_centers", sub_centers, note="the paper's 3")
        scale = check_scale(scale, "the paper's 64")
        margin = check_target_margin(margin, margin_type)
        super().__init__(classes, embedding_dim, per_class=sub_centers)
        self.sub_centers, self.scale, self.margin = sub_centers, scale, margin
        self.margin_type = margin_type

    def forward(self, embeddings: Tensor, labels: Tensor, indices: object = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` class ids -> scalar loss."""
        return sub_center_arcface_loss(
            embeddings, self.targets(labels, embeddings), self.proxies, self.sub_centers,
            self.scale, self.margin, self.margin_type,
        )  # fmt: skip

    @torch.no_grad()
    def dominant(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """``(C,)`` each class's dominant sub-centre (``0..K-1``): the one nearest to most of
        its items among ``embeddings`` (ties: the lowest), ``-1`` for a class with none."""
        rows = self.targets(labels, embeddings)
        own = sub_center_cosines(embeddings, self.proxies, self.sub_centers)[
            torch.arange(rows.numel(), device=rows.device), rows
        ]  # (B, K)
        counts = torch.zeros(
            self.proxies.shape[0] // self.sub_centers, self.sub_centers, device=rows.device
        )
        counts.index_put_(
            (rows, own.argmax(dim=1)), torch.ones_like(rows, dtype=counts.dtype), True
        )
        return torch.where(counts.sum(dim=1) > 0, counts.argmax(dim=1), -1)

    @torch.no_grad()
    def outliers(
        self, embeddings: Tensor, labels: Tensor, max_angle: float = math.radians(75)
    ) -> Tensor:
        """Indices (ascending) of the items more than ``max_angle`` radians (the paper's 75
        degrees) from their class's dominant sub-centre: the likely label noise to drop."""
        rows = self.targets(labels, embeddings)
        dom = self.dominant(embeddings, labels)[rows]  # (B,)
        cos = sub_center_cosines(embeddings, self.proxies, self.sub_centers)
        at = torch.arange(rows.numel(), device=rows.device)
        return torch.nonzero(cos[at, rows, dom] < math.cos(max_angle)).flatten()

    def extra_repr(self) -> str:
        return (
            f"sub_centers={self.sub_centers}, scale={self.scale}, margin={self.margin}, "
            f"margin_type={self.margin_type!r}"
        )
