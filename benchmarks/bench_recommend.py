"""Recommend liking a big label: the search path (``k + L`` neighbours of each liked item, as
FAISS and LSH still do) vs the exact index's one blockwise pass, side by side.

A synthetic gallery of ``--n`` x ``--dim`` float32 embeddings on 200 class centres, 100 labels,
one of which (``boot``) holds ``--liked`` items; ``siamkit recommend --like boot --k 5`` is the
call timed, with and without ``--per-label``. Both paths run on the same gallery in the same
process, and their answers are checked to be the same: items, order and distances.

    nice python benchmarks/bench_recommend.py                       # 20,000 x 64, 2,000 liked
    nice python benchmarks/bench_recommend.py --n 5000 --liked 500  # quick
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from siamkit.index import Gallery
from siamkit.index.gallery_search import nearest_by_scan, nearest_by_search, sync_index


def build(path: Path, n: int, dim: int, liked: int, seed: int) -> Gallery:
    """A gallery of ``n`` items: ``liked`` of them labelled ``boot``, the rest in 99 labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dim)).astype(np.float32)
    x = centres[rng.integers(0, 200, n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    labels = np.concatenate([np.zeros(liked, int), rng.integers(1, 100, n - liked)])
    g = Gallery.open(path, None, embedding_dim=dim, distance="euclidean")
    for c in range(100):
        rows = np.flatnonzero(labels == c)
        if rows.size:
            g.enroll_embeddings("boot" if c == 0 else f"p{c}", x[rows])
    sync_index(g)
    return g


Ranker = Callable[[Gallery, np.ndarray, list[int], int, bool], list[tuple[int, float]]]


def timed(fn: Ranker, *args: Any) -> tuple[float, list[tuple[int, float]]]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--liked", type=int, default=2_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        g = build(Path(tmp) / "g.db", args.n, args.dim, args.liked, args.seed)
        liked = g.items("boot").ids.tolist()
        vectors = g._store.embeddings_of(liked)
        print(f"gallery {args.n} x {args.dim}, liked label of {len(liked)} items, k={args.k}")
        print(
            f"{'per_label':>9}  {'old (search) s':>14}  {'new (one pass) s':>16}  {'speed-up':>8}"
        )
        for per_label in (False, True):
            old_s, old = timed(nearest_by_search, g, vectors, liked, args.k, per_label)
            new_s, new = timed(nearest_by_scan, g, vectors, liked, args.k, per_label)
            if old != new:  # same items, order and distances
                raise SystemExit(f"the two paths disagree (per_label={per_label}): {old} {new}")
            print(f"{per_label!s:>9}  {old_s:14.2f}  {new_s:16.3f}  {old_s / new_s:7.0f}x")
        g.close()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
