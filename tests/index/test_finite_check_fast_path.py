"""``finite_float32`` lets finite embeddings through on two reductions (the smallest and the
largest value) and reads the rows block by block only to word a refusal
(``benchmarks/bench_finite.py``): it refuses exactly the rows a naive per-row check of the
values as given finds NaN, infinite or past float32's range, wherever in the array they are."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.index.base import UnrankableEmbeddingsError, finite_float32


def _naive_bad_rows(x: np.ndarray) -> list[int]:
    limit = float(np.finfo(np.float32).max)
    return [i for i, row in enumerate(x.tolist()) if any(not abs(v) <= limit for v in row)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_the_rows_refused_are_the_naive_checks_wherever_the_bad_value_is(dtype):
    rng = np.random.default_rng(0)
    values = [np.nan, np.inf, -np.inf] + ([1e39, -1e39] if dtype == "float64" else [])
    for trial in range(60):
        x = rng.standard_normal((int(rng.integers(1, 40)), 7)).astype(dtype)
        if trial % 2:
            x = np.repeat(x, 2, axis=1)[:, ::2]  # not contiguous
        for _ in range(trial % 4):  # 0 to 3 bad values, first and last places included
            i, j = (rng.integers(0, len(x)), rng.integers(0, x.shape[1]))
            if trial % 5 == 0:
                i, j = (0, 0) if rng.random() < 0.5 else (len(x) - 1, x.shape[1] - 1)
            x[i, j] = values[int(rng.integers(0, len(values)))]
        want = _naive_bad_rows(x)
        if not want:
            out = finite_float32(x)
            assert out.dtype == np.float32 and out.flags.c_contiguous
            assert np.array_equal(out, x.astype(np.float32))
            continue
        with pytest.raises(UnrankableEmbeddingsError) as refused:
            finite_float32(x)
        assert str(refused.value).startswith(f"{len(want)} of the {len(x)} embeddings"), trial
        rows = ", ".join(str(i) for i in want[:5])
        assert f"(rows {rows}" in str(refused.value), (trial, want, str(refused.value))


def test_an_empty_array_passes():
    assert finite_float32(np.zeros((0, 4), dtype=np.float64)).shape == (0, 4)
