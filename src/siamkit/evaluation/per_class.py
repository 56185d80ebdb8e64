"""Per-class metrics and confusion matrices of two classifiers on the embeddings.

* **k-NN** (leave-one-out): each item takes the majority class of its ``k`` nearest other items
  (ties go to the class of the nearest of the tied classes).
* **Nearest prototype**: ``draws`` times, ``k_shot`` seeded support items per class make the
  class prototypes (their mean embedding); every other item takes the class of the nearest one.
  Counts are summed over the draws.

Rows of a confusion matrix are the true classes, columns the predicted ones (scikit-learn's
convention), so per-class recall is ``diag / row sum`` and precision ``diag / column sum``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    distance_rows,
    encode_labels,
    resolve_distance,
)


@dataclass(frozen=True)
class ClassifierReport:
    """One classifier's ``(C, C)`` confusion matrix and its per-class ``(C,)`` scores."""

    name: str
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.confusion.sum(), 1))

    def to_dict(self, classes: list[Any]) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "confusion": self.confusion.tolist(),
            "per_class": {
                str(c): {"precision": float(p), "recall": float(r), "f1": float(f)}
                for c, p, r, f in zip(classes, self.precision, self.recall, self.f1)
            },
        }


@dataclass(frozen=True)
class PerClassReport:
    """k-NN and nearest-prototype results over the same classes (``classes``, sorted labels)."""

    classes: list[Any]
    knn: ClassifierReport
    prototype: ClassifierReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": [str(c) for c in self.classes],
            "knn": self.knn.to_dict(self.classes),
            "prototype": self.prototype.to_dict(self.classes),
        }


def scores_from_confusion(name: str, confusion: np.ndarray) -> ClassifierReport:
    """Per-class precision, recall and F1 of a confusion matrix (0 where undefined)."""
    cm = np.asarray(confusion, dtype=np.int64)
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return ClassifierReport(name, cm, precision, recall, f1)


@torch.no_grad()
def knn_predictions(z: torch.Tensor, codes: torch.Tensor, distance: Any, k: int) -> np.ndarray:
    """Leave-one-out k-NN class codes ``(N,)``."""
    n = z.shape[0]
    k = min(k, n - 1)
    n_classes = int(codes.max()) + 1
    out = np.empty(n, dtype=np.int64)
    for s, block in distance_rows(z, distance, desc="k-NN"):
        rows = block.shape[0]
        block = block.float()
        block[torch.arange(rows), torch.arange(s, s + rows)] = torch.inf
        nn = block.topk(k, dim=1, largest=False, sorted=True).indices  # (rows, k)
        cls = codes[nn]  # (rows, k)
        votes = torch.zeros(rows, n_classes, dtype=torch.long).scatter_add_(
            1, cls, torch.ones_like(cls)
        )
        first = torch.full((rows, n_classes), k, dtype=torch.long).scatter_reduce_(
            1, cls, torch.arange(k).expand(rows, k), reduce="amin"
        )  # the rank at which each class first appears: ties go to the nearest
        out[s : s + rows] = (votes * (k + 1) - first).argmax(dim=1).numpy()
    return out


@torch.no_grad()
def prototype_confusion(
    z: torch.Tensor, codes: torch.Tensor, distance: Any, k_shot: int, draws: int, seed: int
) -> np.ndarray:
    """Nearest-prototype confusion counts summed over ``draws`` seeded support sets."""
    n_classes = int(codes.max()) + 1
    members = [torch.nonzero(codes == c).flatten() for c in range(n_classes)]
    if min(len(m) for m in members) <= k_shot:
        raise ValueError(
            f"nearest-prototype needs more than k_shot = {k_shot} items in every class"
        )
    gen = torch.Generator().manual_seed(seed)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    for _ in range(draws):
        support = [m[torch.randperm(len(m), generator=gen)[:k_shot]] for m in members]
        protos = torch.stack([z[s].mean(dim=0) for s in support])  # (C, D)
        query = torch.ones(len(codes), dtype=torch.bool)
        query[torch.cat(support)] = False
        pred = distance.matrix(z[query], protos).argmin(dim=1).cpu().numpy()
        np.add.at(cm, (codes[query].numpy(), pred), 1)
    return cm


def per_class_report(
    z: ArrayLike,
    labels: ArrayLike,
    distance: DistanceLike = "euclidean",
    k: int = 5,
    k_shot: int = 5,
    draws: int = 10,
    seed: int = 0,
) -> PerClassReport:
    """Confusion matrices and per-class precision / recall / F1 of k-NN and nearest prototype.

    Example:
        >>> z = torch.cat([torch.randn(20, 4) + 5 * c for c in range(3)])
        >>> r = per_class_report(z, [c for c in range(3) for _ in range(20)])
        >>> r.knn.accuracy, int(r.prototype.confusion.sum())
        (1.0, 450)
    """
    zt = as_embeddings(z)
    codes_t, classes = encode_labels(labels, zt.shape[0])
    if classes.size < 2:
        raise ValueError("per-class metrics need at least two classes")
    dist = resolve_distance(distance)
    knn = knn_predictions(zt, codes_t, dist, k)
    n_classes = classes.size
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (codes_t.numpy(), knn), 1)
    proto = prototype_confusion(zt, codes_t, dist, k_shot, draws, seed)
    return PerClassReport(
        classes=classes.tolist(),
        knn=scores_from_confusion(f"{k}-NN (leave-one-out)", cm),
        prototype=scores_from_confusion(f"nearest prototype ({k_shot}-shot)", proto),
    )
