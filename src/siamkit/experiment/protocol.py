"""The steps of the evaluation protocol (DESIGN §4) a run takes after training.

Attach the cohort for score normalisation, calibrate the verification threshold on validation
pairs, evaluate on the test classes (few-shot, verification, retrieval), and evaluate each part
of a joined embedding alone. :func:`~siamkit.experiment.run.run_experiment` calls them in order;
``siamkit evaluate`` and the benchmarks call them directly.

>>> report, z = evaluate_model(net, x, y, RunConfig().eval, torch.device("cpu"))  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siamkit.data.image_io import load_images
from siamkit.decision import accepts
from siamkit.encode import encode
from siamkit.evaluation import EvaluationReport, evaluate_embeddings, verification
from siamkit.evaluation.few_shot import max_queries
from siamkit.evaluation.pairs import n_pairs, pair_distances
from siamkit.evaluation.threshold import ThresholdCalibrator

# re-exported for importers (benchmarks, tests); read here through ``verification`` at call time,
# so that one name (verification's, where calibration_pairs reads it too) holds each value
from siamkit.evaluation.verification import (
    CALIBRATION_PAIRS as CALIBRATION_PAIRS,
)
from siamkit.evaluation.verification import (
    STREAM_PAIRS as STREAM_PAIRS,
)
from siamkit.evaluation.verification import (
    calibration_pairs as calibration_pairs,
)
from siamkit.experiment.result import Rates
from siamkit.models import JoinedEmbedding, SiameseNetwork
from siamkit.progress import step
from siamkit.training.config import EvalConfig, RunConfig
from siamkit.training.config_classes import resolved_ways
from siamkit.training.data import (
    RunData,
    cohort_folder_images,
    load_unlabeled_pool,
    seeded_sample,
)
from siamkit.training.eval_protocol import check_protocol as check_protocol
from siamkit.training.from_config import ValidationEmbeddings

Model = SiameseNetwork | JoinedEmbedding


def calibrate(z: Tensor, labels: Tensor, net: Model, target: str, seed: int) -> float:
    """Verification threshold fitted on validation pairs: all of them, or a seeded sample of
    ``CALIBRATION_PAIRS`` where all would cost more (:func:`calibration_pairs`).

    With score normalisation the pairs' values are cohort-normalised scores, which may be
    negative, so the fit is ``signed`` (as ``siamkit calibrate`` fits them): it keeps the whole
    room under an impostor, where a fit of distances stops at 0."""
    n = labels.numel()
    max_pairs = calibration_pairs(n, z.shape[1], net.scoring_distance)
    # the pass's own count is worded as the test verification's: say which pairs these are
    pairs = f"a sample of {max_pairs:,}" if max_pairs else f"all {n_pairs(n):,}"
    step(f"calibrating the verification threshold on {pairs} pairs of {n:,} validation images")
    pd = pair_distances(z, labels, net.scoring_distance, max_pairs=max_pairs, seed=seed)
    fit = ThresholdCalibrator(target, signed=net.score_norm is not None)  # type: ignore[arg-type]
    return fit.fit(pd.genuine, pd.impostor).threshold_


def threshold_seed(config: RunConfig | Mapping[str, Any] | None) -> int:
    """The seed the threshold fit draws its sample of validation pairs with, where
    :func:`calibration_pairs` samples: ``eval.seed``, of a run's config or of the one a model
    recorded (its ``metadata.config`` mapping; the default, 0, where it records none). The run's
    fit (:func:`calibrate_run`) and ``siamkit calibrate`` both read it here, so that on the run's
    validation images the command fits on the run's own sample.

    >>> threshold_seed(RunConfig()), threshold_seed({"eval": {"seed": 3}}), threshold_seed(None)
    (0, 3, 0)
    """
    if isinstance(config, RunConfig):
        return config.eval.seed
    section = (config or {}).get("eval") or {}
    return int(section.get("seed", EvalConfig().seed))


def rates_at(z: Tensor, labels: Tensor, net: Model, threshold: float, seed: int = 0) -> Rates:
    """TAR, FAR and balanced accuracy of a fixed threshold on the pairs of ``z``, a pair accepted
    as the model accepts it (:func:`siamkit.decision.accepts`, within float32 rounding of the
    threshold), so that metrics.json's rates are those of its verdicts.

    All pairs wherever the test verification holds them all in memory (up to
    :data:`~siamkit.evaluation.verification.STREAM_PAIRS`): inside
    :func:`~siamkit.evaluation.shared_distance_matrices`, after the verification of the same
    ``z``, its distances are taken again, not computed. A larger set, which the verification
    streams, is counted on a sample of ``CALIBRATION_PAIRS`` drawn with ``seed`` (both read
    from :mod:`~siamkit.evaluation.verification` when called, as :func:`calibration_pairs`
    reads them): a run's and ``siamkit evaluate``'s is the protocol's (``eval.seed``,
    :func:`threshold_seed`), so that another seed draws another sample, as it draws other
    episodes."""
    n = labels.numel()
    cap = verification.CALIBRATION_PAIRS
    max_pairs = cap if n_pairs(n) > verification.STREAM_PAIRS else None
    pd = pair_distances(z, labels, net.scoring_distance, max_pairs=max_pairs, seed=seed)
    tar = float(np.mean(accepts(np.asarray(pd.genuine), threshold)))
    far = float(np.mean(accepts(np.asarray(pd.impostor), threshold)))
    return Rates(tar, far, (tar + 1 - far) / 2)


def evaluate_model(
    net: Model,
    x: Tensor,
    y: Tensor,
    protocol: EvalConfig,
    device: torch.device,
    episodes: int | None = None,
    batch_size: int = 512,
) -> tuple[EvaluationReport, Tensor]:
    """Embed ``x`` and run the full evaluation (few-shot, verification, retrieval) of
    ``protocol`` (the ``eval`` section of a run config); returns the report and ``(N, D)``."""
    z = encode(net, x, batch_size, device, desc="embedding test images")
    return evaluate_protocol(z, y, net.scoring_distance, protocol, episodes), z


def protocol_settings(protocol: EvalConfig, y: Tensor) -> tuple[list[tuple[int, int]], int]:
    """``(n_way, k_shot)`` settings of ``protocol`` on labels ``y``, and the queries per class:
    ``eval.queries``, lowered to what every setting allows when the classes are small.

    Raises:
        ValueError: a setting the classes cannot give at all (:func:`check_protocol`).
    """
    check_protocol(protocol, y)
    ways = resolved_ways(protocol, int(torch.unique(y).numel()))
    settings = [(n, k) for n in ways for k in protocol.shots]
    allowed = min(max_queries(y, n, k) for n, k in settings)
    return settings, min(protocol.queries, allowed)


def evaluate_protocol(
    z: Tensor, y: Tensor, distance: Any, protocol: EvalConfig, episodes: int | None = None
) -> EvaluationReport:
    """The run's evaluation protocol (``cfg.eval``; :func:`protocol_settings`), with NMI/AMI
    when ``protocol.clustering``."""
    settings, n_query = protocol_settings(protocol, y)
    return evaluate_embeddings(
        z, y, distance, few_shot=settings,
        episodes=episodes or protocol.episodes, seed=protocol.seed, n_query=n_query,
        clustering=protocol.clustering,
    )  # fmt: skip


ABLATION_PARTS = {
    "raw": "same embedding, raw distance (no cohort score normalisation)",
    "learned": "learned embedding alone (CNN + head)",
    "appearance": "appearance features alone (no training)",
}


COHORT_SOURCES = {
    "train": "training images",
    "unlabeled": "unlabeled images of the test classes, not test images (a protocol variant)",
}


def cohort_source(cfg: RunConfig) -> str:
    """Where the cohort of ``cfg.eval`` comes from, in words (``metrics.json``, the demo's output)."""
    if cfg.eval.cohort_root is not None:
        return f"unlabeled images under {cfg.eval.cohort_root} (a protocol variant)"
    return COHORT_SOURCES[cfg.eval.cohort]


def cohort_images(data: RunData, cfg: RunConfig, training_images: bool = False) -> Tensor:
    """The images ``cfg.eval`` takes its cohort from (seeded, at most ``cohort_size``); with
    ``training_images``, a sample of the training images whatever ``cfg.eval.cohort`` says."""
    e = cfg.eval
    if e.cohort_root is not None and not training_images:
        paths = cohort_folder_images(e.cohort_root, e.cohort_size, e.seed)
        return load_images(paths, data.input_shape)
    if e.cohort == "unlabeled" and not training_images:
        return load_unlabeled_pool(cfg.data, data.test_classes, e.cohort_size, e.seed)
    return data.train_x[seeded_sample(len(data.train_y), e.cohort_size, e.seed)]


def attach_cohort(
    net: Model,
    data: RunData,
    cfg: RunConfig,
    device: torch.device,
    training_images: bool = False,
) -> int:
    """Give ``net`` the cohort ``cfg.eval`` asks for (``score_norm``, ``cohort``, ``cohort_root``,
    ``cohort_size``, ``score_norm_k``), or with ``training_images`` a cohort of training images
    whatever ``cfg.eval.cohort`` says. Returns the cohort size (0 when score normalisation is off).
    """
    e = cfg.eval
    if e.score_norm == "none":
        return 0
    images = cohort_images(data, cfg, training_images)
    if images.shape[0] < e.score_norm_k:
        where = COHORT_SOURCES["train"] if training_images else cohort_source(cfg)
        raise ValueError(
            f"eval.score_norm_k = {e.score_norm_k} nearest cohort items asked for, but the cohort "
            f"({where}) has only {images.shape[0]} images"
        )
    cohort = encode(net, images, cfg.train.embed_batch_size, device, desc="embedding cohort images")
    net.set_score_norm(cohort.to(device), k=e.score_norm_k, method=e.score_norm)
    return int(cohort.shape[0])


def calibrate_run(
    net: Model,
    data: RunData,
    cfg: RunConfig,
    device: torch.device,
    *,
    _embeddings: ValidationEmbeddings | None = None,
) -> float:
    """The threshold, fit on validation pairs. The validation images are of the training classes,
    so with a cohort of other images (``eval.cohort: unlabeled``) they are scored against training
    images instead: each side normalised against its own kind, as the test images are against
    theirs, which is what lets one S-norm threshold carry over to the unseen classes.

    ``_embeddings`` is :func:`~siamkit.experiment.run.evaluate_run`'s own, not the API's: the
    training's validation embeddings (an internal type of ``siamkit.training.from_config``),
    whose last embedding (the last epoch's validation) is reused when ``net`` still holds those
    weights, instead of embedding the validation images again."""
    embeddings = _embeddings
    if embeddings is None:
        embeddings = ValidationEmbeddings(data.val_x, cfg.train.embed_batch_size)
    zv = embeddings(net, device)
    deployed = net.score_norm
    if deployed is not None and (cfg.eval.cohort != "train" or cfg.eval.cohort_root is not None):
        attach_cohort(net, data, cfg, device, training_images=True)
    try:
        return calibrate(zv, data.val_y, net, cfg.eval.threshold_target, threshold_seed(cfg))
    finally:
        net.score_norm = deployed


def evaluate_parts(
    net: Model,
    x: Tensor,
    y: Tensor,
    cfg: RunConfig,
    device: torch.device,
    episodes: int | None = None,
) -> dict[str, EvaluationReport]:
    """The same evaluation on each part of a :class:`JoinedEmbedding` (``{}`` for another model).

    Shows on the unseen classes what the trained network adds to the parameter-free features it
    is joined with, and what those features give with no training at all. Both parts are unit
    length, so they are compared with the Euclidean distance.
    """
    if not isinstance(net, JoinedEmbedding):
        return {}
    bs = cfg.train.embed_batch_size
    parts = {
        "learned": encode(net.net, x, bs, device, desc="embedding test images (learned part)"),
        "appearance": encode(net.features, x, bs, device, desc="embedding test images (features)"),
    }
    return {
        name: evaluate_protocol(
            torch.nn.functional.normalize(z, dim=1), y, "euclidean", cfg.eval, episodes
        )
        for name, z in parts.items()
    }


def try_write_report(path: Path, report: Any, z: Tensor, labels: Tensor, **kw: Any) -> Path | None:
    """The HTML report (plots); a failure there never loses the trained model or metrics."""
    try:
        from siamkit.evaluation.report import write_report
    except ImportError:
        warnings.warn(
            "siamkit.evaluation.report is not available; no report.html written", stacklevel=2
        )
        return None
    write_report(path, report, z, labels, **kw)
    return path
