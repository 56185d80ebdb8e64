"""Binary cross-entropy pair loss for learned similarity heads (Koch et al., 2015)."""

from __future__ import annotations

from torch import Tensor, nn

from siamkit.losses.functional import pair_bce_loss
from siamkit.params import number


class PairBCELoss(nn.Module):
    """BCE on the "same" logits of a learned head such as :class:`siamkit.distances.MLPMetric`.

    >>> import torch
    >>> from siamkit.distances import MLPMetric
    >>> head = MLPMetric(4)
    >>> PairBCELoss()(head.logits(torch.randn(3, 4), torch.randn(3, 4)), torch.tensor([1, 0, 1])).dim()
    0
    """

    def __init__(self, pos_weight: float | None = None) -> None:
        super().__init__()
        if pos_weight is not None:
            pos_weight = number("pos_weight", pos_weight, low=0, open_low=True, note="or None")
        self.pos_weight = pos_weight

    def forward(self, logits: Tensor, same: Tensor) -> Tensor:
        """``(N,)`` logits and ``(N,)`` 0/1 labels -> scalar loss."""
        return pair_bce_loss(logits, same, self.pos_weight)
