"""What a run's threshold fit costs on a sample of ``CALIBRATION_PAIRS`` pairs against all pairs
(``siamkit.experiment.protocol.calibration_pairs`` decides between them): the pair distances and
the EER fit on them, in CPU-s (all threads) and wall seconds, the best of ``--repeats``.

The embeddings are random normal rows, L2-normalised (the values do not change the cost), in
6 classes as the demo's validation images; ``--distance`` names the distance (euclidean by
default; manhattan's matrix is no matrix product, and gains no more with the width), or
``mahalanobis`` (a full-rank ``MahalanobisDistance``), or ``snorm-<name>`` (that distance
cohort-normalised, ``CohortNormalized`` over 1,000 random unit cohort rows, k = 300; the fit
``signed``, as a score-normalised run's).

Run:  PYTHONPATH=src python benchmarks/bench_calibration_pairs.py --n 3600 --dims 64,304,1024,4544
      PYTHONPATH=src python benchmarks/bench_calibration_pairs.py --distance manhattan
      PYTHONPATH=src python benchmarks/bench_calibration_pairs.py --n 1600 --dims 64,304 --distance mahalanobis
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamkit.distances import CohortNormalized, MahalanobisDistance
from siamkit.evaluation.pairs import all_pair_distances, n_pairs, sampled_pair_distances
from siamkit.evaluation.threshold import ThresholdCalibrator
from siamkit.experiment.protocol import CALIBRATION_PAIRS, calibration_pairs


def _cost(f: Callable[[], object], repeats: int) -> tuple[float, float]:
    """The best CPU-s and wall seconds of ``repeats`` calls of ``f``."""
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        f()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(cpu), min(wall)


def _distance(name: str, width: int) -> Any:
    """``--distance`` at ``width``: a name, ``mahalanobis`` or ``snorm-<name>``."""
    if name == "mahalanobis":
        return MahalanobisDistance(width)
    if name.startswith("snorm-"):
        g = torch.Generator().manual_seed(1)
        cohort = torch.nn.functional.normalize(torch.randn(1000, width, generator=g), dim=1)
        return CohortNormalized(_distance(name[len("snorm-") :], width), cohort, k=300)
    return name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3600, help="embeddings (validation images)")
    ap.add_argument("--dims", default="64,304,1024,4544", help="comma-separated widths")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--distance", default="euclidean", help="a named distance, mahalanobis or snorm-<name>"
    )
    args = ap.parse_args()
    y = torch.arange(args.n) % 6
    signed = args.distance.startswith("snorm-")  # cohort-normalised scores may be negative
    print(
        f"{args.n:,} embeddings, {n_pairs(args.n):,} pairs, a sample of {CALIBRATION_PAIRS:,}, "
        f"{args.distance}"
    )
    print("width  sampled CPU-s (wall)  all pairs CPU-s (wall)  ratio per pair  the rule takes")
    for d in (int(v) for v in args.dims.split(",")):
        g = torch.Generator().manual_seed(0)
        z = torch.nn.functional.normalize(torch.randn(args.n, d, generator=g), dim=1)
        dist = _distance(args.distance, d)

        def sampled(z: torch.Tensor = z, dist: Any = dist) -> None:
            pd = sampled_pair_distances(z, y, dist, CALIBRATION_PAIRS, seed=0)
            ThresholdCalibrator("eer", signed=signed).fit(pd.genuine, pd.impostor)

        def every(z: torch.Tensor = z, dist: Any = dist) -> None:
            pd = all_pair_distances(z, y, dist)
            ThresholdCalibrator("eer", signed=signed).fit(pd.genuine, pd.impostor)

        with torch.no_grad():  # a learned distance's parameters need no gradients here
            sc, sw = _cost(sampled, args.repeats)
            ac, aw = _cost(every, args.repeats)
        ratio = (sc / CALIBRATION_PAIRS) / (ac / n_pairs(args.n))
        takes = "all" if calibration_pairs(args.n, d, dist) is None else "sample"
        print(
            f"{d:5d}  {sc:8.2f} ({sw:6.2f})     {ac:8.2f} ({aw:6.2f})       {ratio:6.1f}        {takes}"
        )


if __name__ == "__main__":
    main()
