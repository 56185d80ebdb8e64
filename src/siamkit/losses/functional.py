"""Pure loss functions on distances, similarities and logits.

Each takes tensors and returns a scalar with a gradient. The two seed formulas are pinned in
DESIGN.md §3: :func:`contrastive_loss` and :func:`triplet_margin_loss`. An empty input gives a
zero that still carries a gradient, never NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from siamkit.miners._common import at_least_float32, label_masks


def _mean_or_zero(x: Tensor) -> Tensor:
    return x.mean() if x.numel() > 0 else x.sum() * 0.0


def check_tensors(name: str, **args: object) -> None:
    """A ``TypeError`` naming the first of ``args`` that is not a torch tensor."""
    for arg, value in args.items():
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{name} takes torch tensors, got {type(value).__name__} for {arg}; "
                "convert it with torch.as_tensor"
            )


def _check_same_length(name: str, *tensors: Tensor) -> None:
    shapes = [tuple(t.shape) for t in tensors]
    if any(t.dim() != 1 for t in tensors) or len({s[0] for s in shapes}) != 1:
        raise ValueError(f"{name} expects 1-D tensors of equal length, got shapes {shapes}")


def _check_binary(name: str, arg: str, labels: Tensor) -> None:
    """A ``ValueError`` naming ``arg`` when ``labels`` holds a value other than 0 and 1 (NaN
    included); a bool tensor is left unread (it cannot, and reading a GPU tensor waits for it)."""
    if labels.dtype == torch.bool or labels.numel() == 0:
        return
    bad = ((labels != 0) & (labels != 1)).nonzero()
    if len(bad):
        i = int(bad[0, 0])
        raise ValueError(
            f"{name} takes {arg} as 1 (similar) or 0 (dissimilar) per pair, got "
            f"{labels[i].item():g} at index {i} ({len(bad)} of {labels.numel()} are neither): "
            f"give 1 or 0 per pair (from class ids: {arg} = y1 == y2), or train graded scores "
            "with a loss made for them (text: loss cosent)"
        )


def contrastive_loss(d: Tensor, same: Tensor, margin: float = 1.0) -> Tensor:
    """Contrastive loss (Hadsell et al.; seed 001 with ``Y = 1 - same``, no 1/2 factor).

    ``mean(same * d**2 + (1 - same) * relu(margin - d)**2)``

    Args:
        d: ``(N,)`` distances of the pairs.
        same: ``(N,)`` 1/True for a similar pair, 0/False for a dissimilar one; any other value
            (a class label 3, a graded score 0.5) is a ``ValueError``, since the seed's ``Y`` is
            a label, not a degree (graded scores need a loss made for them, such as CoSENT).
        margin: dissimilar pairs farther apart than this cost nothing.

    >>> contrastive_loss(torch.tensor([0.5, 0.2]), torch.tensor([1, 0]), margin=1.0)
    tensor(0.4450)
    """
    check_tensors("contrastive_loss", d=d, same=same)
    _check_same_length("contrastive_loss", d, same)
    _check_binary("contrastive_loss", "same", same)
    s = same.to(d.dtype)
    return _mean_or_zero(s * d.pow(2) + (1 - s) * F.relu(margin - d).pow(2))


REDUCTIONS = ("mean", "nonzero")


def check_reduction(reduction: str) -> str:
    """``reduction`` if it is one of :data:`REDUCTIONS`, else a ``ValueError`` naming the choices."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    return reduction


def triplet_margin_loss(
    d_ap: Tensor, d_an: Tensor, margin: float = 0.2, reduction: str = "mean"
) -> Tensor:
    """Triplet loss (seed 000): ``mean(relu(d_ap - d_an + margin))``.

    Args:
        d_ap: ``(T,)`` anchor-positive distances.
        d_an: ``(T,)`` anchor-negative distances.
        reduction: ``"mean"`` over all ``T`` triplets, or ``"nonzero"``: over the triplets whose
            hinge is positive (pytorch-metric-learning's ``AvgNonZeroReducer``), which keeps the
            gradient from fading as more triplets are satisfied.

    >>> triplet_margin_loss(torch.tensor([0.3, 0.1]), torch.tensor([0.4, 0.9]), margin=0.2)
    tensor(0.0500)
    >>> triplet_margin_loss(torch.tensor([0.3, 0.1]), torch.tensor([0.4, 0.9]), 0.2, "nonzero")
    tensor(0.1000)
    """
    check_tensors("triplet_margin_loss", d_ap=d_ap, d_an=d_an)
    _check_same_length("triplet_margin_loss", d_ap, d_an)
    hinge = F.relu(d_ap - d_an + margin)
    if check_reduction(reduction) == "nonzero":
        hinge = hinge[hinge > 0]
    return _mean_or_zero(hinge)


