"""Evaluation: verification (ROC AUC, EER, TAR@FAR), N-way K-shot, retrieval, thresholds, reports.

>>> from siamkit.evaluation import evaluate_embeddings
>>> report = evaluate_embeddings(z, labels, distance="euclidean")   # doctest: +SKIP
>>> report.to_dict()["verification"]["eer"]                          # doctest: +SKIP

Plots and the HTML report (:mod:`siamkit.evaluation.plots`, :func:`write_report`) import
matplotlib only when called.
"""

from siamkit.evaluation._common import shared_distance_matrices
from siamkit.evaluation.evaluate import EvaluationReport, evaluate_embeddings
from siamkit.evaluation.few_shot import (
    Episodes,
    FewShotReport,
    episode_accuracies,
    few_shot_episodes,
    few_shot_key,
    sample_episodes,
)
from siamkit.evaluation.pairs import (
    PairDistances,
    all_pair_distances,
    listed_pair_distances,
    pair_distances,
    sampled_pair_distances,
)
from siamkit.evaluation.report import write_report
from siamkit.evaluation.retrieval import (
    RetrievalReport,
    knn_accuracy,
    knn_classify,
    map_at_r,
    precision_at_1,
    recall_at_k,
    retrieval_metrics,
)
from siamkit.evaluation.roc import (
    OperatingPoint,
    RocCurve,
    SortedScores,
    best_accuracy,
    eer,
    far_operating_point,
    roc_auc,
    roc_curve,
    tar_at_far,
)
from siamkit.evaluation.threshold import ThresholdCalibrator, calibrate_threshold
from siamkit.evaluation.verification import (
    DistanceHistogram,
    VerificationReport,
    distance_histogram,
    verification_from_embeddings,
    verification_report,
)

__all__ = [
    "DistanceHistogram",
    "Episodes",
    "EvaluationReport",
    "FewShotReport",
    "OperatingPoint",
    "PairDistances",
    "RetrievalReport",
    "RocCurve",
    "SortedScores",
    "ThresholdCalibrator",
    "VerificationReport",
    "all_pair_distances",
    "best_accuracy",
    "calibrate_threshold",
    "distance_histogram",
    "eer",
    "episode_accuracies",
    "evaluate_embeddings",
    "far_operating_point",
    "few_shot_episodes",
    "few_shot_key",
    "knn_accuracy",
    "knn_classify",
    "listed_pair_distances",
    "map_at_r",
    "pair_distances",
    "precision_at_1",
    "recall_at_k",
    "retrieval_metrics",
    "roc_auc",
    "roc_curve",
    "sample_episodes",
    "sampled_pair_distances",
    "shared_distance_matrices",
    "tar_at_far",
    "verification_from_embeddings",
    "verification_report",
    "write_report",
]
