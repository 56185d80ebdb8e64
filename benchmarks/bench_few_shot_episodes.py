"""What few-shot episodes cost (``episode_accuracies``: nearest-prototype accuracy of seeded
N-way K-shot episodes), by the former route and today's, side by side in one run, with the
distances and accuracies compared bit for bit.

"former" runs the same blocks on all of torch's intra-op threads (the one-thread window switched
off); "today" is ``siamkit.evaluation.few_shot.episode_accuracies``: the blocks of a named
distance on one thread (``siamkit.evaluation.pairs.one_thread``). Each variant runs in a process
of its own, which reports its wall time and its CPU-s (all threads).

The embeddings are random normal rows of ``--classes`` classes (the values do not change the cost).

Run:  PYTHONPATH=src python benchmarks/bench_few_shot_episodes.py --n 3600 --dim 4544 --episodes 1000
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import siamkit.evaluation.few_shot as few_shot
from _former_today import print_side_by_side, run_both


def one(variant: str, args: argparse.Namespace) -> dict[str, object]:
    """Time ``variant`` in this process."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if variant == "former":
        few_shot.one_thread = lambda on=True: contextlib.nullcontext()  # type: ignore[assignment]
    g = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, args.dim, generator=g)
    y = torch.arange(args.n) % args.classes
    ep = few_shot.sample_episodes(y, args.way, args.shot, args.query, args.episodes, args.seed)
    digest = hashlib.sha256()
    former_distances = few_shot.prototype_distances

    def hashed(dist, q, protos):  # type: ignore[no-untyped-def]
        out = former_distances(dist, q, protos)
        digest.update(out.numpy().tobytes())
        return out

    # warm up (lazy imports, first allocations)
    warm = few_shot.sample_episodes(y, args.way, args.shot, args.query, 4, args.seed + 1)
    few_shot.episode_accuracies(z, warm, args.distance)
    t0, c0 = time.perf_counter(), time.process_time()
    acc = few_shot.episode_accuracies(z, ep, args.distance)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    few_shot.prototype_distances = hashed  # type: ignore[assignment]
    again = few_shot.episode_accuracies(z, ep, args.distance)  # the distances, for the hash
    digest.update(acc.tobytes() + again.tobytes())
    return {"wall": wall, "cpu": cpu, "sha": digest.hexdigest(), "threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3600, help="embeddings (rows)")
    p.add_argument("--dim", type=int, default=4544, help="embedding width")
    p.add_argument("--classes", type=int, default=60, help="classes of the rows")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--way", type=int, default=5)
    p.add_argument("--shot", type=int, default=1)
    p.add_argument("--query", type=int, default=15)
    p.add_argument("--distance", default="euclidean", help="a named distance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--variant", choices=["former", "today"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:
        print(json.dumps(one(args.variant, args)))
        return
    f, t = run_both(__file__)
    title = (
        f"{args.episodes:,} {args.way}-way {args.shot}-shot episodes ({args.query} queries a class) "
        f"of {args.n:,} x {args.dim:,} ({args.distance})"
    )
    print_side_by_side(title, f, t)


if __name__ == "__main__":
    main()