def soft_margin_triplet_loss(d_ap: Tensor, d_an: Tensor) -> Tensor:
    """Soft-margin triplet loss (Hermans et al.): ``mean(softplus(d_ap - d_an))``. ``(T,), (T,)``."""
    check_tensors("soft_margin_triplet_loss", d_ap=d_ap, d_an=d_an)
    _check_same_length("soft_margin_triplet_loss", d_ap, d_an)
    return _mean_or_zero(F.softplus(d_ap - d_an))


def pair_bce_loss(logits: Tensor, same: Tensor, pos_weight: float | None = None) -> Tensor:
    """Binary cross-entropy on "same" logits of a learned pair head (Koch et al.). ``(N,), (N,)``.

    ``pos_weight`` re-weights the similar pairs, e.g. ``n_dissimilar / n_similar`` for unbalanced
    pair sets.
    """
    check_tensors("pair_bce_loss", logits=logits, same=same)
    _check_same_length("pair_bce_loss", logits, same)
    if logits.numel() == 0:
        return logits.sum() * 0.0
    pw = (
        None
        if pos_weight is None
        else torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    )
    return F.binary_cross_entropy_with_logits(logits, same.to(logits.dtype), pos_weight=pw)


def _label_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(B,)`` labels -> positive mask (same label, not self) and negative mask, both ``(B, B)``."""
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D (B,), got shape {tuple(labels.shape)}")
    return label_masks(labels, labels)


def _masked_logsumexp_plus_one(x: Tensor, mask: Tensor) -> Tensor:
    """Row-wise ``log(1 + sum_{mask} exp(x))``, exactly 0 where a row has no masked entry. ``(B,)``."""
    neg_inf = torch.finfo(x.dtype).min
    x = torch.where(mask, x, torch.full_like(x, neg_inf))
    zeros = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)
    out = torch.logsumexp(torch.cat([zeros, x], dim=1), dim=1)
    return torch.where(mask.any(dim=1), out, out * 0)


def multi_similarity_loss(
    sim: Tensor,
    labels: Tensor,
    alpha: float = 2.0,
    beta: float = 50.0,
    base: float = 0.5,
    pos_mask: Tensor | None = None,
    neg_mask: Tensor | None = None,
) -> Tensor:
    """Multi-similarity loss (Wang et al., 2019) on a ``(B, B)`` *similarity* matrix: e.g. the
    cosines ``z @ z.T`` of unit vectors, which are 1 minus siamkit's cosine distance (a distance
    matrix, whose order is the reverse, would give a wrong loss).

    Per anchor: ``1/alpha log(1 + sum_pos exp(-alpha (s - base))) + 1/beta log(1 + sum_neg exp(beta (s - base)))``,
    averaged over anchors (pytorch-metric-learning's ``MultiSimilarityLoss``). ``pos_mask`` /
    ``neg_mask`` (``(B, B)`` bool, e.g. mined pairs) restrict the sums; default: every pair.
    """
    check_tensors("multi_similarity_loss", sim=sim, labels=labels)
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1] or sim.shape[0] != labels.shape[0]:
        raise ValueError(
            f"sim must be (B, B) with B = len(labels), got {tuple(sim.shape)} and {tuple(labels.shape)}"
        )
    pos, neg = _label_masks(labels)
    pos = pos if pos_mask is None else pos & pos_mask
    neg = neg if neg_mask is None else neg & neg_mask
    pos_loss = _masked_logsumexp_plus_one(-alpha * (sim - base), pos) / alpha
    neg_loss = _masked_logsumexp_plus_one(beta * (sim - base), neg) / beta
    return _mean_or_zero(pos_loss + neg_loss)


def supcon_loss(
    z: Tensor,
    labels: Tensor,
    temperature: float = 0.1,
    pos_mask: Tensor | None = None,
    neg_mask: Tensor | None = None,
) -> Tensor:
    """Supervised contrastive loss (Khosla et al., 2020) on L2-normalised ``(B, D)`` embeddings.

    For each anchor with at least one positive: the mean over its positives of
    ``-log(exp(s_ap / t) / sum_k exp(s_ak / t))`` with ``k`` over its positives and negatives;
    averaged over those anchors. ``pos_mask`` / ``neg_mask`` (``(B, B)`` bool, e.g. mined pairs)
    restrict both; default: every other item of the batch (pytorch-metric-learning's ``SupConLoss``).
    A batch of one class (no negative pair at all) gives the paper's loss, whose gradient evens
    out the anchors' similarities to their positives; pytorch-metric-learning returns 0 there.
    """
    check_tensors("supcon_loss", z=z, labels=labels)
    if z.dim() != 2 or z.shape[0] != labels.shape[0]:
        raise ValueError(
            f"z must be (B, D) with B = len(labels), got {tuple(z.shape)} and {tuple(labels.shape)}"
        )
    pos, neg = _label_masks(labels)
    pos = pos if pos_mask is None else pos & pos_mask
    neg = neg if neg_mask is None else neg & neg_mask
    logits = (z @ z.T) / temperature
    logits = logits.masked_fill(~(pos | neg), torch.finfo(logits.dtype).min)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (B, B)
    n_pos = pos.sum(1)
    has_pos = n_pos > 0
    mean_log_prob_pos = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(
        1
    ) / n_pos.clamp_min(1)
    return _mean_or_zero(-mean_log_prob_pos[has_pos])


def _masked_logsumexp(x: Tensor, mask: Tensor) -> Tensor:
    """Row-wise ``log(sum_{mask} exp(x))``, 0 where a row has no masked entry. ``(B,)``."""
    out = torch.logsumexp(x.masked_fill(~mask, torch.finfo(x.dtype).min), dim=1)
    return torch.where(mask.any(dim=1), out, torch.zeros_like(out))


def circle_loss(
    embeddings: Tensor,
    labels: Tensor,
    m: float = 0.25,
    gamma: float = 256.0,
    pos_mask: Tensor | None = None,
    neg_mask: Tensor | None = None,
) -> Tensor:
    """Circle loss (Sun et al., 2020, eq. 4 and 6) on the cosines of ``(B, D)`` embeddings
    (L2-normalised inside) with ``(B,)`` labels.

    Per anchor: ``log(1 + sum_neg exp(gamma a_n (s_n - m)) * sum_pos exp(-gamma a_p (s_p - 1 + m)))``
    with the weights ``a_p = relu(1 + m - s_p)`` and ``a_n = relu(s_n + m)`` held constant (no
    gradient), averaged over the anchors with at least one positive and one negative. That is
    pytorch-metric-learning's ``CircleLoss`` (whose ``AvgNonZeroReducer`` averages over the
    anchors with a loss above 0: the same ones, since such an anchor's loss is at least
    ``softplus(-2 gamma m^2)``, which rounds to 0 only past ``gamma m^2 ~ 50`` in float32).
    ``pos_mask`` / ``neg_mask`` (``(B, B)`` bool, e.g. mined pairs) restrict the sums; default:
    every pair. A batch with no such anchor gives 0 with a gradient.

    >>> z = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> round(float(circle_loss(z, torch.tensor([0, 0, 1]), m=0.25, gamma=4.0)), 4)
    0.9624
    """
    check_tensors("circle_loss", embeddings=embeddings, labels=labels)
    if embeddings.dim() != 2 or embeddings.shape[0] != labels.shape[0]:
        raise ValueError(
            f"embeddings must be (B, D) with B = len(labels), got {tuple(embeddings.shape)} and "
            f"{tuple(labels.shape)}"
        )
    pos, neg = _label_masks(labels)
    pos = pos if pos_mask is None else pos & pos_mask
    neg = neg if neg_mask is None else neg & neg_mask
    z = F.normalize(at_least_float32(embeddings), dim=1)  # gamma scales a cosine's rounding
    s = z @ z.T  # (B, B) cosines
    fixed = s.detach()  # the weights a_p, a_n are not differentiated (the paper's and PML's)
    pos_logits = -gamma * F.relu(1 + m - fixed) * (s - (1 - m))
    neg_logits = gamma * F.relu(fixed + m) * (s - m)
    # log(1 + sum_neg * sum_pos) = softplus(logsumexp_pos + logsumexp_neg)
    both = _masked_logsumexp(pos_logits, pos) + _masked_logsumexp(neg_logits, neg)
    has_both = pos.any(dim=1) & neg.any(dim=1)
    return _mean_or_zero(F.softplus(both)[has_both])


def nt_xent_loss(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent / InfoNCE (SimCLR) for two views: row i of ``z1`` and ``z2`` is a positive pair. ``(N, D)`` each.

    Each of the ``2N`` views is classified against the other ``2N - 1`` by cosine similarity / t.
    """
    check_tensors("nt_xent_loss", z1=z1, z2=z2)
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(
            f"z1 and z2 must both be (N, D), got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D)
    logits = (z @ z.T) / temperature
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, torch.finfo(logits.dtype).min)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, target) if n > 0 else z.sum() * 0.0
