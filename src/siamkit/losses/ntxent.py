"""NT-Xent / InfoNCE loss module for self-supervised pairs of views (SimCLR)."""

from __future__ import annotations

from torch import Tensor, nn

from siamkit.losses.functional import nt_xent_loss
from siamkit.params import number


class NTXentLoss(nn.Module):
    """InfoNCE over two augmented views of the same ``N`` items.

    >>> import torch
    >>> NTXentLoss(0.5)(torch.randn(4, 8), torch.randn(4, 8)).dim()
    0
    """

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = number(
            "temperature", temperature, low=0, open_low=True, note="SimCLR's 0.5"
        )

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Two ``(N, D)`` views -> scalar loss."""
        return nt_xent_loss(z1, z2, self.temperature)
