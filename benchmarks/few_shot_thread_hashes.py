"""sha256 of every few-shot block's prototype distances and the accuracies, one line per case, at
the torch thread count given: the hash grids behind BENCHMARKS.md's "Few-shot episodes on one
thread" (s58_c6's /tmp/c6/fs_hash.py and fs_hash2.py, committed by s58_m6).

``--grid widths``: 60 5-way 1-shot 15-query and 60 5-way 5-shot 10-query episodes of 600 random
rows, widths 8 to 16,000, seeds 0 and 1, the four named distances (48 lines).
``--grid shapes``: 40 episodes of 1,200 random rows, 2/5/20/30-way, 1 or 5 shots, 1 to 15
queries, widths 64, 384 and 4,544, the four named distances (72 lines).
``--former`` switches the one-thread window off, so the blocks run on ``--threads`` threads.

Run (the former route at 2 threads against today's, which is the one-thread values):
    PYTHONPATH=src python benchmarks/few_shot_thread_hashes.py --grid shapes --threads 2 --former > a
    PYTHONPATH=src python benchmarks/few_shot_thread_hashes.py --grid shapes --threads 1 > b
    diff a b
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import siamkit.evaluation.few_shot as fs

NAMES = ("euclidean", "sqeuclidean", "cosine", "manhattan")


def _hashing(h: hashlib._Hash) -> None:
    plain = _PLAIN

    def hooked(d, q, p):  # type: ignore[no-untyped-def]
        r = plain(d, q, p)
        h.update(r.numpy().tobytes())
        return r

    fs.prototype_distances = hooked  # type: ignore[assignment]


_PLAIN = fs.prototype_distances


def widths() -> None:
    for dim in (8, 64, 384, 2048, 4544, 16000):
        for seed in (0, 1):
            for name in NAMES:
                h = hashlib.sha256()
                _hashing(h)
                g = torch.Generator().manual_seed(seed)
                z = torch.randn(600, dim, generator=g) * (1 + seed * 10)
                y = torch.arange(600) % 20
                for nw, k, q in ((5, 1, 15), (5, 5, 10)):
                    ep = fs.sample_episodes(y, nw, k, q, 60, seed)
                    h.update(fs.episode_accuracies(z, ep, name).tobytes())
                print(dim, seed, name, h.hexdigest()[:16], flush=True)


def shapes() -> None:
    for dim in (64, 384, 4544):
        for name in NAMES:
            for nw, k, q in ((2, 1, 1), (5, 1, 1), (5, 5, 5), (20, 1, 1), (20, 5, 15), (30, 1, 2)):
                h = hashlib.sha256()
                _hashing(h)
                g = torch.Generator().manual_seed(dim + nw)
                z = torch.randn(1200, dim, generator=g)
                y = torch.arange(1200) % 40
                ep = fs.sample_episodes(y, nw, k, q, 40, 0)
                h.update(fs.episode_accuracies(z, ep, name).tobytes())
                print(dim, name, nw, k, q, h.hexdigest()[:16], flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grid", choices=["widths", "shapes"], required=True)
    p.add_argument("--threads", type=int, required=True, help="torch threads")
    p.add_argument("--former", action="store_true", help="switch the one-thread window off")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.former:
        fs.one_thread = lambda on=True: contextlib.nullcontext()  # type: ignore[assignment]
    widths() if args.grid == "widths" else shapes()


if __name__ == "__main__":
    main()
