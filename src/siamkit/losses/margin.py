"""Margin loss (Wu, Manmatha, Smola, Krähenbühl: "Sampling Matters in Deep Embedding Learning",
ICCV 2017), with a learned boundary ``beta``, global or one per class.

Each triplet ``(a, p, n)`` adds ``relu(d_ap - beta + margin) + relu(beta - d_an + margin)``:
positives are pulled inside ``beta - margin``, negatives pushed beyond ``beta + margin``. The sum
is divided by the number of non-zero terms (pytorch-metric-learning's ``DivisorReducer``), and
``nu * beta`` regularises a learned ``beta`` (averaged over the triplets' anchors when per class).
The paper samples its triplets with :class:`~siamkit.miners.DistanceWeightedMiner`
(``mining="distance_weighted"``).

>>> z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
>>> MarginLoss(mining="distance_weighted")(z, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])).dim()
0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.distances import Distance, training_matrix
from siamkit.losses.class_rows import class_lookup, class_rows
from siamkit.losses.functional import at_least_float32, check_tensors
from siamkit.losses.indices import Indices, pair_masks
from siamkit.losses.triplet import Mining, _check_triplets, _TripletBase
from siamkit.miners._common import check_batch
from siamkit.params import flag, number
from siamkit.types import Pairs


def _ratio(total: Tensor, count: Tensor) -> Tensor:
    """``total / count``, a zero with a gradient when ``count`` is 0."""
    return torch.where(count > 0, total / count.clamp_min(1), total * 0.0)


def margin_loss(
    d_ap: Tensor, d_an: Tensor, beta: Tensor | float, margin: float = 0.2, nu: float = 0.0
) -> Tensor:
    """Margin loss over ``T`` triplets given by their ``(T,)`` distances ``d_ap`` and ``d_an``.

    ``sum(relu(d_ap - beta + margin) + relu(beta - d_an + margin)) / (number of non-zero terms)
    + nu * sum(beta) / (the same number)``, ``beta`` a scalar or one value per triplet ``(T,)``
    (its anchor's class's); with a scalar the regulariser is ``nu * beta`` once, as in
    pytorch-metric-learning. No triplets give 0 with a gradient.

    >>> margin_loss(torch.tensor([0.9, 0.5]), torch.tensor([1.2, 1.6]), 1.2, margin=0.2)
    tensor(0.2000)
    """
    check_tensors("margin_loss", d_ap=d_ap, d_an=d_an)
    if d_ap.dim() != 1 or d_ap.shape != d_an.shape:
        raise ValueError(
            f"margin_loss expects 1-D d_ap and d_an of equal length, got shapes "
            f"{tuple(d_ap.shape)} and {tuple(d_an.shape)}"
        )
    b = torch.as_tensor(beta, dtype=d_ap.dtype, device=d_ap.device)
    if d_ap.numel() == 0:
        return d_ap.sum() * 0.0 + b.sum() * 0.0
    pos = F.relu(d_ap - b + margin)
    neg = F.relu(b - d_an + margin)
    count = (pos > 0).sum() + (neg > 0).sum()
    loss = _ratio((pos + neg).sum(), count)
    if nu:
        loss = loss + (nu * b if b.dim() == 0 else _ratio(nu * b.sum(), count))
    return loss


def all_triplets_margin_loss(
    dist: Tensor,
    beta: Tensor,
    pos: Tensor,
    neg: Tensor,
    margin: float = 0.2,
    nu: float = 0.0,
) -> Tensor:
    """:func:`margin_loss` over every triplet ``(a, p, n)`` with ``pos[a, p]`` and ``neg[a, n]``,
    without listing them (``O(B^2)``, not ``O(B^3)``).

    A triplet's two terms are separate, so positive pair ``(a, p)`` counts once per negative of
    ``a`` and negative pair ``(a, n)`` once per positive of ``a``.

    Args:
        dist: ``(B, B)`` distances.
        beta: ``(B,)`` each anchor's ``beta``, or a scalar (the global one).
        pos, neg: ``(B, B)`` bool masks of the positive and negative pairs (row = anchor).
    """
    n_pos = pos.sum(1, keepdim=True).to(dist.dtype)  # (B, 1)
    n_neg = neg.sum(1, keepdim=True).to(dist.dtype)
    w_pos, w_neg = pos * n_neg, neg * n_pos  # (B, B) triplets each pair is in
    b = beta if beta.dim() == 0 else beta[:, None]
    pos_terms = F.relu(dist - b + margin)
    neg_terms = F.relu(b - dist + margin)
    count = (w_pos * (pos_terms > 0)).sum() + (w_neg * (neg_terms > 0)).sum()
    loss = _ratio((w_pos * pos_terms).sum() + (w_neg * neg_terms).sum(), count)
    per_anchor = (n_pos * n_neg).squeeze(1)  # (B,) triplets anchored at each item
    if nu and beta.dim() == 0:  # once, when there is a triplet at all
        loss = loss + torch.where(per_anchor.sum() > 0, nu * beta, beta * 0.0)
    elif nu:  # every triplet anchored at a adds nu * beta_a
        loss = loss + _ratio(nu * (beta * per_anchor).sum(), count)
    return loss


class MarginLoss(_TripletBase):
    """Margin loss (Wu et al., 2017) with a boundary ``beta`` learned with the network.

    Args:
        margin: half the gap between the positives' and the negatives' side of ``beta``.
        beta: the boundary's initial value (the paper's 1.2 for L2-normalised embeddings).
        nu: weight of the ``nu * beta`` regulariser on a learned ``beta`` (the paper's 0 or 0.1).
        learn_beta: learn ``beta`` (a parameter of the loss: give it to the optimiser, as the
            trainer does) or keep it fixed (pytorch-metric-learning's default).
        per_class_beta: one ``beta`` per class of ``classes`` (the anchor's class picks it),
            else one for all.
        classes: the training class ids, needed with ``per_class_beta``.
        distance: a distance name or ``Distance`` object.
        mining: ``None`` (every valid triplet, computed without listing them), a strategy name of
            :func:`siamkit.miners.mine_triplets` (``"distance_weighted"``: the paper's sampling),
            or a miner object returning ``Triplets`` or ``Pairs``.

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``; given ``indices`` win
    over ``mining``. ``Pairs`` stand for every triplet their positive and negative pairs of
    one anchor make.
    """

    lookup: Tensor
    beta: Tensor

    def __init__(
        self,
        margin: float = 0.2,
        beta: float = 1.2,
        nu: float = 0.0,
        learn_beta: bool = True,
        per_class_beta: bool = False,
        classes: Sequence[int] | None = None,
        distance: str | Distance = "euclidean",
        mining: Mining = None,
    ) -> None:
        super().__init__(distance, mining)
        self.margin = number("margin", margin, low=0, note="the paper's 0.2")
        self.nu = number("nu", nu, low=0, note="the paper's 0 or 0.1")
        beta = number("beta", beta, low=0, open_low=True, note="a distance; the paper's 1.2")
        learn_beta, per_class_beta = (
            flag("learn_beta", learn_beta),
            flag("per_class_beta", per_class_beta),
        )
        lookup, init = torch.empty(0, dtype=torch.long), torch.tensor(beta)
        if per_class_beta:
            if not classes:
                raise ValueError("per_class_beta needs the training classes: pass classes=[...]")
            lookup = class_lookup(classes)
            init = torch.full((lookup.numel(),), beta)
        if learn_beta:
            self.beta = nn.Parameter(init)
        else:
            self.register_buffer("beta", init)
        self.register_buffer("lookup", lookup, persistent=False)
        self.learn_beta, self.per_class_beta = learn_beta, per_class_beta

    def _beta(self, labels: Tensor) -> Tensor:
        """The scalar ``beta``, or ``(B,)`` each item's class's."""
        if not self.per_class_beta:
            return self.beta
        return self.beta[class_rows(self.lookup, labels, "beta")]

    def forward(self, embeddings: Tensor, labels: Tensor, indices: Indices | None = None) -> Tensor:
        labels = check_batch(embeddings, labels)
        # half precision would round beta (1.2 -> 1.203125) and sum many triplets' terms
        beta = self._beta(labels).to(at_least_float32(embeddings).dtype)
        nu = self.nu if self.learn_beta else 0.0  # a fixed beta is not regularised (PML)
        if indices is None and self.mining is not None:
            indices = self._mine(embeddings, labels, self.margin)
        if indices is None or isinstance(indices, Pairs):
            pos, neg = pair_masks(indices, labels)
            z = at_least_float32(embeddings)
            dist = training_matrix(self.distance, z, z)  # (B, B)
            return all_triplets_margin_loss(dist, beta, pos, neg, self.margin, nu)
        t = _check_triplets(indices, labels.shape[0])
        d_ap, d_an = self._triplet_distances(embeddings, t)
        b = beta if beta.dim() == 0 else beta[t.anchor]
        return margin_loss(d_ap, d_an, b, self.margin, nu)

    def extra_repr(self) -> str:
        return (
            f"margin={self.margin}, nu={self.nu}, learn_beta={self.learn_beta}, "
            f"per_class_beta={self.per_class_beta}, distance={self.distance.name!r}, "
            f"mining={self.mining!r}"
        )
