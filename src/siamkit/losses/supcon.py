"""Supervised contrastive loss module (Khosla et al., 2020)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.losses.functional import supcon_loss


class SupConLoss(nn.Module):
    """Supervised contrastive loss; embeddings are L2-normalised inside.

    >>> SupConLoss(0.1)(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2])).dim()
    0
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        return supcon_loss(F.normalize(embeddings, dim=1), labels, self.temperature)
