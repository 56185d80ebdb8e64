"""The decision against K enrolled references: one score per questioned signature.

A questioned signature's score is the mean, the minimum or the maximum of its distances to the
writer's ``K`` genuine references (smaller = more likely genuine); it is accepted as genuine when
the score is at most the threshold.

>>> import torch
>>> refs = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
>>> reference_scores(torch.tensor([[0.0, 1.0]]), refs, "euclidean", "max")
tensor([1.])
"""

from __future__ import annotations

from torch import Tensor

from siamkit.distances import Distance, get_distance

__all__ = ["REDUCTIONS", "check_reduce", "reference_scores"]

REDUCTIONS = ("mean", "min", "max")


def check_reduce(reduce: str) -> str:
    """``reduce`` if it is one of :data:`REDUCTIONS`, else a ``ValueError`` naming them."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}.")
    return reduce


def reference_scores(
    queries: Tensor,
    references: Tensor,
    distance: str | Distance = "euclidean",
    reduce: str = "mean",
) -> Tensor:
    """Scores of ``queries (Q, D)`` against one writer's ``references (K, D)``: ``(Q,)``.

    Args:
        queries: embeddings of the questioned signatures.
        references: embeddings of the writer's enrolled genuine signatures (``K >= 1``).
        distance: a distance name or object (see :func:`siamkit.distances.get_distance`).
        reduce: ``"mean"``, ``"min"`` or ``"max"`` over the ``K`` distances.
    """
    check_reduce(reduce)
    if references.dim() != 2 or references.shape[0] < 1:
        raise ValueError(f"references must be (K, D) with K >= 1, got {tuple(references.shape)}.")
    if queries.dim() != 2 or queries.shape[1] != references.shape[1]:
        raise ValueError(
            f"queries must be (Q, {references.shape[1]}) to match the references, "
            f"got {tuple(queries.shape)}."
        )
    d = get_distance(distance).matrix(queries, references)  # (Q, K)
    if reduce == "mean":
        return d.mean(dim=1)
    return d.min(dim=1).values if reduce == "min" else d.max(dim=1).values
