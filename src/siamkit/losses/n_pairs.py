"""N-pair loss (Sohn: "Improved Deep Metric Learning with Multi-class N-pair Loss Objective",
NeurIPS 2016): ``N`` pairs ``(x_i, x_i+)`` of ``N`` distinct classes, each anchor classified
among the ``N`` positives by a softmax over inner products.

Per pair ``i``: ``log(1 + sum_{j != i} exp(x_i . x_j+ - x_i . x_i+))``, the cross-entropy of the
``(N, N)`` matrix ``x_i . x_j+`` with target ``j = i``, averaged over the pairs; ``l2_reg`` adds
the paper's penalty on the embeddings' squared L2 norms. From a batch of labels the loss takes
one positive pair per class (the first, in row order: a class's first two items), as
pytorch-metric-learning's ``NPairsLoss`` does.

>>> z = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
>>> NPairsLoss()(z, torch.tensor([0, 0, 1, 1, 2, 2])).dim()
0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.losses.functional import check_tensors
from siamkit.losses.indices import Indices, as_pairs
from siamkit.miners._common import check_batch, label_masks
from siamkit.params import number


def n_pairs_loss(anchors: Tensor, positives: Tensor) -> Tensor:
    """N-pair loss of ``(N, D)`` anchors and their ``(N, D)`` positives, row ``i`` of each of
    class ``i`` (every row a different class); 0 with a gradient for ``N = 0``.

    >>> round(float(n_pairs_loss(torch.eye(2), torch.eye(2))), 4)
    0.3133
    """
    check_tensors("n_pairs_loss", anchors=anchors, positives=positives)
    if anchors.dim() != 2 or anchors.shape != positives.shape:
        raise ValueError(
            f"anchors and positives must be (N, D) of one shape, got {tuple(anchors.shape)} and "
            f"{tuple(positives.shape)}"
        )
    if anchors.shape[0] == 0:
        return (anchors.sum() + positives.sum()) * 0.0
    targets = torch.arange(anchors.shape[0], device=anchors.device)
    return F.cross_entropy(anchors @ positives.T, targets)


def n_pairs_from_batch(labels: Tensor, indices: Indices | None = None) -> tuple[Tensor, Tensor]:
    """``(anchor, positive)`` index tensors ``(N,)``: one positive pair per class, the first of
    ``indices``' positive pairs whose anchor is of that class (``None``: every positive pair of
    the batch, in row order), classes in increasing order."""
    if indices is None:
        pos, _ = label_masks(labels, labels)
        a, p = pos.nonzero(as_tuple=True)  # row-major
    else:
        first, second, same = as_pairs(indices, labels)
        first, second = first.to(labels.device), second.to(labels.device)
        keep = same.to(labels.device) & (labels[first] == labels[second]) & (first != second)
        a, p = first[keep], second[keep]
    if a.numel() == 0:
        return a, p
    classes, which = torch.unique(labels[a], return_inverse=True)
    order = torch.arange(a.numel(), device=a.device)
    first_of = torch.full((classes.numel(),), a.numel(), dtype=torch.long, device=a.device)
    first_of = first_of.scatter_reduce(0, which, order, reduce="amin")
    return a[first_of], p[first_of]


class NPairsLoss(nn.Module):
    """N-pair loss (Sohn, 2016) on the batch's classes, one positive pair per class.

    Args:
        l2_reg: weight of the mean squared L2 norm of the batch's embeddings (the paper's
            regulariser, which keeps unnormalised inner products from growing; a constant for
            L2-normalised embeddings). 0 is pytorch-metric-learning's ``NPairsLoss`` default;
            ``l2_reg = w`` equals it with ``embedding_regularizer=LpRegularizer(power=2)`` and
            ``embedding_reg_weight=w``.

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``: mined ``indices``
    (pairs or triplets) give the positive pairs to choose from. The logits are inner products,
    as in the paper: give it L2-normalised embeddings (siamkit's models normalise in their head;
    pytorch-metric-learning normalises inside by default) or set ``l2_reg``. The sampler should
    draw at least two images per class.
    """

    def __init__(self, l2_reg: float = 0.0) -> None:
        super().__init__()
        self.l2_reg = number("l2_reg", l2_reg, low=0)

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        """``(B, D)`` embeddings and ``(B,)`` labels -> scalar loss."""
        labels = check_batch(embeddings, labels)
        a, p = n_pairs_from_batch(labels, indices)
        loss = n_pairs_loss(embeddings[a], embeddings[p])
        if self.l2_reg and embeddings.shape[0]:
            loss = loss + self.l2_reg * embeddings.pow(2).sum(dim=1).mean()
        return loss if a.numel() else loss + embeddings.sum() * 0.0

    def extra_repr(self) -> str:
        return f"l2_reg={self.l2_reg}"
