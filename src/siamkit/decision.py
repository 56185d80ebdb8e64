"""The one rule by which a distance (or a similarity) is held to a threshold.

A module of the lowest layer, so that evaluation (a far fit's threshold) and the index decide by
the same rule; ``siamkit.index.decision`` re-exports it. Every "same" verdict of siamkit goes
through it: :func:`siamkit.index.verify_pair` (the service's
/verify), a gallery's verify and identify and its search's ``accepted``, and text similarity,
dedup and plagiarism. A pair is the same when its distance is at most the threshold *within
float32 rounding*, :data:`ROUNDING`: embeddings and their products are float32, so a text and
its own copy lie a few float32 steps from a cosine of 1 (distance 0) on either side, and a
strict comparison at a threshold of 1.0 ("identical texts only") called about one copy in seven
different. One rule, so that one pair gets one verdict whichever command scores it, decided in
float64 whatever the scores' dtype (:func:`_compare`), as ``siamkit verify`` compares floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ROUNDING", "accepts", "reaches"]

#: How far beyond a threshold a float32 score may lie and still meet it. The unit vectors of
#: real all-MiniLM-L6-v2 texts have self dot products from 8.3e-7 under 1 to 1.07e-6 over it
#: (2,744 Lee passages), and one of 10,000 generated texts lay 1.013e-6 under, so 1e-6 (the
#: first choice) left no float32 step to spare; 1e-5 leaves ten times the largest seen, and is
#: far below any difference between two thresholds one would choose.
ROUNDING = 1e-5


def _float64(x: Any) -> Any:
    """``x`` as float64 for a verdict: a tensor as a float64 tensor (on the CPU where its device
    has no float64), a NumPy array or scalar as float64, a Python number as it is.

    >>> _float64(np.float32([0.5])).dtype, _float64(0.5)
    (dtype('float64'), 0.5)
    """
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, (np.ndarray, np.generic)) or not hasattr(x, "double"):
        return np.asarray(x, dtype=np.float64)
    if x.device.type == "mps":  # no float64 there
        x = x.cpu()
    return x.double()  # a torch tensor, without importing torch here


def _float32_dtype(x: Any) -> bool:
    """Whether ``x`` is a float32 NumPy array or scalar, or a float32 torch tensor."""
    if isinstance(x, (np.ndarray, np.generic)):
        return bool(x.dtype == np.float32)
    return str(getattr(x, "dtype", "")) == "torch.float32"


def _compare(x: Any, bound: Any, at_most: bool) -> Any:
    """``x <= bound`` (``at_most``) or ``x >= bound``, decided in float64 whatever ``x``'s dtype.

    A float32 array compared with a Python float is compared in float32 (NumPy 2, NEP 50; torch
    alike), so the bound ``threshold + ROUNDING`` was rounded to float32 there and, where that
    rounded up, a distance equal to it was counted accepted (metrics, pairs, open-set DIR,
    ``predict``, the ONNX runtime) while ``siamkit verify``, comparing Python floats, said
    different. A float32 ``x`` with a number for a bound is compared in place with the float32
    next to the bound on its side (``x <= b`` in float64 exactly when ``x <= floor32(b)``), so
    a (B, N) block of scores needs no float64 copy; anything else is cast (:func:`_float64`).
    """
    bound = _float64(bound)
    if isinstance(bound, np.ndarray) and bound.ndim == 0:  # a NumPy scalar threshold
        bound = float(bound)
    if isinstance(bound, (int, float)) and _float32_dtype(x):
        with np.errstate(over="ignore"):  # past float32's range: inf, stepped back below
            b32 = np.float32(bound)
        if (float(b32) > bound) if at_most else (float(b32) < bound):
            b32 = np.nextafter(b32, np.float32(-np.inf if at_most else np.inf))
        b = b32 if isinstance(x, (np.ndarray, np.generic)) else float(b32)
        return x <= b if at_most else x >= b
    x = _float64(x)
    return x <= bound if at_most else x >= bound


def accepts(distance: Any, threshold: Any) -> Any:
    """``distance <= threshold`` within float32 rounding (:data:`ROUNDING`), decided in float64
    whatever the distance's dtype (:func:`_compare`): a bool for numbers, an array (tensor) of
    bools for arrays (tensors).

    >>> accepts(0.3000004, 0.3), accepts(0.31, 0.3)
    (True, False)
    """
    return _compare(distance, _float64(threshold) + ROUNDING, at_most=True)


def reaches(similarity: Any, min_similarity: Any) -> Any:
    """``similarity >= min_similarity`` within float32 rounding: :func:`accepts` for a
    similarity (``1 - distance``), with the same :data:`ROUNDING`.

    >>> reaches(0.9999995, 1.0), reaches(0.99, 1.0)
    (True, False)
    """
    return _compare(similarity, _float64(min_similarity) - ROUNDING, at_most=False)
