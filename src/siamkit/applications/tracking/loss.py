"""SiamFC's logistic loss on the response map with balanced positives and negatives.

``l = sum_u w[u] * log(1 + exp(-y[u] v[u]))`` with ``y = ±1``, where the positives share half of
the weight and the negatives the other half (Bertinetto et al. 2016, eq. 2-3 with class balance).

>>> logits, labels = torch.zeros(2, 17, 17), torch.zeros(2, 17, 17)
>>> labels[:, 8, 8] = 1
>>> round(float(balanced_logistic_loss(logits, labels)), 4)
0.6931
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def balanced_logistic_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the class-balanced logistic loss.

    Args:
        logits: ``(B, H, W)`` (or ``(B, 1, H, W)``) response logits.
        labels: same shape, 1 for positive cells and 0 for negative ones.
    """
    logits = logits.reshape(logits.shape[0], -1)  # (B, HW)
    labels = labels.reshape(labels.shape[0], -1).to(logits.dtype)
    if logits.shape != labels.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ in shape"
        )
    n_pos = labels.sum(dim=1, keepdim=True).clamp(min=1)
    n_neg = (1 - labels).sum(dim=1, keepdim=True).clamp(min=1)
    weights = torch.where(labels > 0.5, 0.5 / n_pos, 0.5 / n_neg)  # each row sums to 1
    per_cell = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (weights * per_cell).sum(dim=1).mean()
