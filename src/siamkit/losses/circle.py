"""Circle loss module (Sun et al., 2020)."""

from __future__ import annotations

from torch import Tensor, nn

from siamkit.losses.functional import circle_loss
from siamkit.losses.indices import Indices, pair_masks
from siamkit.miners._common import check_batch
from siamkit.params import number


class CircleLoss(nn.Module):
    """Circle loss over the pairs of a batch, on cosine similarities (embeddings are
    L2-normalised inside).

    Each pair is weighted by how far its cosine is from its optimum (1 for a positive, -1 for a
    negative, relaxed by ``m``), so the pairs furthest off get the largest gradient.

    Args:
        m: the relaxation: positives are pushed above ``1 - m``, negatives below ``m``.
        gamma: the scale. The paper uses ``m = 0.25, gamma = 256`` for faces (the defaults),
            ``m = 0.25, gamma = 128`` for person re-identification and ``m = 0.4, gamma = 80`` for
            fine-grained image retrieval (pytorch-metric-learning's defaults).

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``: mined ``indices`` (pairs
    or triplets) restrict each anchor's sums to the mined pairs.

    >>> import torch
    >>> CircleLoss(m=0.4, gamma=80)(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2])).dim()
    0
    """

    def __init__(self, m: float = 0.25, gamma: float = 256.0) -> None:
        super().__init__()
        self.m = number("m", m, 0, 1, open_high=True, note="the paper's 0.25 or 0.4")
        self.gamma = number("gamma", gamma, low=0, open_low=True, note="the paper's 256, 128 or 80")

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        labels = check_batch(embeddings, labels)
        pos, neg = (None, None) if indices is None else pair_masks(indices, labels)
        return circle_loss(embeddings, labels, self.m, self.gamma, pos, neg)

    def extra_repr(self) -> str:
        return f"m={self.m}, gamma={self.gamma}"
