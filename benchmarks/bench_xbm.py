"""Cross-batch memory, forward + backward per step on CPU: siamkit vs pytorch-metric-learning.

Synthetic: P×K batches (``--p`` classes of ``--k`` samples out of ``--classes``), L2-normalised
random ``--dim``-d embeddings. Both memories are filled with the same ``--fill`` batches first, then
each library steps through the same ``--steps`` batches (each step enqueues its batch):

- batch_hard:       siamkit ``CrossBatchMemory(TripletMarginLoss(0.2, "batch_hard", "nonzero"))``
                    vs PML ``CrossBatchMemory(TripletMarginLoss(0.2), miner=BatchHardMiner())``
- semihard:         the same with semihard mining (siamkit fused, PML's ``TripletMarginMiner``)
- multi_similarity: ``MultiSimilarityLoss`` + its miner in both

siamkit's ``memory_size`` M is the earlier embeddings; PML's queue (M + B) also holds the current
batch, so both compare a batch with the same candidates and the losses agree (``max |diff|``).
PML semihard is skipped where its ``B x (M + B)^2`` triplet mask would pass ``--pml-max``. Times are this
process's CPU time with one torch thread (stable on a shared machine).

Run:  nice python benchmarks/bench_xbm.py --memory 1024 4096
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamkit.losses import MultiSimilarityLoss, TripletMarginLoss
from siamkit.losses.xbm import CrossBatchMemory


def batches(n: int, args: argparse.Namespace, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        y = torch.randperm(args.classes, generator=g)[: args.p].repeat_interleave(args.k)
        out.append((F.normalize(torch.randn(len(y), args.dim, generator=g), dim=1), y))
    return out


def make(kind: str, memory: int, b: int, dim: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    from pytorch_metric_learning import losses as pl
    from pytorch_metric_learning import miners as pm

    if kind == "multi_similarity":
        ours: torch.nn.Module = MultiSimilarityLoss(2.0, 50.0, 0.5, mining="multi_similarity")
        inner, miner = pl.MultiSimilarityLoss(2.0, 50.0, 0.5), pm.MultiSimilarityMiner(0.1)
    else:
        ours = TripletMarginLoss(0.2, mining=kind, reduction="nonzero")
        inner = pl.TripletMarginLoss(margin=0.2)
        miner = (
            pm.BatchHardMiner()
            if kind == "batch_hard"
            else pm.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
        )
    theirs = pl.CrossBatchMemory(inner, dim, memory_size=memory + b, miner=miner)
    return CrossBatchMemory(ours, dim, memory), theirs


def run(loss: torch.nn.Module, data: list, fill: int) -> tuple[float, list[float]]:
    values = []
    for i, (z0, y) in enumerate(data):
        if i == fill:
            t0 = time.process_time()
        z = z0.clone().requires_grad_(True)
        out = loss(z, y)
        out.backward()
        if i >= fill:
            values.append(float(out.detach()))
    return (time.process_time() - t0) / (len(data) - fill) * 1000, values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--kinds", nargs="+", default=["batch_hard", "semihard", "multi_similarity"])
    ap.add_argument("--p", type=int, default=6)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--pml-max", type=float, default=1.5e9)
    args = ap.parse_args()
    torch.set_num_threads(1)
    b = args.p * args.k
    print(f"B = {b} ({args.p}x{args.k} of {args.classes} classes), D = {args.dim}, synthetic")
    print(
        f"{'kind':<17}{'M':>6}{'siamkit ms':>12}{'PML ms':>10}{'PML/siamkit':>13}{'max |diff|':>12}"
    )
    for kind in args.kinds:
        for m in args.memory:
            fill = -(-m // b)  # batches that fill the memory
            data = batches(fill + args.steps, args, seed=m)
            ours, theirs = make(kind, m, b, args.dim)
            ms_ours, v_ours = run(ours, data, fill)
            if kind == "semihard" and b * (m + b) ** 2 > args.pml_max:
                print(f"{kind:<17}{m:>6}{ms_ours:>12.1f}{'skipped':>10}{'-':>13}{'-':>12}")
                continue
            ms_pml, v_pml = run(theirs, data, fill)
            diff = max(abs(a - c) for a, c in zip(v_ours, v_pml))
            print(
                f"{kind:<17}{m:>6}{ms_ours:>12.1f}{ms_pml:>10.1f}{ms_pml / ms_ours:>13.2f}{diff:>12.1e}"
            )


if __name__ == "__main__":
    main()
