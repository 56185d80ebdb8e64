"""Cross-batch memory (XBM; Wang et al., 2020): mining sees more negatives than one batch holds.

A CPU-sized P×K batch holds a few hundred embeddings, so batch-hard mining picks its "hardest"
negative among very few. :class:`CrossBatchMemory` keeps the last ``memory_size`` embeddings of
earlier batches (detached, with their labels) in a FIFO queue; after ``warmup_steps`` calls, the
loss of a batch takes **the batch as anchors** and **the batch plus the memory as candidates**
(positives and negatives). The embeddings drift slowly once the first steps are past, which is
why the paper starts the memory after a warm-up.

Value: with the same inner loss and miner it equals pytorch-metric-learning's
``CrossBatchMemory(loss, embedding_size, memory_size + B, miner)`` (whose queue holds the current
batch too, detached). Gradient: here the batch's own candidates are the live embeddings, so the
in-batch part of the loss trains both ends of a pair as the plain loss does, and the memory
part trains the anchors only (PML's trains the anchors only).

Supported inner losses: :class:`~siamkit.losses.TripletMarginLoss` (mining ``None``, a window
strategy, ``"batch_hard"`` or ``"random"``), :class:`~siamkit.losses.SoftMarginTripletLoss`
and :class:`~siamkit.losses.MarginLoss` (the same strategies; ``beta`` is the anchor's),
:class:`~siamkit.losses.MultiSimilarityLoss` (all pairs or its own miner),
:class:`~siamkit.losses.ContrastiveLoss` (a pair strategy name or all pairs), and, over all
pairs of batch × candidates, :class:`~siamkit.losses.GeneralizedLiftedStructureLoss`,
:class:`~siamkit.losses.AngularLoss` and :class:`~siamkit.losses.TupletMarginLoss` (each equal
to pytorch-metric-learning's loss of that name inside its ``CrossBatchMemory`` without a miner).
:class:`~siamkit.losses.NPairsLoss` is not: its softmax classifies each anchor among one
positive per class of the batch, which a memory of other items does not extend (PML's
``NPairsLoss`` refuses a reference set too).

Distributed training: the trainer hands the loss the batch gathered from every rank, so each
rank's memory holds the same global embeddings (the gather is the one the plain loss uses; no
extra communication).

>>> from siamkit.losses import TripletMarginLoss
>>> xbm = CrossBatchMemory(TripletMarginLoss(0.2, mining="batch_hard"), embedding_dim=4, memory_size=16)
>>> z, y = torch.nn.functional.normalize(torch.randn(8, 4), dim=1), torch.arange(8) % 2
>>> _ = xbm(z, y); _ = xbm(z, y)
>>> xbm.filled
16
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.distances import training_matrix
from siamkit.losses.angular import AngularLoss
from siamkit.losses.contrastive import ContrastiveLoss, masked_contrastive_loss
from siamkit.losses.functional import (
    _masked_logsumexp,
    _masked_logsumexp_plus_one,
    _mean_or_zero,
    at_least_float32,
    soft_margin_triplet_loss,
    triplet_margin_loss,
)
from siamkit.losses.lifted_structure import GeneralizedLiftedStructureLoss
from siamkit.losses.margin import MarginLoss, all_triplets_margin_loss, margin_loss
from siamkit.losses.multi_similarity import MultiSimilarityLoss
from siamkit.losses.triplet import SoftMarginTripletLoss, TripletMarginLoss, _same_distance
from siamkit.losses.tuplet_margin import TupletMarginLoss
from siamkit.miners._common import WINDOW_STRATEGIES, check_batch, label_masks
from siamkit.miners.functional import batch_hard_triplets, random_triplets
from siamkit.miners.multi_similarity import MultiSimilarityMiner
from siamkit.miners.pair_miners import select_pairs
from siamkit.miners.triplet_miners import is_window_miner
from siamkit.miners.windows import (
    emit_triplets,
    hinge_active,
    positive_coverage,
    triplet_windows,
)
from siamkit.types import Triplets

#: The losses :class:`CrossBatchMemory` can wrap.
SUPPORTED = (
    TripletMarginLoss,
    SoftMarginTripletLoss,
    MarginLoss,
    MultiSimilarityLoss,
    ContrastiveLoss,
    GeneralizedLiftedStructureLoss,
    AngularLoss,
    TupletMarginLoss,
)

#: A loss that mines triplets in the ``(batch, candidates)`` matrix.
_TRIPLET_LOSSES = (TripletMarginLoss, SoftMarginTripletLoss, MarginLoss)


def _triplet_strategy(loss: TripletMarginLoss | SoftMarginTripletLoss | MarginLoss) -> str:
    """The mining strategy name of a triplet loss, or a clear error for one XBM cannot mine."""
    m = loss.mining
    if m is None:
        return "all"
    if isinstance(m, str) and (m in WINDOW_STRATEGIES or m in ("batch_hard", "random")):
        return m
    margin = getattr(loss, "margin", getattr(loss, "mining_margin", None))
    if (  # a window miner object on the loss's distance, with its margin
        is_window_miner(m)
        and _same_distance(getattr(m, "distance", None), loss.distance)  # type: ignore[arg-type]
        and getattr(m, "margin", None) == margin
    ):
        return str(getattr(m, "strategy", "all"))
    raise ValueError(
        f"a cross-batch memory mines batch x (batch + memory); it cannot use the mining {m!r}: "
        "use none, all, hard, semihard, easy, batch_hard or random (a window miner object "
        "only on the loss's distance and margin)"
    )


def _window_triplet_loss(
    dist: Tensor, pos: Tensor, neg: Tensor, strategy: str, margin: float, reduction: str
) -> Tensor:
    """Mean ``relu(d_ap - d_an + margin)`` over a window strategy's triplets of an ``(A, R)``
    matrix, without listing them (the counts-as-weights form of
    :func:`siamkit.losses.triplet.window_triplet_margin_loss`)."""
    d = dist.detach()
    with torch.no_grad():
        sp, w, first = triplet_windows(d, pos, neg, strategy, margin, margin)
        total = int((w.hi - w.lo).sum(dtype=torch.int64))
        act = w if strategy == "semihard" else hinge_active(w, first)  # type: ignore[arg-type]
        k_neg = act.hi - act.lo
        weight = (positive_coverage(sp, act) - k_neg).to(d.dtype)  # +k_ap, -k_an
        active = int(k_neg.sum(dtype=torch.int64))
    summed = (weight * dist).sum(dtype=torch.float64)
    if total == 0:
        return (summed * 0.0).to(dist.dtype)
    denom = max(active, 1) if reduction == "nonzero" else total
    return ((summed + margin * float(active)) / denom).to(dist.dtype)


def reference_loss(
    loss: nn.Module, embeddings: Tensor, labels: Tensor, ref: Tensor, ref_labels: Tensor
) -> Tensor:
    """``loss`` with the ``(B, D)`` batch as anchors and ``(R, D)`` references as candidates.

    The first ``B`` references must be the batch itself (an anchor is never its own positive);
    the rest (the memory) should be detached.
    """
    b = embeddings.shape[0]
    if ref.shape[0] < b or ref_labels.shape[0] != ref.shape[0]:
        raise ValueError("the references must start with the batch and have one label each")
    # half precision: float32 matrices, as the losses compute them (functional.at_least_float32)
    embeddings, ref = at_least_float32(embeddings), at_least_float32(ref)
    pos, neg = label_masks(labels, ref_labels)  # (B, R); anchor i is reference i
    if isinstance(loss, _TRIPLET_LOSSES):
        strategy = _triplet_strategy(loss)
        margin = loss.mining_margin if isinstance(loss, SoftMarginTripletLoss) else loss.margin
        dist = training_matrix(loss.distance, embeddings, ref)  # (B, R)
        if isinstance(loss, TripletMarginLoss) and strategy in WINDOW_STRATEGIES:
            return _window_triplet_loss(dist, pos, neg, strategy, margin, loss.reduction)
        if isinstance(loss, MarginLoss):
            beta = loss._beta(labels).to(dist.dtype)  # the anchor's (B,), or the scalar
            nu = loss.nu if loss.learn_beta else 0.0  # a fixed beta is not regularised
            if strategy == "all":
                return all_triplets_margin_loss(dist, beta, pos, neg, loss.margin, nu)
        with torch.no_grad():
            d = dist.detach()
            if strategy == "batch_hard":
                t = batch_hard_triplets(d, pos, neg)
            elif strategy == "random":
                t = random_triplets(pos, neg)
            else:
                sp, w, _ = triplet_windows(d, pos, neg, strategy, margin)
                t = Triplets(*emit_triplets(sp, w))
        d_ap, d_an = dist[t.anchor, t.positive], dist[t.anchor, t.negative]
        if isinstance(loss, MarginLoss):
            anchor_beta = beta if beta.dim() == 0 else beta[t.anchor]
            return margin_loss(d_ap, d_an, anchor_beta, loss.margin, nu)
        if isinstance(loss, TripletMarginLoss):
            return triplet_margin_loss(d_ap, d_an, loss.margin, loss.reduction)
        return soft_margin_triplet_loss(d_ap, d_an)
    if isinstance(loss, GeneralizedLiftedStructureLoss):
        dist = training_matrix(loss.distance, embeddings, ref)  # (B, R)
        per_anchor = _masked_logsumexp(dist - loss.pos_margin, pos)
        per_anchor = per_anchor + _masked_logsumexp(loss.neg_margin - dist, neg)
        return _mean_or_zero(torch.relu(per_anchor))  # 0, not NaN, for an empty batch
    if isinstance(loss, (AngularLoss, TupletMarginLoss)):
        z, r = F.normalize(embeddings, dim=1), F.normalize(ref, dim=1)
        pa, pp = pos.nonzero(as_tuple=True)  # (P,) each: every positive pair, p a reference
        ap = (z[pa] * r[pp]).sum(dim=1, keepdim=True)  # (P, 1) cosines
        if isinstance(loss, AngularLoss):
            t2 = math.tan(math.radians(loss.alpha)) ** 2
            x = 4 * t2 * (z[pa] + r[pp]) @ r.T - 2 * (1 + t2) * ap  # (P, R)
        else:
            theta = torch.acos(at_least_float32(ap).clamp(-1 + 1e-7, 1 - 1e-7))
            x = loss.scale * (z[pa] @ r.T - torch.cos(theta - loss.margin))  # (P, R)
        return _mean_or_zero(_masked_logsumexp_plus_one(x, neg[pa])) + z.sum() * 0.0
    if isinstance(loss, MultiSimilarityLoss):
        sim = 1.0 - training_matrix(loss.distance, embeddings, ref)  # (B, R)
        if isinstance(loss.mining, MultiSimilarityMiner):
            if sim.shape[1] > 0:  # an empty batch and memory: no pairs (amin() needs a column)
                s, eps = sim.detach(), loss.mining.epsilon
                hardest_pos = s.masked_fill(~pos, float("inf")).amin(1, keepdim=True)
                hardest_neg = s.masked_fill(~neg, float("-inf")).amax(1, keepdim=True)
                pos, neg = pos & (s - eps < hardest_neg), neg & (s + eps > hardest_pos)
        elif loss.mining is not None:
            raise ValueError(
                "a cross-batch memory with multi_similarity uses no miner or its own "
                f"(mining: multi_similarity), not {loss.mining!r}"
            )
        a, be, base = loss.alpha, loss.beta, loss.base
        per_anchor = _masked_logsumexp_plus_one(-a * (sim - base), pos) / a
        per_anchor = per_anchor + _masked_logsumexp_plus_one(be * (sim - base), neg) / be
        return _mean_or_zero(per_anchor)
    if isinstance(loss, ContrastiveLoss):
        dist = training_matrix(loss.distance, embeddings, ref)  # (B, R)
        m = loss.mining
        if m is not None and not isinstance(m, str):
            raise ValueError(
                f"a cross-batch memory with contrastive takes a pair strategy name, not {m!r}"
            )
        if m is None or m == "all":
            selected = pos | neg
        else:
            selected = select_pairs(dist.detach(), pos, neg, m, loss.margin)
        same = labels.unsqueeze(1) == ref_labels.unsqueeze(0)
        return masked_contrastive_loss(dist, same, selected, loss.margin)
    raise TypeError(
        f"a cross-batch memory wraps one of {', '.join(c.__name__ for c in SUPPORTED)}, "
        f"not {type(loss).__name__}"
    )


class CrossBatchMemory(nn.Module):
    """Wrap a label-based loss so each batch is compared with the last ``memory_size`` embeddings.

    Args:
        loss: the inner loss (one of :data:`SUPPORTED`; its mining applies to batch × candidates).
        embedding_dim: size of the embeddings the loss sees.
        memory_size: how many earlier embeddings are kept (not counting the current batch).
        warmup_steps: the first calls use the plain loss on the batch and fill nothing (the
            embeddings move fast at first; Wang et al. start the memory after a warm-up).

    ``forward(embeddings (B, D), labels (B,), indices=None) -> scalar``; every call is a training
    step (it counts towards the warm-up and enqueues the batch). ``indices`` (offline-mined
    triplets) are not supported. The memory, its labels and the counters are buffers, so the
    module's ``state_dict`` (kept in training checkpoints) resumes it exactly.
    """

    memory: Tensor
    memory_labels: Tensor
    counters: Tensor  # (3,) long: calls so far, next slot, filled slots

    def __init__(
        self, loss: nn.Module, embedding_dim: int, memory_size: int = 4096, warmup_steps: int = 0
    ) -> None:
        super().__init__()
        if not isinstance(loss, SUPPORTED):
            raise TypeError(
                f"a cross-batch memory wraps one of {', '.join(c.__name__ for c in SUPPORTED)}, "
                f"not {type(loss).__name__}"
            )
        if isinstance(loss, _TRIPLET_LOSSES):
            _triplet_strategy(loss)  # refuse an unsupported miner now, not at the first step
        if embedding_dim < 1 or memory_size < 1 or warmup_steps < 0:
            raise ValueError(
                f"embedding_dim and memory_size must be positive and warmup_steps >= 0, got "
                f"{embedding_dim}, {memory_size}, {warmup_steps}"
            )
        self.loss, self.memory_size, self.warmup_steps = loss, int(memory_size), int(warmup_steps)
        self.register_buffer("memory", torch.zeros(memory_size, embedding_dim))
        self.register_buffer("memory_labels", torch.zeros(memory_size, dtype=torch.long))
        self.register_buffer("counters", torch.zeros(3, dtype=torch.long))

    @property
    def steps(self) -> int:
        """Calls so far (training steps)."""
        return int(self.counters[0])

    @property
    def filled(self) -> int:
        """How many memory slots hold an embedding."""
        return int(self.counters[2])

    def contents(self) -> tuple[Tensor, Tensor]:
        """The stored embeddings and labels, oldest first: ``(filled, D)``, ``(filled,)``."""
        n, nxt = self.filled, int(self.counters[1])
        order = torch.arange(nxt - n, nxt, device=self.memory.device) % self.memory_size
        return self.memory[order], self.memory_labels[order]

    def reset(self) -> None:
        """Empty the memory and start the warm-up again (e.g. after restoring earlier weights)."""
        self.counters.zero_()
        self.memory.zero_()
        self.memory_labels.zero_()

    @torch.no_grad()
    def _enqueue(self, z: Tensor, labels: Tensor) -> None:
        z, labels = z[-self.memory_size :], labels[-self.memory_size :]
        nxt = int(self.counters[1])
        slots = torch.arange(nxt, nxt + z.shape[0], device=self.memory.device) % self.memory_size
        self.memory[slots] = z.detach().to(self.memory.dtype)
        self.memory_labels[slots] = labels.to(self.memory_labels.device, torch.long)
        self.counters[1] = (nxt + z.shape[0]) % self.memory_size
        self.counters[2] = min(self.memory_size, self.filled + z.shape[0])

    def forward(self, embeddings: Tensor, labels: Tensor, indices: object = None) -> Tensor:
        if indices is not None:
            raise ValueError(
                "a cross-batch memory mines its own candidates; it takes no given indices "
                "(loss.offline_mining)"
            )
        labels = check_batch(embeddings, labels)
        if embeddings.shape[1] != self.memory.shape[1]:
            raise ValueError(
                f"the cross-batch memory holds {self.memory.shape[1]}-d embeddings, got "
                f"{embeddings.shape[1]}-d"
            )
        self.counters[0] += 1
        if self.steps <= self.warmup_steps:
            return self.loss(embeddings, labels)  # type: ignore[no-any-return]
        mem_z, mem_y = self.contents()
        ref = torch.cat([embeddings, mem_z.to(embeddings.dtype)])
        ref_labels = torch.cat([labels, mem_y.to(labels.device, labels.dtype)])
        out = reference_loss(self.loss, embeddings, labels, ref, ref_labels)
        self._enqueue(embeddings, labels)
        return out

    def extra_repr(self) -> str:
        return f"memory_size={self.memory_size}, warmup_steps={self.warmup_steps}"


__all__ = ["SUPPORTED", "CrossBatchMemory", "reference_loss"]
