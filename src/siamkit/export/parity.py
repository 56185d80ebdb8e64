"""What :func:`~siamkit.export.onnx.export_onnx` and
:func:`~siamkit.applications.tracking.onnx.export_tracker_onnx` share: the tolerance and the
measure of an ONNX graph's difference to the torch module it was exported from, the warning of
an export left unchecked, and how an exporter's failure is named. Imports no torch (the tracker's module is read without it).

Example:
    >>> max_abs_diff(np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    0.5
    >>> exporter_failure_reason(ValueError("bad op\\nstack ..."))
    'ValueError: bad op'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from siamkit.clauses import in_number, listed
from siamkit.export.runtime import import_onnxruntime

PARITY_ATOL = 1e-4
"""The largest difference to the torch model an export may have: ``export_onnx``'s embeddings,
and ``export_tracker_onnx``'s backbone features relative to their largest magnitude where that
is over 1 (they are not normalised)."""


class ParityNotCheckedWarning(UserWarning):
    """An export written without comparing it to the torch model: onnxruntime is not installed."""


def warn_unchecked(
    paths: Sequence[str | os.PathLike[str]], against: str, why: str = "", stacklevel: int = 2
) -> None:
    """Warn (:class:`ParityNotCheckedWarning`) that the graphs at ``paths`` were written without
    their check against ``against`` (``"the torch model"``) because onnxruntime is not
    installed (``why`` adds to that reason), and how to check them: an export whose numbers
    differ would otherwise pass unnoticed. ``stacklevel`` as for :func:`warnings.warn` from
    the caller."""
    verb = in_number(len(paths), "was", "were")
    warnings.warn(
        f"{listed([str(p) for p in paths])} {verb} not checked against {against} "
        f"(onnxruntime is not installed{why}): pip install 'siamkit[onnx]' (or onnxruntime) "
        "and export again to check it",
        ParityNotCheckedWarning,
        stacklevel=stacklevel + 1,
    )


def parity_session(path: str | os.PathLike[str]) -> Any | None:
    """A quiet CPU ONNX Runtime session of the graph at ``path``, to check it against torch;
    ``None`` where onnxruntime is not installed (the export is then unchecked)."""
    try:
        ort = import_onnxruntime()
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def max_abs_diff(got: np.ndarray, want: np.ndarray) -> float:
    """The largest ``|got - want|`` of ONNX's output ``got`` and torch's ``want``; ``inf`` where
    ``got`` has another shape or a NaN or infinite value."""
    if got.shape != want.shape or not np.isfinite(got).all():
        return float("inf")
    return float(np.abs(got - want).max())


def exporter_failure_reason(err: BaseException, reason: str | None = None) -> str:
    """``TypeName: reason`` for a sentence naming why ``torch.onnx.export`` failed: ``reason``
    by default the first line of its message (before a ``[Caused by ...]``), just the type's
    name where the message is empty."""
    if reason is None:
        text = str(err).strip()
        reason = text.splitlines()[0].split(" [Caused by")[0].strip() if text else ""
    return f"{type(err).__name__}: {reason}" if reason else type(err).__name__
