"""Input checks, label masks and the distance matrix shared by the miners."""

from __future__ import annotations

import torch
from torch import Tensor

from siamkit.distances import Distance, get_distance, training_matrix

#: Strategies whose selected set is a union of per-(anchor, positive) windows over sorted negatives.
WINDOW_STRATEGIES = ("hard", "semihard", "easy", "all")
#: Every strategy :func:`siamkit.miners.mine_triplets` accepts.
TRIPLET_STRATEGIES = (*WINDOW_STRATEGIES, "batch_hard", "random", "distance_weighted")


class NonFiniteEmbeddings(ValueError):
    """Embeddings (or distances between them) with a NaN or inf, refused by a loss, a miner or
    a metric: usually a network whose training diverged, which a caller (a tuning trial) can
    tell apart from a refusal of its input by this class."""


def check_batch(embeddings: Tensor, labels: Tensor) -> Tensor:
    """Validate ``(B, D)`` embeddings with ``(B,)`` labels; return the labels on the embeddings' device."""
    if not isinstance(embeddings, Tensor) or not isinstance(labels, Tensor):
        raise TypeError(
            f"embeddings and labels must be torch tensors, got {type(embeddings).__name__} "
            f"and {type(labels).__name__}"
        )
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be 2-D (B, D), got shape {tuple(embeddings.shape)}")
    if labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"labels must be 1-D with one label per embedding: embeddings {tuple(embeddings.shape)}, "
            f"labels {tuple(labels.shape)}"
        )
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"labels must be integer class ids, got dtype {labels.dtype}")
    if not embeddings.is_floating_point():
        raise TypeError(
            f"embeddings must be floating point (a model's output), got dtype {embeddings.dtype}"
        )
    if not bool(torch.isfinite(embeddings.detach()).all()):
        raise NonFiniteEmbeddings(
            "embeddings contain NaN or inf; check the encoder output and learning rate"
        )
    return labels.to(device=embeddings.device)


def check_strategy(strategy: str, allowed: tuple[str, ...]) -> str:
    """Return ``strategy`` if it is one of ``allowed``; otherwise raise a ``ValueError`` that lists them."""
    if not isinstance(strategy, str) or strategy not in allowed:
        raise ValueError(
            f"unknown mining strategy {strategy!r}; choose one of {', '.join(allowed)}"
        )
    return strategy


def label_masks(
    labels: Tensor, ref_labels: Tensor, anchor_index: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Positive and negative masks, both ``(A, R)`` bool.

    ``pos[i, j]``: same label and ``j`` is not the anchor itself; ``neg[i, j]``: different label.
    ``anchor_index`` (``(A,)``) gives each anchor's own position among the ``R`` references, so
    it is never its own positive; ``None`` means anchors and references are the same batch.
    """
    same = labels.unsqueeze(1) == ref_labels.unsqueeze(0)  # (A, R)
    if anchor_index is None:
        anchor_index = torch.arange(labels.shape[0], device=labels.device)
    pos = same.clone()
    inside = (anchor_index >= 0) & (anchor_index < ref_labels.shape[0])
    rows = torch.arange(labels.shape[0], device=labels.device)[inside]
    pos[rows, anchor_index[inside]] = False
    return pos, ~same


def at_least_float32(x: Tensor) -> Tensor:
    """``x`` in float32 when it is float16 or bfloat16, else as it is.

    The miners and the label-based losses compute their distance, cosine and logit matrices
    from it: in half precision a cosine past ``1 - 2**-9`` (bfloat16) or ``1 - 2**-12``
    (float16) rounds to exactly 1 or above it (``acos`` or ``sqrt(2 - 2 cos)`` of it has an
    infinite, NaN, gradient), distances tie in steps of ``2**-7`` (mining picks the first of the
    tied), a scale
    such as circle loss's 256 makes a cosine's rounding a unit of a logit, and a gradient summed
    from hundreds of triplets' shares loses most of its digits. For half-precision embeddings
    the loss then comes out in float32 and its gradient reaches the embeddings in their own
    dtype.

    This covers half-precision *embeddings* (a network run in bfloat16 or float16 without
    autocast), not a loss called inside ``torch.autocast``: there the embeddings are float32
    already, so nothing is widened, and autocast still runs the loss's matmuls (``z @ z.T``,
    the distance matrix) in half precision. The gradient is then as far from float32's as it
    was before this widening (about 10% of its norm for circle loss, 9% for batch-hard
    triplets, 160 embeddings of 4 classes under CPU bfloat16 autocast), and circle, SupCon,
    multi-similarity and proxy-anchor return a half-precision loss. Under autocast only the
    NaN is covered: the cosines taken to ``acos`` or ``sqrt`` are widened and clamped, so the
    gradient stays finite. For float32 matrices call the loss outside autocast on
    ``z.float()``, as siamkit's trainers do (:func:`siamkit.training.step.train_step`).
    """
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def distance_matrix(
    embeddings: Tensor, distance: str | Distance, ref: Tensor | None = None
) -> Tensor:
    """``(A, D), (R, D) -> (A, R)`` distances; ``ref=None`` compares the batch with itself."""
    dist = get_distance(distance)
    embeddings = at_least_float32(embeddings)  # half precision ties distances (at_least_float32)
    return training_matrix(dist, embeddings, embeddings if ref is None else at_least_float32(ref))


def empty_long(device: torch.device | str) -> Tensor:
    """A ``(0,)`` LongTensor."""
    return torch.zeros(0, dtype=torch.long, device=device)
