"""The rows a gallery cannot rank, and the refusal a plain loop expects for them (the gallery's,
its store's and the service's tests share them)."""

from __future__ import annotations

import numpy as np

DIM = 16  # the service tests' make_model


def naive_refusal(rows: np.ndarray, end: str) -> str:
    """The sentence, from a plain loop over the rows as given (float64, no cast)."""
    bad, large = [], []
    for i, row in enumerate(rows.tolist()):
        finite = all(v == v and abs(v) != float("inf") for v in row)
        fits = finite and all(abs(v) <= float(np.finfo(np.float32).max) for v in row)
        if not fits:
            bad.append(i)
            large.append(finite)
    kind = (
        "values too large for float32"
        if all(large)
        else "NaN or infinite values"
        if not any(large)
        else "NaN or infinite values, or values too large for float32"
    )
    shown = ", ".join(str(i) for i in bad)
    return (
        f"{len(bad)} of the {len(rows)} embeddings hold {kind} (rows {shown}), which no search "
        f"can rank{end}"
    )


CASES = {
    "too large": [[0.5] * DIM, [1e39] + [0.0] * (DIM - 1)],
    "nan": [[np.nan] + [1.0] * (DIM - 1), [1.0] * DIM, [0.0] * (DIM - 1) + [np.inf]],
    "both": [[-np.inf] + [1.0] * (DIM - 1), [1.0] * (DIM - 1) + [-1e39], [1.0] * DIM],
}
