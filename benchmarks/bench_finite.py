"""The finiteness check every search and add runs (``siamkit.index.base.finite_float32``): its
success path with three checks side by side, and its refusal of a broken model's embeddings.

Success path (searches of 1, 16 and 256 queries, adds of 10,000 and 200,000 embeddings, all of
384 float32 values, C-contiguous and not: every other column of a 768-wide array), each the
cast to a C-contiguous float32 array followed by one of

* ``block loop``: ``_finite_rows(out).all()``, 65,536 values at a time in a Python loop (the
  check up to this benchmark, kept to word a refusal without an N x D boolean array);
* ``isfinite``: one ``np.isfinite(out).all()``, whose N x D boolean array is the memory the loop
  was written to avoid;
* ``min/max``: ``math.isfinite(out.min()) and math.isfinite(out.max())``, two reductions that
  allocate nothing (NaN propagates through both; an infinite value, or one the cast overflowed,
  is the smallest or the largest);

and ``finite_float32`` itself as shipped. Time is the best of several runs, the checks taking
turns (the machine is shared); peak is tracemalloc's peak over what was allocated before the
call (numpy reports its arrays there), so the cast's copy of a non-contiguous input is in it.

Refusal (200,000 x 384: every value NaN, float32 and float64, and one NaN in the last row):
time, tracemalloc's peak, and the size of ``pickle.dumps`` of the exception, which holds its
sentence only (a process pool ships it whole).

    nice -n 10 .venv/bin/python benchmarks/bench_finite.py
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import pickle
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from siamkit.index.base import UnrankableEmbeddingsError, _finite_rows, finite_float32

DIM = 384


def _cast(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(x, dtype=np.float32)


def block_loop(x: np.ndarray) -> bool:
    return bool(_finite_rows(_cast(x)).all())


def one_isfinite(x: np.ndarray) -> bool:
    return bool(np.isfinite(_cast(x)).all())


def min_max(x: np.ndarray) -> bool:
    out = _cast(x)
    return out.size == 0 or (math.isfinite(out.min()) and math.isfinite(out.max()))


def shipped(x: np.ndarray) -> bool:
    finite_float32(x)
    return True


CHECKS: dict[str, Callable[[np.ndarray], bool]] = {
    "block loop": block_loop,
    "isfinite": one_isfinite,
    "min/max": min_max,
    "finite_float32": shipped,
}


def best_time(f: Callable[[], Any], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def peak_extra(f: Callable[[], Any]) -> int:
    """Bytes tracemalloc saw allocated at the peak of ``f()`` over what was allocated before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        with contextlib.suppress(UnrankableEmbeddingsError):
            f()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def embeddings(n: int, contiguous: bool, rng: np.random.Generator) -> np.ndarray:
    if contiguous:
        return rng.standard_normal((n, DIM), dtype=np.float32)
    return rng.standard_normal((n, 2 * DIM), dtype=np.float32)[:, ::2]


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def duration(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"


def success(rows: list[int], rng: np.random.Generator) -> None:
    print(f"Success path: {DIM} float32 values per row; best time of several runs / peak extra")
    names = list(CHECKS)
    print("| case | " + " | ".join(names) + " | loop over isfinite | loop over min/max |")
    print("|---" * (len(names) + 3) + "|")
    for n in rows:
        for contiguous in (True, False):
            x = embeddings(n, contiguous, rng)
            assert all(check(x) for check in CHECKS.values())
            repeat = 300 if n <= 256 else (30 if n <= 10_000 else 15)
            times = {k: math.inf for k in CHECKS}
            for _ in range(repeat):  # in turns, so that the load's swings meet every check
                for k, c in CHECKS.items():
                    times[k] = min(times[k], best_time(partial(c, x), 1))
            peaks = {k: peak_extra(partial(c, x)) for k, c in CHECKS.items()}
            what = "search" if n <= 256 else "add"
            case = f"{what} {n:,} x {DIM}, {'C' if contiguous else 'strided'}"
            cells = [f"{duration(times[k])} / {mb(peaks[k])}" for k in names]
            over = [times["block loop"] / times[k] - 1 for k in ("isfinite", "min/max")]
            print(
                f"| {case} | "
                + " | ".join(cells)
                + " | "
                + " | ".join(f"{o:+.0%}" for o in over)
                + " |"
            )


def refusal(n: int, repeat: int) -> None:
    print(
        f"\nRefusal by finite_float32 of {n:,} x {DIM} (best time of {repeat} / peak extra / pickle)"
    )
    print("| input | time | peak extra | input | pickle.dumps(exception) | sentence |")
    print("|---|---|---|---|---|---|")
    cases: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("float32, every value NaN", lambda: np.full((n, DIM), np.nan, dtype=np.float32)),
        ("float64, every value NaN", lambda: np.full((n, DIM), np.nan, dtype=np.float64)),
        ("float32, one NaN in the last row", lambda: _one_nan(n)),
    ]
    for name, make in cases:
        x = make()
        took = best_time(partial(_refuse, x), repeat)
        peak = peak_extra(partial(_refuse, x))
        err = _refuse(x)
        size = len(pickle.dumps(err))
        words = str(err)
        print(
            f"| {name} | {duration(took)} | {mb(peak)} | {mb(x.nbytes)} | {size:,} bytes | "
            f"{words[:60]}... |"
        )


def _refuse(x: np.ndarray) -> UnrankableEmbeddingsError:
    try:
        finite_float32(x)
    except UnrankableEmbeddingsError as err:
        return err
    raise AssertionError("not refused")


def _one_nan(n: int) -> np.ndarray:
    x = np.random.default_rng(1).standard_normal((n, DIM), dtype=np.float32)
    x[-1, -1] = np.nan
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 16, 256, 10_000, 200_000])
    parser.add_argument("--refusal-rows", type=int, default=200_000)
    parser.add_argument("--refusal-repeat", type=int, default=3)
    args = parser.parse_args()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now}; load average {load} on {os.cpu_count()} CPUs; numpy {np.__version__}\n")
    success(args.rows, np.random.default_rng(0))
    refusal(args.refusal_rows, args.refusal_repeat)


if __name__ == "__main__":
    main()
