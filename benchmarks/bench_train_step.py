"""One training step of the demo recipe: the learned part alone vs the old path that also
computed the appearance (HOG) features at every step and threw them away.

The demo recipe trains the network on its own (``model.appearance.in_loss: false``); its
appearance features only join the embedding when embedding (a ``JoinedEmbedding`` made after
training). The old path is reproduced as ``JoinedEmbedding.parts(x)["learned"]`` (the HOG
features computed too); the training step now embeds with the network alone, ``net.embed(x)``.
Both give the same loss and gradient (checked here); the rows are the seconds per step
(forward + backward + Adam step, median of ``--steps`` after 3 warm-up steps) on a batch of
``--batch`` real Fashion-MNIST training images.

Usage::

    python benchmarks/bench_train_step.py                 # 192 images, 30 steps, 2 threads
    python benchmarks/bench_train_step.py --steps 10 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.training import build_model, build_objective, embedding_model
from siamkit.training.config import demo_recipe


def _step(embed: Callable[[torch.Tensor], torch.Tensor], objective, opt, x, y) -> float:
    t0 = time.perf_counter()
    loss = objective(embed(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=192)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = demo_recipe()
    x8, y = load_fashion_mnist("train")
    keep = y < 6
    x = x8[keep][: args.batch].unsqueeze(1).float() / 255.0  # (B, 1, 28, 28)
    y = y[keep][: args.batch]
    paths = []
    for name, how in [
        ("old: joined.parts(x)['learned'] (HOG computed, unused)", "parts"),
        ("new: net.embed(x)", "learned"),
    ]:
        torch.manual_seed(0)
        net = build_model(cfg.model, (1, 28, 28), (0.286,), (0.353,)).train()
        joined = embedding_model(net, cfg.model)

        def embed(t: torch.Tensor, net=net, joined=joined, how=how) -> torch.Tensor:
            if how == "parts":
                return joined.parts(t, check=False)["learned"]
            return net.embed(t, check=False)

        with torch.no_grad():
            check = embed(x)
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        paths.append((name, embed, build_objective(cfg.loss, net.distance), opt, check, []))
    for i in range(args.steps + 3):  # interleaved, so a busy machine slows both alike
        for _, embed, objective, opt, _, times in paths:
            t = _step(embed, objective, opt, x, y)
            if i >= 3:
                times.append(t)
    rows = [(name, statistics.median(times), check) for name, _, _, _, check, times in paths]
    torch.testing.assert_close(rows[0][2], rows[1][2])  # the same embeddings, so the same step
    print(f"demo recipe, batch {args.batch}, {args.steps} steps, {args.threads} threads (CPU)")
    print(f"{'path':58s} {'s/step':>8s}")
    for name, t, _ in rows:
        print(f"{name:58s} {t:8.4f}")
    print(f"saved per step: {100 * (1 - rows[1][1] / rows[0][1]):.1f}%")


if __name__ == "__main__":
    main()
