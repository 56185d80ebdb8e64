"""What the retrieval metrics cost: the whole ``retrieval_metrics`` pass, the share of it the
full per-query ranking (R-precision, MAP, MRR) takes, and the optional k-means clustering
(NMI / AMI), on random L2-normalised embeddings.

The ranking share is estimated as the time of the same ranking on the same distance blocks
(``distance_rows`` + the module's ranking functions) minus the time of computing those blocks
alone. CPU seconds per call, median of ``--repeats``.

Run:  python benchmarks/bench_retrieval.py --n 10000 --dim 128 --classes 10 1000 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamkit.evaluation import retrieval
from siamkit.evaluation._common import distance_rows, resolve_distance


def cpu_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU time (user + system of this process) of ``fn()``."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def ranking_only(z: torch.Tensor, y: torch.Tensor) -> None:
    """The full per-query ranking of :func:`retrieval.retrieval_metrics`, alone, on the same
    distance blocks (their computation included)."""
    counts = torch.bincount(y)
    r = counts[y] - 1
    for s, block in distance_rows(z, resolve_distance("euclidean")):
        rows = torch.arange(s, s + block.shape[0])
        keep = r[rows] > 0
        hits = retrieval._ranked_hits(block[keep], rows[keep], y)
        retrieval._ranked_metrics(hits, r[rows][keep])


def blocks_only(z: torch.Tensor) -> None:
    """The distance blocks the pass computes, and nothing else."""
    for _ in distance_rows(z, resolve_distance("euclidean")):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--classes", type=int, nargs="+", default=[10, 1000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(
        "| N x D | classes | retrieval_metrics s | of it, the full ranking s | clustering (k-means) s |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for c in args.classes:
        g = torch.Generator().manual_seed(0)
        y = torch.arange(args.n) % c
        z = torch.nn.functional.normalize(torch.randn(c, args.dim, generator=g)[y] * 0.5
                                          + torch.randn(args.n, args.dim, generator=g), dim=1)  # fmt: skip
        whole = cpu_seconds(lambda: retrieval.retrieval_metrics(z, y), args.repeats)  # noqa: B023
        blocks = cpu_seconds(lambda: blocks_only(z), args.repeats)  # noqa: B023
        rank = cpu_seconds(lambda: ranking_only(z, y), args.repeats) - blocks  # noqa: B023
        km = cpu_seconds(lambda: retrieval._clustering(z, y, 0), args.repeats)  # noqa: B023
        print(f"| {args.n} x {args.dim} | {c} | {whole:.2f} | {rank:.2f} | {km:.2f} |", flush=True)


if __name__ == "__main__":
    main()
