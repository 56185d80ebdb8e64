"""LFW's ``pairs.txt`` and its 10-fold verification protocol.

``pairs.txt`` starts with ``<folds> <pairs>`` (or one number for the single-fold
``pairsDevTrain.txt`` / ``pairsDevTest.txt``), then per fold ``<pairs>`` matched lines
``name  i  j`` followed by ``<pairs>`` mismatched lines ``name1  i  name2  j``; an image is
``<root>/<name>/<name>_<i:04d>.jpg``. Accuracy: for each fold, the threshold that is best on the
other folds is applied to it (the "unrestricted, labelled outside data" protocol's evaluation).

Example:
    >>> pairs = read_lfw_pairs("lfw/pairs.txt", "lfw/")  # doctest: +SKIP
    >>> kfold_accuracy(distances, pairs.same, pairs.fold).mean  # doctest: +SKIP
    0.9938
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamkit.atomic import read_utf8
from siamkit.clauses import counted
from siamkit.decision import accepts, room


@dataclass(frozen=True)
class LfwPairs:
    """Pairs of image paths with ``same`` ``(P,)`` bool and ``fold`` ``(P,)`` int."""

    a: list[Path]
    b: list[Path]
    same: np.ndarray
    fold: np.ndarray


@dataclass(frozen=True)
class KFoldAccuracy:
    """Per-fold accuracy and the threshold chosen on the other folds; ``mean`` and ``std``."""

    fold_accuracy: np.ndarray
    fold_threshold: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.fold_accuracy.mean())

    @property
    def std(self) -> float:
        return float(self.fold_accuracy.std())


def _image(root: Path, name: str, number: str, where: str) -> Path:
    try:
        n = int(number)
    except ValueError:
        raise ValueError(f"{where}: image number {number!r} is not an integer") from None
    return root / name / f"{name}_{n:04d}.jpg"


def _header(first: str, where: str) -> tuple[int, int]:
    try:
        nums = [int(v) for v in first.split()]
    except ValueError:
        nums = []
    if len(nums) == 2 and min(nums) > 0:
        return nums[0], nums[1]
    if len(nums) == 1 and nums[0] > 0:
        return 1, nums[0]
    raise ValueError(
        f"{where}: the first line must be '<folds> <pairs>' or '<pairs>', got {first!r}"
    )


def read_lfw_pairs(pairs_txt: str | os.PathLike[str], root: str | os.PathLike[str]) -> LfwPairs:
    """Parse ``pairs_txt``; image paths under ``root``. Missing images are reported at use."""
    path, base = Path(pairs_txt), Path(root)
    lines = [ln.split() for ln in read_utf8(path).splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path} is empty")
    folds, per = _header(" ".join(lines[0]), f"{path}:1")
    body = lines[1:]
    if len(body) != folds * 2 * per:
        raise ValueError(
            f"{path}: the header announces {counted(folds, 'fold')} of {per:,} matched + {per:,} "
            f"mismatched pairs ({folds * 2 * per:,} lines), the file has {len(body):,}"
        )
    a, b, same, fold = [], [], [], []
    for i, parts in enumerate(body):
        where = f"{path}:{i + 2}"
        k, is_same = divmod(i, 2 * per)[0], (i % (2 * per)) < per
        if is_same and len(parts) == 3:
            pa, pb = (
                _image(base, parts[0], parts[1], where),
                _image(base, parts[0], parts[2], where),
            )
        elif not is_same and len(parts) == 4:
            pa, pb = (
                _image(base, parts[0], parts[1], where),
                _image(base, parts[2], parts[3], where),
            )
        else:
            want = "'name i j' (matched)" if is_same else "'name1 i name2 j' (mismatched)"
            raise ValueError(f"{where}: expected {want}, got {' '.join(parts)!r}")
        a.append(pa)
        b.append(pb)
        same.append(is_same)
        fold.append(k)
    return LfwPairs(a, b, np.asarray(same, dtype=bool), np.asarray(fold, dtype=np.int64))


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold ``t`` maximising the accuracy of ``distance <= t`` as a model decides it,
    within float32 rounding (:func:`siamkit.decision.accepts`: ``distance <= t + room(t)``):
    the room (:func:`~siamkit.decision.room`) under the smallest best of the midpoints between
    sorted distinct distances (and just outside both ends), so that a model given ``t`` splits the
    pairs at that midpoint."""
    d = np.unique(distances)
    bounds = np.concatenate([[d[0] - 1.0], (d[:-1] + d[1:]) / 2, [d[-1] + 1.0]])
    order = np.argsort(distances, kind="stable")
    ds, ss = distances[order], same[order].astype(np.int64)
    # accepted = d <= bound: correct = positives accepted + negatives rejected
    accepted = np.searchsorted(ds, bounds, side="right")  # (T,)
    pos_acc = np.concatenate([[0], np.cumsum(ss)])[accepted]
    neg_acc = accepted - pos_acc
    correct = pos_acc + (len(ss) - ss.sum() - neg_acc)
    mid = float(bounds[int(np.argmax(correct))])
    return mid - room(mid)


def kfold_accuracy(distances: np.ndarray, same: np.ndarray, fold: np.ndarray) -> KFoldAccuracy:
    """Verification accuracy per fold with the threshold chosen on the other folds.

    Args:
        distances: ``(P,)`` pair distances (smaller = more similar).
        same: ``(P,)`` bool, the pair shows one person.
        fold: ``(P,)`` fold index of each pair (at least two folds).
    """
    distances = np.asarray(distances, dtype=np.float64)
    same, fold = np.asarray(same, dtype=bool), np.asarray(fold)
    if not (distances.shape == same.shape == fold.shape) or distances.ndim != 1:
        raise ValueError("distances, same and fold must be 1-D arrays of equal length")
    if not np.isfinite(distances).all():
        raise ValueError("distances contain NaN or infinite values")
    folds = np.unique(fold)
    if len(folds) < 2:
        raise ValueError("k-fold accuracy needs at least two folds")
    acc, thr = [], []
    for k in folds:
        test = fold == k
        t = best_threshold(distances[~test], same[~test])
        acc.append(float((accepts(distances[test], t) == same[test]).mean()))  # as decided
        thr.append(t)
    return KFoldAccuracy(np.asarray(acc), np.asarray(thr))
