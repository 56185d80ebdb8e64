"""Supervised contrastive loss module (Khosla et al., 2020)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.losses.functional import at_least_float32, supcon_loss
from siamkit.losses.indices import Indices, pair_masks
from siamkit.miners._common import check_batch
from siamkit.params import number


class SupConLoss(nn.Module):
    """Supervised contrastive loss; embeddings are L2-normalised inside.

    ``forward(embeddings (B, D), labels (B,), indices=None)``: mined ``indices`` (pairs or
    triplets) restrict each anchor's positives and denominator to the mined pairs.

    >>> import torch
    >>> SupConLoss(0.1)(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2])).dim()
    0
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = number(
            "temperature", temperature, low=0, open_low=True, note="the paper's 0.1"
        )

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        labels = check_batch(embeddings, labels)
        pos, neg = (None, None) if indices is None else pair_masks(indices, labels)
        z = F.normalize(at_least_float32(embeddings), dim=1)
        return supcon_loss(z, labels, self.temperature, pos, neg)
