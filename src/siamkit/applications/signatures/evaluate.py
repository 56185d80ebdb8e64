"""Writer-independent evaluation: FAR, FRR and EER for skilled and for random forgeries.

Protocol (as in the SigNet / Hafemann line of work): for each test writer, ``K`` genuine
signatures (seeded choice) are the enrolled references. Questioned signatures are the writer's
other genuines (should be accepted), the writer's skilled forgeries (should be rejected), and as
random forgeries one genuine signature of every other test writer (should be rejected). Each
questioned signature's score is its mean / min / max distance to the ``K`` references.

EER is computed over the scores of all writers together (a global threshold). FAR and FRR are
reported at ``threshold`` — one chosen on validation writers — or, without one, at the skilled
EER threshold of these same scores (the random one when there are no skilled forgeries; then
they describe, not predict).

>>> z = torch.eye(4).repeat_interleave(3, 0)            # 4 writers, 3 signatures each
>>> w = torch.arange(4).repeat_interleave(3)
>>> f = torch.tensor([False, False, True] * 4)
>>> r = evaluate_signatures(z + 0.01 * torch.arange(12.0)[:, None], w, f, n_references=1)
>>> r.random.eer
0.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siamkit.applications.signatures.decision import check_reduce, reference_scores
from siamkit.clauses import counted
from siamkit.decision import accepts
from siamkit.distances import Distance
from siamkit.evaluation.roc import eer

__all__ = [
    "ErrorRates",
    "SignatureEvaluation",
    "evaluable_writers",
    "evaluate_signatures",
    "signature_scores",
]


@dataclass(frozen=True)
class ErrorRates:
    """Error rates against one kind of forgery.

    Attributes:
        eer: equal error rate (FAR = FRR), global threshold.
        eer_threshold: the score threshold where it occurs.
        far: false acceptance rate of forgeries at the reported ``threshold``.
        frr: false rejection rate of genuine signatures at the same threshold.
        n_genuine, n_forged: how many scores of each kind.
    """

    eer: float
    eer_threshold: float
    far: float
    frr: float
    n_genuine: int
    n_forged: int


@dataclass(frozen=True)
class SignatureEvaluation:
    """Skilled- and random-forgery error rates, the threshold FAR/FRR were taken at, the setup."""

    skilled: ErrorRates
    random: ErrorRates
    threshold: float
    threshold_source: str  # "given", "model", or "skilled" / "random EER of these scores"
    n_references: int
    reduce: str
    n_writers: int  # every writer of the data
    n_writers_evaluated: int  # those with more than n_references genuine signatures

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (``skilled.eer``, ``random.far``, ...); the rates of a kind of
        forgery with none to score (no skilled forgeries, one writer) are ``None``, not NaN."""
        doc = asdict(self)
        for kind in ("skilled", "random"):
            doc[kind] = {k: None if _is_nan(v) else v for k, v in doc[kind].items()}
        return doc


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def evaluable_writers(writer: Tensor, forged: Tensor, n_references: int) -> list[int]:
    """The writers with more than ``n_references`` genuine signatures: those the protocol can
    evaluate (``n_references`` enrolled, at least one left to question)."""
    w_np, f_np = writer.cpu().numpy(), forged.cpu().numpy().astype(bool)
    return [int(w) for w in np.unique(w_np) if ((w_np == w) & ~f_np).sum() > n_references]


