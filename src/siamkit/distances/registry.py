"""The distances a model can be built with (``model.distance``), as a :class:`~siamkit.registry.Registry`.

Each factory takes the embedding size ``dim`` (and ``hidden``, the MLP head's width) and returns
a distance name or a learned :class:`~siamkit.distances.Distance` module; the fixed distances
ignore both.

>>> DISTANCES.build("mahalanobis", dim=8).name
'mahalanobis'
"""

from __future__ import annotations

from collections.abc import Callable

from siamkit.distances.base import Distance, list_distances
from siamkit.distances.learned import MahalanobisDistance, MLPMetric
from siamkit.registry import Registry

DISTANCES: Registry[str | Distance] = Registry("distance")


def _fixed(name: str) -> Callable[..., str]:
    def make(dim: int = 0, hidden: int = 64) -> str:
        return name

    return make


def _mahalanobis(dim: int, hidden: int = 64) -> Distance:
    return MahalanobisDistance(dim)


def _mlp(dim: int, hidden: int = 64) -> Distance:
    return MLPMetric(dim, hidden=hidden)


for _name in ("euclidean", "sqeuclidean", "cosine", "manhattan"):
    assert _name in list_distances()
    DISTANCES.register(_name, _fixed(_name))
DISTANCES.register("mahalanobis", _mahalanobis)
DISTANCES.register("mlp", _mlp)
