"""What a seeded sample of pair distances costs (``sampled_pair_distances``, the final
evaluation's threshold calibration and TAR/FAR: ``CALIBRATION_PAIRS`` pairs, twice a run), by the
former route and today's, side by side in one run, with the values compared bit for bit.

"former" is the former ``_pair_blocks``, kept here as it was: the same blocks of
``PAIR_BLOCK_ELEMENTS`` gathered values a side, each block's small ops (two gathers, difference,
square, row sums) on all of torch's intra-op threads. "today" is
``siamkit.evaluation.pairs._pair_blocks``: the same blocks on one thread for a named distance.
Each variant runs in a process of its own, which reports its wall time, its CPU-s (all threads)
and how far its peak resident memory rose above what it held before the call.

The embeddings are random normal rows, L2-normalised (the values do not change the cost).

Run:  PYTHONPATH=src python benchmarks/bench_sampled_pairs.py --n 3600 --dim 4544 --pairs 300000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import siamkit.evaluation.pairs as pairs
from _former_today import print_side_by_side, run_both
from siamkit.distances import Distance
from siamkit.evaluation._common import memoized


@torch.no_grad()
def former_pair_blocks(
    zt: torch.Tensor, ia: np.ndarray, ib: np.ndarray, dist: Distance
) -> np.ndarray:
    """``_pair_blocks`` before it ran its blocks on one thread (the reference)."""
    step = max(1, pairs.PAIR_BLOCK_ELEMENTS // zt.shape[1])
    parts = [np.zeros(0, dtype=np.float32)]
    with memoized(dist, zt):
        for s in range(0, ia.size, step):
            a = zt[torch.from_numpy(ia[s : s + step]).to(zt.device)]
            b = zt[torch.from_numpy(ib[s : s + step]).to(zt.device)]
            parts.append(dist.pairwise(a, b).cpu().numpy())
    return np.concatenate(parts)


def one(variant: str, args: argparse.Namespace) -> dict[str, object]:
    """Time ``variant`` in this process."""
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    z = torch.nn.functional.normalize(torch.randn(args.n, args.dim, generator=g), dim=1)
    y = torch.arange(args.n) % 6
    if variant == "former":
        pairs._pair_blocks = former_pair_blocks  # type: ignore[assignment]
    # warm up (lazy imports, first allocations) so that the peak below is the call's own
    pairs.sampled_pair_distances(z[:64], y[:64], args.distance, max_pairs=100, seed=args.seed)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    pd = pairs.sampled_pair_distances(z, y, args.distance, max_pairs=args.pairs, seed=args.seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    digest = hashlib.sha256(pd.genuine.tobytes() + pd.impostor.tobytes()).hexdigest()
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_mb": (rss - rss0) / 1024,
        "sha": digest,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3600, help="embeddings (rows)")
    p.add_argument("--dim", type=int, default=4544, help="embedding width")
    p.add_argument("--pairs", type=int, default=300_000, help="sampled pairs")
    p.add_argument("--distance", default="euclidean", help="a named distance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--variant", choices=["former", "today"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:
        print(json.dumps(one(args.variant, args)))
        return
    f, t = run_both(__file__)
    title = f"{args.pairs:,} sampled pairs of {args.n:,} x {args.dim:,} ({args.distance})"
    print_side_by_side(title, f, t, peak_mb=True)


if __name__ == "__main__":
    main()
