"""The distance protocol and the named, parameter-free distances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor

from siamkit.distances import functional as F
from siamkit.distances.learned import MahalanobisDistance


@runtime_checkable
class Distance(Protocol):
    """Anything that compares embeddings: ``pairwise`` gives ``(N,)``, ``matrix`` gives ``(N, M)``.

    Smaller always means more similar. Learned metrics (``MahalanobisDistance``, ``MLPMetric``)
    follow the same protocol, so losses, miners and indexes accept either.
    """

    @property
    def name(self) -> str:
        """The name saved with a model and printed in reports (``"cosine"``, ``"mahalanobis"``)."""

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        """Distances of the row pairs ``(x_i, y_i)``: ``(N, D), (N, D) -> (N,)``."""

    def matrix(self, x: Tensor, y: Tensor) -> Tensor:
        """Distances of every row of ``x`` to every row of ``y``: ``(N, D), (M, D) -> (N, M)``."""


@dataclass(frozen=True)
class FixedDistance:
    """A named distance without parameters, e.g. ``get_distance("cosine")``."""

    name: str
    _pairwise: Callable[[Tensor, Tensor], Tensor]
    _matrix: Callable[..., Tensor]
    is_metric: bool

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        """``(N, D), (N, D) -> (N,)``."""
        return self._pairwise(x, y)

    def matrix(self, x: Tensor, y: Tensor, *, exact: bool = True) -> Tensor:
        """``(N, D), (M, D) -> (N, M)``. ``exact=False`` keeps the Euclidean distances' float32
        product outside autograd (:func:`~siamkit.distances.sqeuclidean_matrix`); the others
        have no such choice and ignore it."""
        if exact or self._matrix not in (F.euclidean_matrix, F.sqeuclidean_matrix):
            return self._matrix(x, y)
        return self._matrix(x, y, exact=False)

    def __repr__(self) -> str:
        return f"get_distance({self.name!r})"


_DISTANCES: dict[str, FixedDistance] = {
    "euclidean": FixedDistance("euclidean", F.pairwise_euclidean, F.euclidean_matrix, True),
    "sqeuclidean": FixedDistance(
        "sqeuclidean", F.pairwise_sqeuclidean, F.sqeuclidean_matrix, False
    ),
    "cosine": FixedDistance("cosine", F.pairwise_cosine, F.cosine_matrix, False),
    "manhattan": FixedDistance("manhattan", F.pairwise_manhattan, F.manhattan_matrix, True),
}


def training_matrix(distance: Distance, x: Tensor, y: Tensor) -> Tensor:
    """``distance.matrix(x, y)`` as training takes it (every loss and miner, offline mining),
    also without a graph (mining, the fused Euclidean triplet losses, a validation loss): a
    named or Mahalanobis Euclidean distance keeps its float32 product (``exact=False``), whose
    1e-3 near 0 moves no loss, instead of evaluation's float64 one; any other distance is
    called as it is."""
    if isinstance(distance, (FixedDistance, MahalanobisDistance)):
        return distance.matrix(x, y, exact=False)
    return distance.matrix(x, y)


def list_distances() -> list[str]:
    """Names accepted by :func:`get_distance`."""
    return sorted(_DISTANCES)


def get_distance(name: str | Distance) -> Distance:
    """Look up a distance by name; a ``Distance`` object is returned unchanged.

    >>> import torch
    >>> get_distance("cosine").matrix(torch.eye(2), torch.eye(2))
    tensor([[0., 1.],
            [1., 0.]])
    """
    if not isinstance(name, str):
        if isinstance(name, Distance):
            return name
        raise TypeError(
            f"a distance is a name or an object with pairwise/matrix, got {type(name).__name__}"
        )
    try:
        return _DISTANCES[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown distance {name!r}; choose one of {', '.join(list_distances())}"
        ) from None
