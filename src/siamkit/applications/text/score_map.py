"""A monotone map from a text model's cosine similarity to the scale of the graded scores it was
fine-tuned on (isotonic regression on the training pairs, linear between its knots).

Cosine is not linear in human similarity ratings (most pairs of a corpus are unrelated and bunch
at a low score while their cosines spread), so a linear measure such as Pearson's r of cosine vs
score understates a model that orders the pairs well. The map changes no order (Spearman is the
same before and after), only the scale: ``siamkit text similarity`` reports it as ``score``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _pava(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the non-decreasing sequence nearest to ``y`` in weighted L2."""
    vals: list[float] = []
    wts: list[float] = []
    counts: list[int] = []
    for v, wt in zip(y.tolist(), w.tolist()):
        vals.append(v)
        wts.append(wt)
        counts.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:  # merge the violating blocks
            wsum = wts[-2] + wts[-1]
            merged = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / wsum
            n = counts[-2] + counts[-1]
            del vals[-1], wts[-1], counts[-1]
            vals[-1], wts[-1], counts[-1] = merged, wsum, n
    return np.repeat(np.array(vals), counts)


@dataclass(frozen=True)
class ScoreMap:
    """Knots ``(x, y)``, ``x`` increasing, ``y`` non-decreasing; ``map(cos)`` interpolates between
    them and clips outside (as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``).

    >>> m = ScoreMap.fit([0.1, 0.5, 0.9], [0.0, 0.2, 1.0])
    >>> round(float(m(0.7)), 6)
    0.6
    """

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y) or len(self.x) == 0:
            raise ValueError(
                f"a score map needs as many y knots as x knots (at least one), got "
                f"{len(self.x)} and {len(self.y)}"
            )
        if not all(math.isfinite(v) for v in (*self.x, *self.y)):
            raise ValueError("a score map's knots must be finite numbers")
        if any(b <= a for a, b in zip(self.x, self.x[1:])):
            raise ValueError("a score map's x knots must be strictly increasing")
        if any(b < a for a, b in zip(self.y, self.y[1:])):
            raise ValueError("a score map's y knots must be non-decreasing (the map is monotone)")

    @classmethod
    def fit(
        cls, cosines: Sequence[float] | np.ndarray, scores: Sequence[float] | np.ndarray
    ) -> ScoreMap:
        """Isotonic (non-decreasing) least-squares fit of ``scores`` on ``cosines``; pairs with
        equal cosines are pooled first. Fit it on TRAINING pairs only."""
        x = np.asarray(cosines, dtype=np.float64).ravel()
        s = np.asarray(scores, dtype=np.float64).ravel()
        if len(x) != len(s) or len(x) < 2:
            raise ValueError(
                f"a score map is fitted on at least 2 (cosine, score) pairs of equal count, got "
                f"{len(x)} cosines and {len(s)} scores"
            )
        if not (np.isfinite(x).all() and np.isfinite(s).all()):
            raise ValueError("a score map is fitted on finite cosines and scores")
        ux, inv = np.unique(x, return_inverse=True)
        w = np.bincount(inv).astype(np.float64)
        ym = np.bincount(inv, weights=s) / w
        fitted = _pava(ym, w)
        return cls(tuple(float(v) for v in ux), tuple(float(v) for v in fitted))

    def __call__(self, cosines: float | Sequence[float] | np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(cosines, dtype=np.float64), self.x, self.y)

    def rescaled(self, low: float, high: float) -> ScoreMap:
        """The same map with its output ``y`` in [0, 1] taken to ``[low, high]`` (the scores' units)."""
        return ScoreMap(self.x, tuple(low + v * (high - low) for v in self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, doc: Any) -> ScoreMap:
        """Read :meth:`to_dict`'s form, or say in one sentence what is wrong with it."""
        if not isinstance(doc, dict) or doc.get("kind") != "isotonic":
            raise ValueError("a score map is a mapping with kind 'isotonic' and lists x and y")
        x, y = doc.get("x"), doc.get("y")
        if not isinstance(x, list) or not isinstance(y, list):
            raise ValueError("a score map's x and y are lists of numbers")
        try:
            return cls(tuple(float(v) for v in x), tuple(float(v) for v in y))
        except (TypeError, ValueError) as err:
            raise ValueError(f"the score map cannot be read: {err}") from None


def mapped_score(model: Any, distance: float) -> float | None:
    """``distance`` (1 - cosine) on the scale of the graded scores ``model`` was fine-tuned on,
    through its score map; None when it has none. The PyTorch model and its ONNX runtime
    (:class:`~siamkit.applications.text.onnx_model.TextOnnxModel`) both carry ``score_map``.

    >>> mapped_score(model, 0.2)  # doctest: +SKIP
    3.9
    """
    score_map = getattr(model, "score_map", None)
    return None if score_map is None else float(score_map(1.0 - distance))
