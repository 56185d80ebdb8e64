"""1:1 verification report: ROC AUC, EER, TAR at FAR and the best-accuracy threshold.

Positive = same class; a pair is accepted when ``distance <= threshold`` (a model's verdict: within
float32 rounding, see :mod:`siamkit.decision`). The metric functions
(:func:`roc_curve`, :func:`roc_auc`, :func:`eer`, :func:`tar_at_far`, :func:`best_accuracy`) live
in :mod:`siamkit.evaluation.roc` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from siamkit.distances import CohortNormalized, FixedDistance, MahalanobisDistance, get_distance
from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    as_sequence,
    checked_embeddings,
    score_kind,
)
from siamkit.evaluation.pairs import PairDistances, n_pairs, pair_distances
from siamkit.evaluation.roc import (
    OperatingPoint,
    RocCurve,
    SortedScores,
    best_accuracy,
    best_accuracy_as_decided,
    eer,
    far_operating_point,
    roc_auc,
    roc_curve,
    tar_at_far,
)
from siamkit.evaluation.streamed import StreamedPairs

__all__ = [
    "DistanceHistogram",
    "OperatingPoint",
    "RocCurve",
    "VerificationReport",
    "best_accuracy",
    "distance_histogram",
    "eer",
    "far_operating_point",
    "far_resolved",
    "roc_auc",
    "roc_curve",
    "tar_at_far",
    "verification_from_embeddings",
    "verification_report",
]


def far_resolved(far: float, n_impostor: int | None) -> bool:
    """Whether ``n_impostor`` impostor pairs can measure a false-accept rate as small as ``far``:
    one false accept among them is a rate of ``1 / n_impostor``, so it takes
    ``n_impostor * far >= 1`` (``None``: the count is not known, so it is not doubted).

    >>> far_resolved(1e-3, 600), far_resolved(1e-3, 1000)
    (False, True)
    """
    return n_impostor is None or n_impostor * far >= 1


#: Above this many pairs, :func:`verification_from_embeddings` streams them
#: (:class:`~siamkit.evaluation.streamed.StreamedPairs`: 20,000 items, ~200M pairs, 381 MB, also
#: inside ``shared_distance_matrices``, which it keeps no block in)
#: instead of holding every distance (~23 bytes a pair at its peak: 4.6 GB there). Streaming
#: computes the distances at least three times (more for float64 or ties), so below it holding
#: them is faster and small (N = 5,000: 1.5 s and 364 MB held against 1.7 s and 218 MB
#: streamed; benchmarks/bench_eval_memory.py). 2**23 pairs is N ~ 4,100: the 4,000 items of
#: fmnist-disjoint stay in memory. Both give the same numbers.
STREAM_PAIRS = 1 << 23

#: The pairs a threshold fit samples where all of them would cost more (:func:`calibration_pairs`).
CALIBRATION_PAIRS = 300_000

#: The rule's factors, written here only: all pairs cost no more than a sample of
#: ``CALIBRATION_PAIRS`` while they are at most that many times the sample's pairs
#: (:func:`_all_pairs_gain`), each factor at or under every ratio of CPU-s per pair, sampled /
#: all, recorded with its command (BENCHMARKS.md, "Calibration after training: all pairs where
#: they cost no more" and "Mahalanobis and cohort-normalised distances"):
#:
#: - a named distance whose matrix is a matrix product (:data:`MATMUL_DISTANCES`):
#:   ``max(EXACT_PAIRS_PER_SAMPLED, width / EXACT_PAIRS_WIDTH_SHARE)``, ``max(2, width / 200)``.
#:   All pairs cost, per pair, at most half a sampled pair's at any width (the matrix pass
#:   against one gathered pair at a time, with the fit's sort over them), and about a 200th of
#:   the width more: euclidean 2.8-3.7 at 64 dims, 6.5-6.9 at 304, 11-14 at 1,024 and ~22 at
#:   4,544;
#: - manhattan (``torch.cdist(p=1)``, O(width) per pair either way): ``EXACT_PAIRS_PER_SAMPLED``,
#:   2, against 2.7-3.7 at every width;
#: - Mahalanobis: ``max(2, width / MAHALANOBIS_WIDTH_SHARE)``, ``max(2, width / 8)``. Its matrix
#:   is the Euclidean one of the projections, where a sampled pair projects its difference
#:   (rank x width), so it gains more with the width: 8 at 64 dims and 38 at 304 against the
#:   recorded 10.1 and 83.1 (hand-timed, s60_mfa);
#: - a cohort-normalised distance over any of these: ``COHORT_PAIRS_PER_SAMPLED``, 10. It takes
#:   each item's cohort statistics once over all pairs, a sampled pair both of its own: under
#:   every recorded ratio (28.4 and 42.0 over euclidean at 64 and 304 dims, and those over
#:   manhattan and Mahalanobis);
#: - a distance that scores every pair through a network (an ``MLPMetric``, or a cohort over
#:   one): none. Its matrix evaluates every pair, about as dear per pair as a sampled one.
EXACT_PAIRS_PER_SAMPLED = 2
EXACT_PAIRS_WIDTH_SHARE = 200
MAHALANOBIS_WIDTH_SHARE = 8
COHORT_PAIRS_PER_SAMPLED = 10
#: The named distances whose all-pairs matrix is one matrix product, so that all pairs gain on a
#: sample with the width; any other (manhattan) keeps the floor of ``EXACT_PAIRS_PER_SAMPLED``.
MATMUL_DISTANCES = frozenset({"euclidean", "sqeuclidean", "cosine"})


def _all_pairs_gain(distance: Any, width: int) -> float | None:
    """How many times a sampled pair's cost all pairs at least save per pair, for
    :func:`calibration_pairs`: the factor of ``distance`` at ``width`` (written out, with its
    measurements, in the comment above :data:`EXACT_PAIRS_PER_SAMPLED`), ``None`` for a distance
    that scores every pair through a network."""
    named = get_distance(distance)
    if isinstance(named, CohortNormalized):
        return None if _all_pairs_gain(named.base, width) is None else COHORT_PAIRS_PER_SAMPLED
    if isinstance(named, MahalanobisDistance):
        return max(EXACT_PAIRS_PER_SAMPLED, width / MAHALANOBIS_WIDTH_SHARE)
    if isinstance(named, FixedDistance) and named.name in MATMUL_DISTANCES:
        return max(EXACT_PAIRS_PER_SAMPLED, width / EXACT_PAIRS_WIDTH_SHARE)
    return EXACT_PAIRS_PER_SAMPLED if isinstance(named, FixedDistance) else None


def calibration_pairs(n: int, width: int, distance: Any) -> int | None:
    """How many of the ``n(n-1)/2`` pairs of ``n`` embeddings ``width`` wide a threshold fit
    takes: ``None`` for all of them where that costs no more than a sample of
    ``CALIBRATION_PAIRS`` (every set of no more pairs; else a set whose pairs are at most the
    sample's times :func:`_all_pairs_gain`'s factor for ``distance`` at ``width``, written out
    above :data:`EXACT_PAIRS_PER_SAMPLED`, and never above
    :data:`~siamkit.evaluation.verification.STREAM_PAIRS`, past which the library holds no set
    of pairs whole), else ``CALIBRATION_PAIRS``: always for a distance that scores each pair
    through a network (``MLPMetric``), which costs about as much per pair either way. A run's
    threshold fit (:func:`siamkit.experiment.protocol.calibrate`), its per-epoch validation EER
    (:func:`siamkit.training.validation.validation_eer`) and ``siamkit calibrate`` on images of
    classes all take it.

    >>> calibration_pairs(3_600, 4_544, "euclidean"), calibration_pairs(3_600, 304, "euclidean")
    (None, 300000)
    >>> calibration_pairs(3_600, 4_544, "manhattan"), calibration_pairs(10_000, 40_000, "euclidean")
    (300000, 300000)
    """
    pairs = n_pairs(n)
    if pairs <= CALIBRATION_PAIRS:
        return None
    ratio = _all_pairs_gain(distance, width)
    # never more than the library holds in memory (STREAM_PAIRS), as rates_at's rates
    if ratio is not None and pairs <= min(STREAM_PAIRS, CALIBRATION_PAIRS * ratio):
        return None
    return CALIBRATION_PAIRS


#: Exact points kept in a report's ROC curve (enough for ROC and DET plots).
CURVE_POINTS = 2000


class DistanceHistogram(NamedTuple):
    """Counts of genuine and impostor distances over shared bins: ``edges (B+1,)``, counts ``(B,)``."""

    edges: np.ndarray
    genuine: np.ndarray
    impostor: np.ndarray


def distance_histogram(
    genuine: ArrayLike | SortedScores, impostor: ArrayLike | None = None, bins: int = 100
) -> DistanceHistogram:
    """Histogram both distance sets over the same ``bins`` equal-width bins."""
    s = genuine if isinstance(genuine, SortedScores) else SortedScores(genuine, impostor)
    lo = float(min(s.genuine[0], s.impostor[0]))
    hi = float(max(s.genuine[-1], s.impostor[-1]))
    span = (lo, hi if hi > lo else lo + 1.0)
    g_counts, edges = np.histogram(s.genuine, bins=bins, range=span)
    return DistanceHistogram(edges, g_counts, np.histogram(s.impostor, bins=bins, range=span)[0])


@dataclass(frozen=True)
class VerificationReport:
    """Verification metrics over a set of genuine and impostor pairs.

    ``best_accuracy`` and ``best_threshold`` are the best-accuracy fit that ``siamkit
    calibrate --target accuracy`` saves (:func:`~siamkit.evaluation.roc.best_accuracy_as_decided`),
    one route for both, in memory and streamed: the balanced accuracy ``(TAR + 1 - FAR) / 2``
    at the threshold as models decide (up to :func:`siamkit.decision.room` above it: 1e-5, or 16
    float32 steps' worth of ``|threshold|`` beyond 5.24), which every reader computing each
    distance a few float32 steps of its own off reaches. A cosine reader near 0 is off by
    steps of 1.0: the threshold keeps that room for the pairs it is placed between, and where
    dense distances lie closer to it, such readers get the value give or take those few pairs.
    It lies below the strict best curve point (:func:`~siamkit.evaluation.roc.best_accuracy`),
    which keeps no room for readers: by a few pairs at distances near 1, by up to ~1e-4 of
    accuracy on dense distances near 0 (0.001 apart: each window then holds many impostors).
    ``curve`` (about 2,000 exact ROC points) and ``histogram`` are for plots and stay out of
    :meth:`to_dict`.
    """

    roc_auc: float
    eer: float
    eer_threshold: float
    tar_at_far: Mapping[float, float]
    best_accuracy: float
    best_threshold: float
    n_genuine: int
    n_impostor: int
    curve: RocCurve = field(repr=False, compare=False)
    histogram: DistanceHistogram = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics; ``threshold`` is the EER threshold, FAR keys are strings.

        ``tar_at_far`` keeps every value as computed; ``tar_at_far_measured`` says, under the
        same keys, whether the ``n_impostor`` pairs can measure that FAR (:func:`far_resolved`):
        30 pairs give TAR@FAR=1e-3 a value but cannot measure it, and the printed tables and the
        report say "not measured" there, while a script reading only the value could not tell.
        """
        return {
            "roc_auc": self.roc_auc,
            "eer": self.eer,
            "threshold": self.eer_threshold,
            "tar_at_far": {str(float(f)): t for f, t in self.tar_at_far.items()},
            "tar_at_far_measured": {
                str(float(f)): far_resolved(f, self.n_impostor) for f in self.tar_at_far
            },
            "best_accuracy": self.best_accuracy,
            "best_threshold": self.best_threshold,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
        }


def verification_report(
    genuine: ArrayLike,
    impostor: ArrayLike,
    fars: Iterable[float] = (1e-2, 1e-3),
    signed: bool = False,
) -> VerificationReport:
    """All verification metrics from genuine ``(G,)`` and impostor ``(I,)`` distances;
    ``signed`` for a score-normalised model's scores, which may take a threshold below 0 (as
    ``calibrate`` fits them).

    Example:
        >>> r = verification_report([0.1, 0.2, 0.3], [0.25, 0.8, 0.9])
        >>> r.roc_auc, r.eer
        (0.8888888888888888, 0.3333333333333333)
    """
    s = SortedScores(genuine, impostor)
    eer_point = eer(s)
    acc_point = best_accuracy_as_decided(s, signed=signed)
    return VerificationReport(
        roc_auc=roc_auc(s),
        eer=eer_point.value,
        eer_threshold=eer_point.threshold,
        tar_at_far=tar_at_far(s, fars=fars),
        best_accuracy=acc_point.value,
        best_threshold=acc_point.threshold,
        n_genuine=s.n_genuine,
        n_impostor=s.n_impostor,
        curve=roc_curve(s, None, max_points=CURVE_POINTS),
        histogram=distance_histogram(s),
    )


def verification_from_embeddings(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    fars: Iterable[float] = (1e-2, 1e-3),
    max_pairs: int | None = None,
    seed: int = 0,
) -> VerificationReport:
    """Verification metrics over all unordered pairs ``i < j`` of ``z`` (or ``max_pairs`` of them).

    Above ``STREAM_PAIRS`` pairs all pairs are streamed in blocks
    (:class:`~siamkit.evaluation.streamed.StreamedPairs`): memory holds the genuine distances
    and some counts, not the ~N²/2 impostor distances (20,000 items: ~200M pairs), and every
    metric is the in-memory one's.

    Args:
        z: ``(N, D)`` embeddings.
        labels: ``(N,)`` class labels.
        distance: a distance name or ``Distance`` object.
        fars: target false accept rates for ``tar_at_far``.
        max_pairs: evaluate a seeded uniform sample of this many pairs instead of all.
        seed: seed for that sample.

    Example:
        >>> import torch
        >>> z = torch.tensor([[0.0], [0.1], [1.0], [1.2]])
        >>> verification_from_embeddings(z, [0, 0, 1, 1]).roc_auc
        1.0
    """
    zt = as_embeddings(z)
    signed = score_kind(distance) != "distance"  # an S-norm score may be negative
    with checked_embeddings(zt):
        if max_pairs is not None or n_pairs(zt.shape[0]) <= STREAM_PAIRS:
            pd: PairDistances = pair_distances(zt, labels, distance, max_pairs=max_pairs, seed=seed)
            return verification_report(pd.genuine, pd.impostor, fars=fars, signed=signed)
        return streamed_verification_report(StreamedPairs(zt, labels, distance), fars, signed)


def streamed_verification_report(
    pairs: StreamedPairs, fars: Iterable[float] = (1e-2, 1e-3), signed: bool = False
) -> VerificationReport:
    """:func:`verification_report` of all pairs, from counts kept while streaming them: the
    same numbers, without holding the ``N(N-1)/2`` distances (:mod:`siamkit.evaluation.streamed`)."""
    fars = as_sequence(fars, "fars", "(0.01,)")
    pairs.plan(fars, CURVE_POINTS)
    eer_point = pairs.eer()
    acc_point = pairs.best_accuracy_as_decided(signed)
    return VerificationReport(
        roc_auc=pairs.roc_auc(),
        eer=eer_point.value,
        eer_threshold=eer_point.threshold,
        tar_at_far={float(f): pairs.far_operating_point(float(f)).value for f in fars},
        best_accuracy=acc_point.value,
        best_threshold=acc_point.threshold,
        n_genuine=pairs.n_genuine,
        n_impostor=pairs.n_impostor,
        curve=pairs.roc_curve(CURVE_POINTS),
        histogram=DistanceHistogram(*pairs.histogram()),
    )
