"""Cheap validation metrics for early stopping (the full evaluation is :mod:`siamkit.evaluation`).

The default validation metric, P@1, is :func:`siamkit.evaluation.precision_at_1` (one
implementation for training and evaluation).
"""

from __future__ import annotations

import torch
from torch import Tensor

from siamkit.distances import Distance
from siamkit.evaluation.few_shot import few_shot_episodes, max_queries
from siamkit.evaluation.pairs import pair_distances
from siamkit.evaluation.roc import eer
from siamkit.evaluation.verification import calibration_pairs


def embedding_spread(z: Tensor) -> float:
    """How spread out ``(N, D)`` embeddings are: ``mean ||z_i - mean(z)||^2 / mean ||z_i||^2``.

    1 (or close) when the embeddings point every which way, 0 when they all are one point, as
    after a metric-learning collapse (every distance is 0 and the triplet loss sits at the margin).
    An untrained ConvNet's normalised outputs already sit in a narrow cone (spread ~0.01-0.03),
    so compare a trained spread with the one before training.
    """
    z = z.double()
    power = float(z.pow(2).sum(dim=1).mean())
    if z.shape[0] < 2 or power == 0.0:
        return 0.0
    return float((z - z.mean(dim=0)).pow(2).sum(dim=1).mean()) / power


#: An epoch whose learned-embedding spread fell below this share of the spread before training
#: counts as a collapse (see :func:`spread_news`).
COLLAPSE_FACTOR = 0.1


#: What a collapse line advises when nothing restarts the run (``train.on_collapse: warn``).
COLLAPSE_ADVICE = (
    "Try a lower optim.lr, loss.mining=all or semihard, or loss.kind=multi_similarity."
)


def spread_news(
    epoch: int,
    spread: float,
    spread0: float,
    before: list[float],
    appearance: bool = False,
    advice: str = COLLAPSE_ADVICE,
) -> str | None:
    """What to tell the user about the :func:`embedding_spread` after ``epoch``, given the spread
    before training (``spread0``) and after the earlier epochs (``before``): that the embedding
    has collapsed (the first time it falls under :data:`COLLAPSE_FACTOR` of ``spread0``,
    typically batch-hard triplets with the loss stuck near the margin), that it has spread out
    again (the epoch after a collapse that it is back above), or nothing (``None``).
    ``appearance``: the model joins appearance features to the learned embedding (the message
    says what the collapse means next to them). ``advice``: the collapse line's last sentence
    (what the run does about it, when it restarts by itself).

    >>> spread_news(1, 0.001, 0.02, [0.03]).startswith("epoch 1: the learned embeddings have collapsed")
    True
    >>> spread_news(2, 0.001, 0.02, [0.001]) is None
    True
    """
    low = spread0 * COLLAPSE_FACTOR
    if spread < low and all(s >= low for s in before):
        effect = (
            "and next to the appearance features they hardly count"
            if appearance
            else "so they hardly tell images apart"
        )
        return (
            f"epoch {epoch}: the learned embeddings have collapsed towards one point (spread "
            f"{spread:.2g}, {spread0:.2g} before training): their distances are tiny, {effect}. "
            f"{advice}"
        )
    if spread >= low and before and before[-1] < low:
        return (
            f"epoch {epoch}: the learned embeddings have spread out again (spread {spread:.2g}, "
            f"{spread0:.2g} before training)."
        )
    return None


@torch.no_grad()
def one_shot_accuracy(
    z: Tensor,
    labels: Tensor,
    distance: Distance,
    n_way: int = 5,
    episodes: int = 300,
    seed: int = 0,
    n_query: int = 1,
) -> float:
    """Mean N-way 1-shot accuracy over seeded episodes: :func:`siamkit.evaluation.few_shot_episodes`
    with ``n_way`` capped at the number of classes and ``n_query`` queries per class, lowered
    to what ``n_way`` classes allow."""
    n_way = min(n_way, int(torch.unique(labels).numel()))
    n_query = max(1, min(n_query, max_queries(labels, n_way, 1)))
    report = few_shot_episodes(
        z, labels, n_way, 1, n_query=n_query, episodes=episodes, seed=seed, distance=distance
    )
    return report.accuracy


@torch.no_grad()
def validation_eer(z: Tensor, labels: Tensor, distance: Distance, seed: int = 0) -> float:
    """Verification equal error rate over the pairs of ``z`` (lower is better): the pairs the
    run's threshold fit takes (:func:`~siamkit.evaluation.verification.calibration_pairs`: all
    of them where that costs no more than a sample, else the same seeded sample every epoch). It
    costs no more per epoch than the sample: where the rule takes all pairs, they took 0.14-0.68
    of the sample's CPU-s (hand-timed, random unit embeddings, 800 x 16 to 3,600 x 4,544). It
    ranks every pair, so it keeps telling models apart after P@1 saturates on a few validation
    classes.

    A run seeds the sample with ``train.seed``, not with the ``eval.seed`` its threshold fit
    draws with (:func:`~siamkit.experiment.protocol.threshold_seed`): ``eval.seed`` may change
    on ``--resume`` (:data:`~siamkit.training.config_guard.AFTER_TRAINING`: an embedding run
    reads it only after training), while this metric compares epochs (``train.restore_best``,
    ``train.early_stopping``), so its pairs must stay the same for the whole run. Where the
    rule samples, the last epoch's EER is therefore of another sample than the threshold's
    (where it takes all pairs, of the same pairs).

    Raises:
        ValueError: no genuine or no impostor pair (one image per class, or one class).
    """
    max_pairs = calibration_pairs(labels.numel(), z.shape[1], distance)
    pd = pair_distances(z, labels, distance, max_pairs=max_pairs, seed=seed)
    return eer(pd.genuine, pd.impostor).value
