"""SoftTriple loss (Qian et al., "SoftTriple Loss: Deep Metric Learning Without Triplet
Sampling", ICCV 2019): ``K`` learned centres per class, a softmax over classes on each class's
soft-max similarity, with no mining.

>>> loss = SoftTripleLoss(classes=[3, 5, 7], embedding_dim=4, centers_per_class=2)
>>> loss(torch.randn(6, 4), torch.tensor([3, 3, 5, 5, 7, 7])).dim()
0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from siamkit.losses.functional import at_least_float32
from siamkit.losses.proxies import _ProxyLoss, unit_rows
from siamkit.params import count, number


def soft_triple_loss(
    embeddings: Tensor,
    targets: Tensor,
    centers: Tensor,
    centers_per_class: int,
    la: float = 20.0,
    gamma: float = 0.1,
    margin: float = 0.01,
    tau: float = 0.2,
) -> Tensor:
    """SoftTriple of ``(B, D)`` embeddings with class indices ``targets`` ``(B,)`` against
    ``(C * K, D)`` centres (class ``c``'s are rows ``c * K`` to ``c * K + K - 1``; both
    L2-normalised inside).

    A class's similarity is ``S_c = sum_k softmax_k(s_ck / gamma) s_ck`` over its ``K`` centres'
    cosines ``s_ck``; the loss is the cross-entropy of ``la * (S - margin on the target)``
    (eq. 9), plus ``tau`` times the mean over the pairs of centres of one class of
    ``sqrt(2 - 2 w_k . w_l)`` (eq. 11: the paper's centre merging; pytorch-metric-learning's
    ``SoftTripleLoss`` has no such term, ``tau=0``).
    """
    k = int(centers_per_class)
    if centers.dim() != 2 or k < 1 or centers.shape[0] % k:
        raise ValueError(
            f"centers must be (C * K, D) with K = centers_per_class = {k}, got "
            f"{tuple(centers.shape)}"
        )
    x, w = unit_rows(embeddings, centers)
    s = (x @ w.T).view(embeddings.shape[0], -1, k)  # (B, C, K)
    sim = (F.softmax(s / gamma, dim=2) * s).sum(dim=2)  # (B, C)
    sim = sim - margin * F.one_hot(targets, sim.shape[1]).to(sim.dtype)
    loss = F.cross_entropy(la * sim, targets)
    if tau and k > 1:
        wc = w.view(-1, k, w.shape[1])  # (C, K, D)
        upper = torch.triu(torch.ones(k, k, dtype=torch.bool, device=w.device), diagonal=1)
        gram = at_least_float32(wc @ wc.transpose(1, 2))[:, upper]  # (C, pairs) cosines
        # a half-precision cosine can round past 1, where sqrt would be NaN: clamp, then + 1e-5
        dist = torch.sqrt((2.0 - 2.0 * gram).clamp_min(0) + 1e-5)
        loss = loss + tau * dist.sum() / (wc.shape[0] * k * (k - 1))
    return loss


class SoftTripleLoss(_ProxyLoss):
    """SoftTriple with ``centers_per_class`` learned centres for each class in ``classes``.

    Args:
        classes, embedding_dim: the training class ids and the embeddings' size.
        centers_per_class: ``K``, the paper's 10 (1 is a normalised softmax with a margin).
        la: the scale of the class similarities (the paper's lambda, 20).
        gamma: the temperature of the softmax over a class's centres (0.1).
        margin: subtracted from the target class's similarity (the paper's delta, 0.01).
        tau: weight of the term merging a class's close centres (the paper's 0.2; 0 is
            pytorch-metric-learning's ``SoftTripleLoss``).

    The centres (``proxies``, ``(C * K, D)``) are parameters of the loss: the trainer optimises
    and checkpoints them. ``forward(embeddings (B, D), labels (B,), indices=None)``; ``indices``
    is unused.
    """

    def __init__(
        self,
        classes: Sequence[int],
        embedding_dim: int,
        centers_per_class: int = 10,
        la: float = 20.0,
        gamma: float = 0.1,
        margin: float = 0.01,
        tau: float = 0.2,
    ) -> None:
        k = count("centers_per_class", centers_per_class, note="the paper's 10")
        settings = (
            number("la", la, low=0, open_low=True, note="the paper's 20"),
            number("gamma", gamma, low=0, open_low=True, note="the paper's 0.1"),
            number("margin", margin, low=0, note="a cosine; the paper's 0.01"),
            number("tau", tau, low=0, note="the paper's 0.2"),
        )
        super().__init__(classes, embedding_dim, per_class=k)
        self.centers_per_class = k
        self.la, self.gamma, self.margin, self.tau = settings

    def forward(self, embeddings: Tensor, labels: Tensor, indices: object = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` class ids -> scalar loss."""
        return soft_triple_loss(
            embeddings, self.targets(labels, embeddings), self.proxies, self.centers_per_class,
            self.la, self.gamma, self.margin, self.tau,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"centers_per_class={self.centers_per_class}, la={self.la}, gamma={self.gamma}, "
            f"margin={self.margin}, tau={self.tau}"
        )
