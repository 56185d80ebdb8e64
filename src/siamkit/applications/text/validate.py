"""Validation metrics of a text twin on held-out examples (and the threshold for labelled pairs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.pairs import TextExamples
from siamkit.evaluation.roc import eer, roc_auc


def _embed(model: TextSiameseNetwork, texts: tuple[str, ...], role: str) -> np.ndarray:
    with torch.inference_mode():
        return model.embed(list(texts), role=role).float().cpu().numpy()


def validate(
    model: TextSiameseNetwork, ex: TextExamples, graded: bool | None = None
) -> dict[str, Any]:
    """Pairs with scores (``graded``): Pearson/Spearman of cosine vs score; labelled pairs: ROC
    AUC, EER and its distance threshold; triplets / anchor-positive: how often the positive is
    nearest. ``graded=None``: graded unless every target is 0 or 1 (a run decides it on all its
    data: a validation split may hold only the ends of a score range)."""
    model.eval()
    za = _embed(model, ex.texts[0], "query")
    zb = _embed(model, ex.texts[1], "document")
    if ex.format == "pairs" and ex.targets is not None:
        cos = (za * zb).sum(1)
        y = np.asarray(ex.targets)
        if graded is None:
            graded = not set(np.unique(y)) <= {0.0, 1.0}
        if not graded:  # 0/1 labels (scores at the ends of their range are not labels)
            d = 1 - cos
            point = eer(d[y == 1], d[y == 0])
            return {
                "verification.roc_auc": roc_auc(d[y == 1], d[y == 0]),
                "verification.eer": float(point.value),
                "verification.threshold": float(point.threshold),
            }
        return {
            "similarity.pearson": float(pearsonr(cos, y)[0]),
            "similarity.spearman": float(spearmanr(cos, y)[0]),
        }
    sims = za @ zb.T  # (N, N): does each anchor rank its own positive first?
    out = {"retrieval.precision_at_1": float((sims.argmax(1) == np.arange(len(za))).mean())}
    if ex.format == "triplets":
        zn = _embed(model, ex.texts[2], "document")
        out["triplet.accuracy"] = float(((za * zb).sum(1) > (za * zn).sum(1)).mean())
    return out


def document_threshold(model: TextSiameseNetwork, ex: TextExamples) -> float:
    """A half-twin's equal-error distance threshold on 0/1 labelled pairs ``ex`` with both sides
    embedded by its document tower: the threshold for two documents, as ``siamkit text dedup``
    compares them (:func:`validate`'s ``verification.threshold`` is for a query against a
    document). ``ValueError`` for a model of one tower (its threshold already is that one) or
    pairs without both labels."""
    if model.share_weights:
        raise ValueError(
            "a model of one tower embeds queries and documents alike: its calibrated threshold "
            "is already the one for two documents"
        )
    y = np.asarray(ex.targets if ex.format == "pairs" and ex.targets is not None else [])
    if set(np.unique(y)) != {0.0, 1.0}:
        raise ValueError("a document-document threshold is calibrated on pairs labelled 0 and 1")
    model.eval()
    za = _embed(model, ex.texts[0], "document")
    zb = _embed(model, ex.texts[1], "document")
    d = 1 - (za * zb).sum(1)
    return float(eer(d[y == 1], d[y == 0]).threshold)
