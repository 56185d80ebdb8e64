"""Class imbalance: PKSampler's class weighting vs today's every-sample-once sampler.

Protocol: Fashion-MNIST train-split classes 0-5 subsampled (seeded) to 6000/3000/1000/300/100/30
images; test on all test-split images of the unseen classes 6-9 with 1,000 seeded 4-way 1-shot
episodes (nearest prototype). Same network (siamkit's 3-block ConvNet, 64-d L2-normalised head),
loss (batch-hard triplet, margin 0.2), optimiser (Adam 1e-3), P classes × K images (default
6 × 16), no augmentation. Rows:

* ``today, same epochs``: ``PKSampler(drop_last=True)`` as the trainer builds it. On this data an
  epoch has only a few full 6-class batches (the 30-image class runs out), so ``--epochs`` epochs
  are very few steps: what a user of ``train.epochs`` gets today.
* ``today, same steps``: the same sampler cycled over as many epochs as it takes to make as many
  steps as the new sampler.
* ``class_power=P``: ``PKSampler(class_power=P)``, images // (P × K) batches per epoch.

``class_power`` is fixed a priori at 0.5 (square-root frequency, a common choice); nothing is
tuned on the test classes.

Usage::

    python benchmarks/bench_imbalance.py                      # 3 epochs, seed 0
    python benchmarks/bench_imbalance.py --epochs 5 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from siamkit.data import load_fashion_mnist
from siamkit.data.samplers import PKSampler
from siamkit.encoders import create_encoder
from siamkit.evaluation.few_shot import few_shot_episodes
from siamkit.losses import TripletMarginLoss
from siamkit.models import SiameseNetwork

SIZES = (6000, 3000, 1000, 300, 100, 30)


def skewed_train(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_fashion_mnist("train")
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.choice(np.flatnonzero(y.numpy() == c), n, replace=False) for c, n in enumerate(SIZES)]
    )
    return x[keep], y[keep]


def batches(sampler: PKSampler, steps: int) -> list[list[int]]:
    out: list[list[int]] = []
    epoch = 0
    while len(out) < steps:
        sampler.set_epoch(epoch)
        plan = list(sampler)
        if not plan:
            raise RuntimeError("the sampler makes no batches")
        out += plan[: steps - len(out)]
        epoch += 1
    return out


def train_eval(x: torch.Tensor, y: torch.Tensor, plan: list[list[int]], seed: int) -> float:
    """Train a fresh network on the batches of ``plan``; 4-way 1-shot accuracy on classes 6-9."""
    torch.manual_seed(seed)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1), embedding_dim=64)
    loss_fn = TripletMarginLoss(margin=0.2, mining="batch_hard")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xf = x.float().div(255.0).unsqueeze(1) if x.dim() == 3 else x.float().div(255.0)
    net.train()
    for idx in plan:
        loss = loss_fn(net.embed(xf[idx], check=False), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    xt, yt = load_fashion_mnist("test")
    mask = yt >= 6
    xt = xt[mask].float().div(255.0).unsqueeze(1) if xt.dim() == 3 else xt[mask].float() / 255
    net.eval()
    with torch.no_grad():
        z = torch.cat([net.embed(xt[i : i + 1000]) for i in range(0, len(xt), 1000)])
    return few_shot_episodes(z, yt[mask].numpy(), 4, 1, episodes=1000, seed=0).accuracy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--power", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--p",
        type=int,
        default=6,
        help="classes per batch (P = 6 = all classes "
        "makes class weights moot; P < 6 lets them choose)",
    )
    ap.add_argument("--k", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"Fashion-MNIST 0-5 at {SIZES}, P={args.p} K={args.k}, {args.epochs} epochs")
    print("| sampler | seed | steps | 4-way 1-shot on 6-9 | seconds |")
    print("| --- | --- | --- | --- | --- |")
    results: dict[str, list[float]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        x, y = skewed_train(seed)
        new = PKSampler(y, args.p, args.k, seed=seed, drop_last=True, class_power=args.power)
        old = PKSampler(y, args.p, args.k, seed=seed, drop_last=True)
        steps = args.epochs * len(new)
        rows = {
            "today, same epochs": batches(old, args.epochs * max(1, len(old))),
            "today, same steps": batches(old, steps),
            f"class_power={args.power}": batches(new, steps),
        }
        for name, plan in rows.items():
            t = time.perf_counter()
            acc = train_eval(x, y, plan, seed)
            results.setdefault(name, []).append(acc)
            print(f"| {name} | {seed} | {len(plan)} | {acc:.3f} | {time.perf_counter() - t:.0f} |")
    for name, accs in results.items():
        print(f"| {name} | mean of {len(accs)} | | {np.mean(accs):.3f} ± {np.std(accs):.3f} | |")


if __name__ == "__main__":
    main()
