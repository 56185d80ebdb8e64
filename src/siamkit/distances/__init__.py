"""Distances: functional ``pairwise_*`` (N,) and ``*_matrix`` (N, M), named lookups, learned metrics."""

from siamkit.distances.base import (
    Distance,
    FixedDistance,
    get_distance,
    list_distances,
    training_matrix,
)
from siamkit.distances.cohort import SCORE_NORMS, CohortNormalized
from siamkit.distances.functional import (
    cosine_matrix,
    euclidean_matrix,
    manhattan_matrix,
    pairwise_cosine,
    pairwise_euclidean,
    pairwise_manhattan,
    pairwise_sqeuclidean,
    safe_sqrt,
    sqeuclidean_matrix,
    widened_once,
)
from siamkit.distances.learned import MahalanobisDistance, MLPMetric

__all__ = [
    "SCORE_NORMS",
    "CohortNormalized",
    "Distance",
    "FixedDistance",
    "MLPMetric",
    "MahalanobisDistance",
    "cosine_matrix",
    "euclidean_matrix",
    "get_distance",
    "list_distances",
    "manhattan_matrix",
    "pairwise_cosine",
    "pairwise_euclidean",
    "pairwise_manhattan",
    "pairwise_sqeuclidean",
    "safe_sqrt",
    "sqeuclidean_matrix",
    "training_matrix",
    "widened_once",
]