def signature_scores(
    embeddings: Tensor,
    writer: Tensor,
    forged: Tensor,
    n_references: int = 5,
    reduce: str = "mean",
    distance: str | Distance = "euclidean",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Scores of the protocol: ``{"genuine", "skilled", "random"}`` -> ``(n,)`` arrays.

    Writers with fewer than ``n_references + 1`` genuine signatures are skipped.
    """
    check_reduce(reduce)
    if n_references < 1:
        raise ValueError(f"n_references must be >= 1, got {n_references}.")
    if not len(embeddings) == len(writer) == len(forged):
        raise ValueError("embeddings, writer and forged must have the same length.")
    rng = np.random.default_rng(seed)
    w_np, f_np = writer.cpu().numpy(), forged.cpu().numpy().astype(bool)
    writers = evaluable_writers(writer, forged, n_references)
    refs, questioned = {}, {}
    for w in writers:
        gen = rng.permutation(np.flatnonzero((w_np == w) & ~f_np))
        refs[w], questioned[w] = gen[:n_references], gen[n_references:]
    out: dict[str, list[float]] = {"genuine": [], "skilled": [], "random": []}
    with torch.no_grad():
        for w in writers:
            r = embeddings[refs[w]]

            def score(idx: np.ndarray, r: Tensor = r) -> list[float]:
                if len(idx) == 0:
                    return []
                return reference_scores(embeddings[idx], r, distance, reduce).tolist()

            out["genuine"] += score(questioned[w])
            out["skilled"] += score(np.flatnonzero((w_np == w) & f_np))
            out["random"] += score(np.array([questioned[o][0] for o in writers if o != w], int))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _rates(genuine: np.ndarray, forged: np.ndarray, threshold: float) -> ErrorRates:
    # FAR and FRR count the verdicts a SignatureBank gives at this threshold: a score within
    # float32 rounding above it is accepted (siamkit.decision.accepts, the one rule)
    if len(genuine) == 0 or len(forged) == 0:  # no EER or FAR; FRR needs only genuines
        nan = float("nan")
        frr = float(np.mean(~accepts(genuine, threshold))) if len(genuine) else nan
        return ErrorRates(nan, nan, nan, frr, len(genuine), len(forged))
    op = eer(genuine, forged)
    return ErrorRates(
        eer=float(op.value),
        eer_threshold=float(op.threshold),
        far=float(np.mean(accepts(forged, threshold))),
        frr=float(np.mean(~accepts(genuine, threshold))),
        n_genuine=len(genuine),
        n_forged=len(forged),
    )


def _eer_threshold(scores: dict[str, np.ndarray]) -> tuple[float, str]:
    """The threshold of :func:`evaluate_signatures` without one, and where it came from: the
    skilled EER's, or the random EER's when there are no skilled forgeries to score.

    Raises:
        ValueError: there is no forgery of either kind (no skilled forgeries and one writer).
    """
    for kind in ("skilled", "random"):
        if len(scores[kind]):
            threshold = float(eer(scores["genuine"], scores[kind]).threshold)
            return threshold, f"{kind} EER of these scores"
    raise ValueError(
        "there is no forgery to choose a threshold against: one writer evaluated (no other "
        "writer's signature is a random forgery), and no skilled forgeries of it; give a "
        "threshold, or signatures with skilled forgeries or of a second writer."
    )


def evaluate_signatures(
    embeddings: Tensor,
    writer: Tensor,
    forged: Tensor,
    n_references: int = 5,
    reduce: str = "mean",
    distance: str | Distance = "euclidean",
    threshold: float | None = None,
    seed: int = 0,
    threshold_source: str = "given",
) -> SignatureEvaluation:
    """FAR / FRR / EER against skilled and random forgeries with ``n_references`` references.

    Args:
        embeddings: ``(N, D)`` embeddings of every signature of the test writers.
        writer: ``(N,)`` writer ids.
        forged: ``(N,)`` bool, True for skilled forgeries.
        n_references: genuine references enrolled per writer.
        reduce: ``"mean"``, ``"min"`` or ``"max"`` distance to the references.
        distance: the model's distance.
        threshold: accept when score <= threshold, within float32 rounding as a
            :class:`~siamkit.applications.signatures.SignatureBank` decides
            (:func:`siamkit.decision.accepts`); ``None`` uses the skilled EER threshold
            (the random one where there are no skilled forgeries).
        seed: which genuines become references.
        threshold_source: where ``threshold`` came from, as reported: ``"given"`` (the user's)
            or ``"model"`` (the one the model was saved with).

    Raises:
        ValueError: no writer has more than ``n_references`` genuine signatures, or without a
            threshold, there is no forgery of either kind to choose one against.
    """
    s = signature_scores(embeddings, writer, forged, n_references, reduce, distance, seed)
    if len(s["genuine"]) == 0:
        raise ValueError(
            f"no writer has more than {counted(n_references, 'genuine signature')} to evaluate "
            f"with {counted(n_references, 'reference')} (one must be left to question); use fewer "
            "references (--references) or writers with more genuine signatures."
        )
    source = threshold_source
    if threshold is None:
        threshold, source = _eer_threshold(s)
    n_writers = len(np.unique(writer.cpu().numpy()))
    return SignatureEvaluation(
        skilled=_rates(s["genuine"], s["skilled"], threshold),
        random=_rates(s["genuine"], s["random"], threshold),
        threshold=float(threshold),
        threshold_source=source,
        n_references=n_references,
        reduce=reduce,
        n_writers=n_writers,
        n_writers_evaluated=len(evaluable_writers(writer, forged, n_references)),
    )
