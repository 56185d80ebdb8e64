"""Leave-one-out P@1: siamkit.evaluation.precision_at_1 against the two copies it replaced and
the peers (pytorch-metric-learning's AccuracyCalculator, scikit-learn's NearestNeighbors).

The data are SYNTHETIC: ``--n`` Gaussian points in ``--dim`` dimensions around ``--classes``
centres (sizes like a Fashion-MNIST validation split). Each row is the median wall time of
``--repeats`` calls and its ratio to ``precision_at_1``; every row's P@1 must agree (no ties in
continuous data, so the tie rule does not matter here).

Usage::

    python benchmarks/bench_precision_at_1.py                  # 10,000 x 64, 10 classes
    python benchmarks/bench_precision_at_1.py --n 20000 --distance cosine --threads 1
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from siamkit.distances import get_distance
from siamkit.evaluation import precision_at_1, retrieval_metrics


def _old_training_copy(z: torch.Tensor, y: torch.Tensor, name: str, chunk: int = 1024) -> float:
    """The removed training.validation.precision_at_1 (lone items counted as misses)."""
    distance = get_distance(name)
    hits = []
    for s in range(0, z.shape[0], chunk):
        d = distance.matrix(z[s : s + chunk], z)
        rows = torch.arange(d.shape[0])
        d[rows, rows + s] = float("inf")
        hits.append(y[d.argmin(dim=1)] == y[s : s + chunk])
    return float(torch.cat(hits).double().mean())


def _pml(z: torch.Tensor, y: torch.Tensor, name: str) -> float:
    from pytorch_metric_learning.distances import CosineSimilarity, LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    knn = CustomKNN(
        CosineSimilarity() if name == "cosine" else LpDistance(normalize_embeddings=False)
    )
    calc = AccuracyCalculator(include=("precision_at_1",), k=1, knn_func=knn)
    return float(calc.get_accuracy(z, y)["precision_at_1"])


def _sklearn(z: torch.Tensor, y: torch.Tensor, name: str) -> float:
    from sklearn.neighbors import NearestNeighbors

    x = z.numpy()
    ids = (
        NearestNeighbors(n_neighbors=2, metric=name, algorithm="brute")
        .fit(x)
        .kneighbors(x, return_distance=False)
    )
    nearest = np.where(ids[:, 0] == np.arange(len(x)), ids[:, 1], ids[:, 0])
    labels = y.numpy()
    return float((labels[nearest] == labels).mean())


def _time(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    value = fn()  # warm-up (imports, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return value, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--distance", choices=("euclidean", "cosine"), default="euclidean")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("PML").setLevel(logging.ERROR)
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(args.classes, args.dim, generator=g) * 0.6
    y = torch.randint(0, args.classes, (args.n,), generator=g)
    z = centres[y] + torch.randn(args.n, args.dim, generator=g)  # (N, D) float32
    name = args.distance
    rows = [
        ("siamkit precision_at_1 (argmin per block)", lambda: precision_at_1(z, y, name)),
        (
            "old evaluation path: retrieval_metrics(ks=(1,))",
            lambda: retrieval_metrics(z, y, name, ks=(1,)).precision_at_1,
        ),
        ("old training copy (1024-row chunks)", lambda: _old_training_copy(z, y, name)),
        ("peer: PML AccuracyCalculator (torch k-NN)", lambda: _pml(z, y, name)),
        ("peer: sklearn NearestNeighbors (brute)", lambda: _sklearn(z, y, name)),
    ]
    print(
        f"SYNTHETIC {args.n} x {args.dim}, {args.classes} classes, {name}, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    base = None
    for label, fn in rows:
        value, seconds = _time(fn, args.repeats)
        base = base or seconds
        print(f"{label:<50} P@1 {value:.4f}  {seconds:7.3f} s  x{seconds / base:5.2f}")


if __name__ == "__main__":
    main()
