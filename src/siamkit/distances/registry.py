"""The distances a model can be built with (``model.distance``), as a :class:`~siamkit.registry.Registry`.

Each factory returns a distance name or a :class:`~siamkit.distances.Distance` (an object with
``name``, ``pairwise`` and ``matrix``; a learned one an ``nn.Module``). It is given the embedding
size ``dim`` and ``hidden`` (``model.metric_hidden``, the MLP head's width) only if it takes them.
A distance registered outside siamkit remembers its name and parameters
(:func:`build_distance`), so a saved model rebuilds it when its module is imported.

>>> DISTANCES.build("mahalanobis", dim=8).name
'mahalanobis'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from siamkit.distances.base import Distance, list_distances
from siamkit.distances.learned import MahalanobisDistance, MLPMetric
from siamkit.registry import Registry, not_imported, plugin_module

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


def build_distance(name: str, dim: int, **params: Any) -> str | Distance:
    """The registered distance ``name`` for embeddings of size ``dim`` (given to the factory if
    it takes ``dim``), as the model it is trained in will hold it.

    >>> build_distance("cosine", 8)
    'cosine'
    """
    if DISTANCES.accepts(name, "dim"):
        params = {"dim": dim, **params}
    return rebuild_distance({"type": "registered", "name": name, "params": params})


def rebuild_distance(cfg: dict[str, Any]) -> str | Distance:
    """Build the distance ``{"type": "registered", "name", "params"}`` describes. One not
    registered by siamkit itself keeps that description as ``siamkit_spec``, which a saved model
    stores (:func:`siamkit.models.siamese.distance_config`) to rebuild it."""
    name, params = cfg["name"], dict(cfg.get("params") or {})
    if name not in DISTANCES and cfg.get("module"):
        raise not_imported("distance", name, cfg["module"])
    distance = DISTANCES.build(name, **params)
    module = plugin_module(DISTANCES.get(name))
    if isinstance(distance, str) or module is None:
        return distance
    for key, value in params.items():
        if not isinstance(value, (int, float, str, bool, list, type(None))):
            raise TypeError(
                f"distance {name!r} parameter {key}={value!r} must be a number, string, bool or "
                "list to be saved with the model"
            )
    try:  # object.__setattr__: a frozen dataclass takes it too
        spec = {"name": name, "params": params, "module": module}
        object.__setattr__(distance, "siamkit_spec", spec)
    except AttributeError:
        raise TypeError(
            f"distance {name!r} returned a {type(distance).__name__} that takes no new "
            "attributes, so a saved model could not name it; return an object without __slots__"
        ) from None
    return distance
