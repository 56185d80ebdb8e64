"""Cost of cohort score normalisation in evaluation: the raw distance vs adaptive S-norm.

``evaluate_embeddings`` (all-pairs verification, 1,000 5-way 1-shot and 5-shot episodes, leave-one-out
retrieval) on ``--n`` unit-length embeddings of 5 classes, once with the Euclidean distance and once
with ``CohortNormalized("euclidean", cohort, k)`` against ``--cohort`` other unit vectors: the
fmnist-disjoint sizes of the demo (5,000 test items of a 5/5 split, 304-d embeddings, a cohort of
2,000, k = 300). The S-norm run computes each row's cohort statistics once (``memoized``); the last
row shows what those statistics cost alone. No peer library offers score normalisation, so the
comparison is with our own raw-distance evaluation.

Run:  nice python benchmarks/bench_score_norm.py [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from siamkit.distances import CohortNormalized
from siamkit.evaluation import evaluate_embeddings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="evaluated embeddings (5 classes)")
    ap.add_argument("--dim", type=int, default=304)
    ap.add_argument("--cohort", type=int, default=2000)
    ap.add_argument("--k", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="median over this many runs")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    y = torch.arange(5).repeat_interleave(args.n // 5)
    centres = torch.randn(5, args.dim, generator=g)
    z = F.normalize(centres[y] + 2.0 * torch.randn(len(y), args.dim, generator=g), dim=1)
    cohort = F.normalize(torch.randn(args.cohort, args.dim, generator=g), dim=1)
    snorm = CohortNormalized("euclidean", cohort, k=args.k)

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    shots = ((5, 1), (5, 5))
    raw = timed(lambda: evaluate_embeddings(z, y, "euclidean", few_shot=shots))
    normed = timed(lambda: evaluate_embeddings(z, y, snorm, few_shot=shots))
    stats = timed(lambda: snorm.cohort_stats(z))
    print(
        f"n {len(y)}, dim {args.dim}, cohort {args.cohort}, k {args.k}, threads {args.threads}, "
        f"median of {args.repeats}"
    )
    print("| evaluation | seconds | vs raw |")
    print("|---|---|---|")
    print(f"| raw Euclidean | {raw:.2f} | 1.00× |")
    print(f"| adaptive S-norm (memoised) | {normed:.2f} | {normed / raw:.2f}× |")
    print(f"| of which: cohort statistics of all {len(y)} rows | {stats:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
