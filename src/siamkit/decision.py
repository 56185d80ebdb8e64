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
The room grows with the threshold where a float32 step does (:func:`room`): 1e-5 up to
``|t|`` of about 5.24, 16 float32 steps' worth of ``|t|`` beyond.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ROOM_SCALE", "ROUNDING", "accepts", "reaches", "room"]

#: How far beyond a threshold a float32 score may lie and still meet it. The unit vectors of
#: real all-MiniLM-L6-v2 texts have self dot products from 8.3e-7 under 1 to 1.07e-6 over it
#: (2,744 Lee passages), and one of 10,000 generated texts lay 1.013e-6 under, so 1e-6 (the
#: first choice) left no float32 step to spare; 1e-5 leaves ten times the largest seen, and is
#: far below any difference between two thresholds one would choose.
ROUNDING = 1e-5

#: The room's share of ``|threshold|`` where that passes :data:`ROUNDING` (``|t|`` over
#: ``ROUNDING / ROOM_SCALE``, about 5.24): ``16 * 2**-23``, between 16 and 32 float32 steps of
#: ``t``. A float32 step is ``2**-23`` to ``2**-24`` of a number, so an absolute 1e-5 was under
#: a step from 128 on (and under 16 from 5.24): two readers computing a distance of 300 a step
#: apart (siamkit verify's float32, the ONNX runtime's float64) parted at a far fit's threshold
#: kept 1e-5 under the impostor it rejects. A power of two, so ``ROOM_SCALE * |t|`` is exact.
ROOM_SCALE = 16 * 2.0**-23


def room(threshold: Any) -> Any:
    """How far beyond ``threshold`` a score may lie and still meet it: ``max(ROUNDING,
    ROOM_SCALE * |threshold|)``, :data:`ROUNDING` itself (bit for bit) for ``|threshold|`` up to
    ``ROUNDING / ROOM_SCALE`` (5.24288), a fixed share of it beyond, where a float32 step of the
    score passes ``ROUNDING / 16``. A number for a number, an array (tensor) for an array
    (tensor), in the threshold's own dtype: the one definition every verdict and fit uses.
    An infinite threshold keeps :data:`ROUNDING` (``-inf`` accepts nothing, as before).

    >>> room(0.3), room(-5.0), room(1000.0)
    (1e-05, 1e-05, 0.0019073486328125)
    """
    if isinstance(threshold, (bool, int, float)):
        a = abs(float(threshold))
        return ROUNDING if a == np.inf else max(ROUNDING, ROOM_SCALE * a)
    if isinstance(threshold, (np.ndarray, np.generic)):
        t = np.asarray(threshold)
        dtype = t.dtype if t.dtype.kind == "f" else np.dtype(np.float64)
        a = np.abs(t.astype(dtype))
        out = np.maximum(dtype.type(ROUNDING), dtype.type(ROOM_SCALE) * a)
        out = np.where(np.isinf(a), dtype.type(ROUNDING), out)  # -inf + inf would be NaN
        return out if isinstance(threshold, np.ndarray) else out[()]
    out = (threshold.abs() * ROOM_SCALE).clamp_min(ROUNDING)  # a torch tensor
    return out.masked_fill(threshold.isinf(), ROUNDING)


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
    alike), so the bound ``threshold + room`` was rounded to float32 there and, where that
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
    """``distance <= threshold`` within float32 rounding (``threshold + room(threshold)``,
    :func:`room`), decided in float64 whatever the distance's dtype (:func:`_compare`): a bool
    for numbers, an array (tensor) of bools for arrays (tensors).

    >>> accepts(0.3000004, 0.3), accepts(0.31, 0.3)
    (True, False)
    """
    t = _float64(threshold)
    return _compare(distance, t + room(t), at_most=True)


def reaches(similarity: Any, min_similarity: Any) -> Any:
    """``similarity >= min_similarity`` within float32 rounding: :func:`accepts` for a
    similarity (``1 - distance``), with the same :func:`room` (``min_similarity - room``).

    >>> reaches(0.9999995, 1.0), reaches(0.99, 1.0)
    (True, False)
    """
    m = _float64(min_similarity)
    return _compare(similarity, m - room(m), at_most=False)
