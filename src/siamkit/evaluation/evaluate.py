"""One call for the whole benchmark: verification, N-way K-shot and retrieval on embeddings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from siamkit.clauses import in_number
from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    as_sequence,
    checked_embeddings,
    distance_name,
    encode_labels,
    memoized,
    resolve_distance,
    shared_distance_matrices,
)
from siamkit.evaluation.few_shot import FewShotReport, few_shot_episodes
from siamkit.evaluation.retrieval import RetrievalReport, retrieval_metrics
from siamkit.evaluation.verification import VerificationReport, verification_from_embeddings


@dataclass(frozen=True)
class EvaluationReport:
    """Everything ``siamkit evaluate`` reports; :meth:`to_dict` gives the ``metrics.json`` layout.

    ``few_shot`` maps keys such as ``"4way1shot"`` to reports. A section that was not computed
    is ``None`` (or empty) and is left out of :meth:`to_dict`: ``verification`` is ``None`` when
    :func:`evaluate_embeddings` was given ``verification=False``, ``retrieval`` when given
    ``retrieval=False`` (and in the reports of labelled pairs, which rank nothing), and
    ``few_shot`` is empty for ``few_shot=()``. Code checked with
    ``mypy --strict`` reads a section it asked for with :meth:`require_verification` or
    :meth:`require_retrieval`, typed without ``None``.

    >>> rep = evaluate_embeddings(torch.randn(40, 8), torch.arange(40) % 4, few_shot=())
    >>> 0.0 <= rep.require_verification().eer <= 1.0
    True
    """

    verification: VerificationReport | None
    few_shot: Mapping[str, FewShotReport]
    retrieval: RetrievalReport | None
    distance: str
    n_items: int
    n_classes: int
    seed: int = field(default=0)

    def to_dict(self) -> dict[str, Any]:
        """Nested JSON-ready metrics, e.g. ``d["few_shot"]["4way1shot"]["accuracy"]``.

        Keys: ``verification.{roc_auc, eer, threshold, tar_at_far{"0.01": ...}, ...}``,
        ``few_shot.<N>way<K>shot.{accuracy, ci95, ...}``,
        ``retrieval.{precision_at_1, map_at_r, recall_at_k{"1": ...}, r_precision,
        mean_average_precision, mean_reciprocal_rank}`` (and ``nmi``, ``ami`` when clustering
        was computed) and a ``data`` block.
        """
        out: dict[str, Any] = {}
        if self.verification is not None:
            out["verification"] = self.verification.to_dict()
        if self.few_shot:
            out["few_shot"] = {k: r.to_dict() for k, r in self.few_shot.items()}
        if self.retrieval is not None:
            out["retrieval"] = self.retrieval.to_dict()
        out["data"] = {
            "distance": self.distance,
            "n_items": self.n_items,
            "n_classes": self.n_classes,
            "seed": self.seed,
        }
        return out

    def flat(self) -> dict[str, float]:
        """Numeric metrics under dotted keys, e.g. ``"verification.tar_at_far.0.001"``."""
        out: dict[str, float] = {}

        def walk(prefix: str, node: Mapping[str, Any]) -> None:
            for key, value in node.items():
                name = f"{prefix}.{key}" if prefix else str(key)
                if isinstance(value, Mapping):
                    walk(name, value)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[name] = float(value)

        walk("", {k: v for k, v in self.to_dict().items() if k != "data"})
        return out

    def require_verification(self) -> VerificationReport:
        """:attr:`verification`, or a ``ValueError`` saying it was skipped (``None``)."""
        if self.verification is None:
            raise ValueError(
                "this report has no verification section (evaluate_embeddings skips it for "
                "verification=False, and a report built by hand may leave it out): ask for it, "
                "or check report.verification is not None first"
            )
        return self.verification

    def require_retrieval(self) -> RetrievalReport:
        """:attr:`retrieval`, or a ``ValueError`` saying it was skipped (``None``)."""
        if self.retrieval is None:
            raise ValueError(
                "this report has no retrieval section (evaluate_embeddings skips it for "
                "retrieval=False, and a report built by hand may leave it out): ask for it, "
                "or check report.retrieval is not None first"
            )
        return self.retrieval

    @property
    def primary_metric(self) -> str:
        """The dotted key of the headline metric (higher is better).

        MAP@R when retrieval was computed (it uses every item and ranks finely), else the first
        few-shot accuracy, else ROC AUC.
        """
        if self.retrieval is not None:
            return "retrieval.map_at_r"
        if self.few_shot:
            return f"few_shot.{next(iter(self.few_shot))}.accuracy"
        if self.verification is not None:
            return "verification.roc_auc"
        raise ValueError("this report has no metrics; enable at least one section")

    @property
    def primary_value(self) -> float:
        """The value of :attr:`primary_metric`."""
        return self.flat()[self.primary_metric]


def evaluate_embeddings(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    few_shot: Iterable[tuple[int, int]] = ((4, 1), (4, 5)),
    episodes: int = 1000,
    fars: Iterable[float] = (1e-2, 1e-3),
    seed: int = 0,
    n_query: int = 15,
    ks: Iterable[int] = (1, 5, 10),
    max_pairs: int | None = None,
    verification: bool = True,
    retrieval: bool = True,
    clustering: bool = False,
) -> EvaluationReport:
    """Evaluate embeddings of held-out classes with the fmnist-disjoint protocol (DESIGN §4).

    Args:
        z: ``(N, D)`` test embeddings.
        labels: ``(N,)`` their classes.
        distance: the model's distance (name or ``Distance`` object).
        few_shot: ``(n_way, k_shot)`` settings; ``()`` skips few-shot.
        episodes: episodes per setting; n_query: queries per class per episode.
        fars: target FARs for TAR@FAR.
        seed: seeds episodes (and the pair sample when ``max_pairs`` is set).
        ks: Recall@K values.
        max_pairs: verify on a seeded sample of pairs instead of all ``N(N-1)/2``.
        verification, retrieval: set ``False`` to skip those sections (e.g. quick validation).
        clustering: add NMI and AMI of a k-means (seeded by ``seed``) to the retrieval section;
            off by default, as its cost grows with the number of classes
            (:func:`~siamkit.evaluation.retrieval_metrics`).

    Verification and retrieval share one computation of the pair distances when the distance is
    a learned pair head (:func:`~siamkit.evaluation.shared_distance_matrices`).

    Example:
        >>> import torch
        >>> z = torch.cat([torch.randn(40, 8) + 4 * c for c in range(4)])
        >>> rep = evaluate_embeddings(z, [c for c in range(4) for _ in range(40)], episodes=50)
        >>> sorted(rep.to_dict()["few_shot"])
        ['4way1shot', '4way5shot']
    """
    # a mistyped argument is refused now, not after the sections before it have run
    fars = as_sequence(fars, "fars", "(0.01,)")
    ks = as_sequence(ks, "ks", "(1, 5)")
    few_shot = as_sequence(few_shot, "few_shot", "((4, 1), (4, 5))")
    for setting in few_shot:
        if not isinstance(setting, (tuple, list)) or len(setting) != 2:
            raise TypeError(
                "few_shot takes (n_way, k_shot) pairs, e.g. few_shot=((4, 1), (4, 5)), got "
                f"{few_shot!r}"
            )
    zt = as_embeddings(z)
    codes, classes = encode_labels(labels, zt.shape[0])
    _check_few_shot_fits(few_shot, n_query, codes)
    dist = resolve_distance(distance)
    # one matrix for both sections; the sections take zt as checked here, not again each
    with checked_embeddings(zt), shared_distance_matrices(), memoized(dist, zt):
        ver = (
            verification_from_embeddings(zt, codes, dist, fars=fars, max_pairs=max_pairs, seed=seed)
            if verification
            else None
        )
        shots = {}
        for n_way, k_shot in few_shot:
            rep = few_shot_episodes(zt, codes, n_way, k_shot, n_query, episodes, seed, dist)
            shots[rep.key] = rep
        ret = (
            retrieval_metrics(zt, codes, dist, ks=ks, clustering=clustering, seed=seed)
            if retrieval
            else None
        )
    return EvaluationReport(
        verification=ver,
        few_shot=shots,
        retrieval=ret,
        distance=distance_name(distance),
        n_items=int(zt.shape[0]),
        n_classes=int(classes.size),
        seed=seed,
    )


def _check_few_shot_fits(
    few_shot: Sequence[tuple[int, int]], n_query: int, codes: torch.Tensor
) -> None:
    """Refuse, before any section runs, a few-shot setting the labels cannot fill, naming
    ``few_shot`` and ``n_query`` (the names :func:`evaluate_embeddings` takes them by)."""
    counts = torch.bincount(codes) if codes.numel() else torch.zeros(0, dtype=torch.long)
    for n_way, k_shot in few_shot:
        if not (isinstance(n_way, int) and isinstance(k_shot, int) and isinstance(n_query, int)):
            continue  # few_shot_episodes names the wrong type
        have = int((counts >= k_shot + n_query).sum())
        if have < n_way:
            raise ValueError(
                f"few_shot setting ({n_way}, {k_shot}) with n_query={n_query} needs {n_way:,} "
                f"classes with at least {k_shot + n_query:,} items each, but {have:,} "
                f"{in_number(have, 'has', 'have')} that many; give smaller few_shot=((n_way, "
                "k_shot), ...) or n_query, or few_shot=() to skip few-shot"
            )
