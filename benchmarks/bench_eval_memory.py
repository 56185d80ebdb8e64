"""Peak memory and time of verification over all pairs: the in-memory reference against the
library's streamed path, at N = 5,000 / 10,000 / 20,000 random 128-d (--dim) embeddings of 100 classes.

Each variant runs in its own subprocess; peak RSS is ``ru_maxrss`` of that process less its RSS
after imports and data (so it is what the verification itself added). The library runs inside
``shared_distance_matrices()``, as ``evaluate_embeddings`` runs it: from ``--dim 512`` on
(``KEEP_NAMED_DIM``) that block keeps even the Euclidean distance's blocks where they fit, which
streamed verification must not do (it held ~800 MB more at N = 20,000). The reference is the
computation ``verification_from_embeddings`` did before streaming: every pair's distance held
(``all_pair_distances``), then the in-memory metrics of :mod:`siamkit.evaluation.roc` (sorted
copies of all ~N²/2 distances). Both must give the same figures: the script compares every
metric, the ROC curve and the histogram, and fails if not.

    .venv/bin/python benchmarks/bench_eval_memory.py [--sizes 5000 10000 20000] [--dim 128]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time

import numpy as np


def _data(n: int, dim: int) -> tuple[object, np.ndarray]:
    import torch

    rng = np.random.default_rng(0)
    z = torch.from_numpy(rng.normal(size=(n, dim)).astype(np.float32))
    return z, rng.integers(0, 100, n)


def _reference(z: object, y: np.ndarray) -> object:
    """The old full computation: hold every pair's distance, then the in-memory metrics."""
    from siamkit.evaluation.pairs import all_pair_distances
    from siamkit.evaluation.verification import verification_report

    return verification_report(*all_pair_distances(z, y))


def _library(z: object, y: np.ndarray) -> object:
    from siamkit.evaluation import shared_distance_matrices, verification_from_embeddings

    with shared_distance_matrices():  # as evaluate_embeddings runs it
        return verification_from_embeddings(z, y)


def _child(variant: str, n: int, dim: int) -> None:
    # every import both variants make comes before the baseline, so it is not counted
    import siamkit.evaluation
    import siamkit.evaluation.pairs
    import siamkit.evaluation.verification  # noqa: F401

    z, y = _data(n, dim)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    rep = (_reference if variant == "reference" else _library)(z, y)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    digest = hashlib.sha256()
    for a in (*rep.curve, *rep.histogram):  # type: ignore[attr-defined]
        digest.update(np.ascontiguousarray(a).tobytes())
    out = {
        "seconds": seconds,
        "added_mb": (peak - base) / 1024,
        "metrics": rep.to_dict(),  # type: ignore[attr-defined]
        "curve_and_histogram": digest.hexdigest(),
    }
    print(json.dumps(out))


def _run(variant: str, n: int, dim: int) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", variant, str(n), str(dim)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000])
    parser.add_argument("--dim", type=int, default=128, help="embedding width (default 128)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    print("| N | pairs | reference s | library s | time ratio | reference MB | library MB "
          "| memory ratio | same figures |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    same_all = True
    figures: list[tuple[int, object]] = []
    for n in args.sizes:
        ref, lib = _run("reference", n, args.dim), _run("library", n, args.dim)
        same = ref["metrics"] == lib["metrics"] and (
            ref["curve_and_histogram"] == lib["curve_and_histogram"]
        )
        same_all &= same
        r_s, l_s = float(ref["seconds"]), float(lib["seconds"])  # type: ignore[arg-type]
        r_mb, l_mb = float(ref["added_mb"]), float(lib["added_mb"])  # type: ignore[arg-type]
        print(
            f"| {n:,} | {n * (n - 1) // 2:,} | {r_s:.1f} | {l_s:.1f} | {l_s / r_s:.2f} "
            f"| {r_mb:,.0f} | {l_mb:,.0f} | {r_mb / max(l_mb, 1.0):.1f}x less | {same} |",
            flush=True,
        )
        figures.append((n, lib["metrics"]))
    for n, m in figures:
        print(f"N = {n:,}: {json.dumps(m)}")
    if not same_all:
        raise SystemExit("the library's figures differ from the reference's")


if __name__ == "__main__":
    main()
