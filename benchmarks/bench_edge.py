"""Edge inference: eager PyTorch vs ONNX Runtime fp32 vs ONNX Runtime int8, side by side.

The model is the demo-sized network (ConvNet 32/64/128 + a 64-d L2-normalised head, 1×28×28
Fashion-MNIST input) with batch norm statistics from real images, or a saved model (``--model``).
Every runtime is called through its public embedding API on the same real images:

- ``torch eager``: ``model.embed(x)`` under ``torch.inference_mode()`` (eval mode, input checks on);
- ``onnx fp32``:   ``OnnxEmbedder.embed(x)`` on ``siamkit export``'s file (input checks on);
- ``onnx int8 static`` (the ``--int8`` default) and ``onnx int8 dynamic``.

PyTorch runs with ``torch.set_num_threads(T)`` and ONNX Runtime with ``intra_op_num_threads=T``,
``inter_op_num_threads=1`` (``--threads``, default 1, so the comparison is fair and quiet on a
shared machine). Latency is the median over ``--repeats`` rounds; each round times every runtime
once, interleaved, so machine noise hits all of them alike. Speed-ups are eager time / runtime time.
The 4-way 1-shot column (fmnist-disjoint episodes on the 4,000 test images of classes 6-9) shows
the int8 accuracy cost; it is meaningful for a trained model (``--train-steps 300`` trains the
demo-sized network on classes 0-5 first, or pass ``--model runs/demo/model``).

Run:  nice python benchmarks/bench_edge.py [--threads 1] [--repeats 200] [--train-steps 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import siamkit
from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.evaluation.few_shot import few_shot_episodes
from siamkit.export.calibration import calibration_images
from siamkit.export.onnx import export_onnx
from siamkit.export.quantize import quantize_onnx
from siamkit.export.runtime import OnnxEmbedder
from siamkit.losses import MultiSimilarityLoss

TARGETS = {"onnx fp32": 1.5, "onnx int8 static": 2.5}  # DESIGN §5, at batch 1


def demo_model(folder: Path, steps: int) -> Path:
    """The demo-sized network, trained ``steps`` Adam steps (batches of 128, multi-similarity
    loss) on Fashion-MNIST train classes 0-5, saved to ``folder``. With ``steps=0`` it is
    untrained but its batch norm has real statistics."""
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[32, 64, 128])
    prep = siamkit.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=64, preprocess=prep).train()
    x, y = load_fashion_mnist("train")
    x, y = x[y < 6], y[y < 6]
    opt, loss_fn = torch.optim.Adam(net.parameters(), lr=2e-3), MultiSimilarityLoss()
    gen = torch.Generator().manual_seed(0)
    for _ in range(max(steps, 4)):
        idx = torch.randint(len(x), (128,), generator=gen)
        loss = loss_fn(net.embed(x[idx].unsqueeze(1).float() / 255.0), y[idx])
        if steps:
            opt.zero_grad()
            loss.backward()
            opt.step()
    return siamkit.save_model(net.eval(), folder, threshold=0.8)


def build_runtimes(
    model_dir: Path, out: Path, threads: int
) -> tuple[dict[str, Callable[[np.ndarray], np.ndarray]], dict[str, int]]:
    """Export + quantise, then one embed function per runtime and its file size in bytes."""
    fp32 = export_onnx(model_dir, out / "model.onnx").path
    calib = calibration_images("fashion-mnist", (1, 28, 28), count=300, classes=range(6))
    files = {
        "onnx fp32": fp32,
        "onnx int8 static": quantize_onnx(fp32, out / "static.onnx", calibration=calib).path,
        "onnx int8 dynamic": quantize_onnx(fp32, out / "dynamic.onnx", mode="dynamic").path,
    }
    net = siamkit.load_model(model_dir)

    def eager(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net.embed(torch.from_numpy(x)).numpy()

    runs: dict[str, Callable[[np.ndarray], np.ndarray]] = {"torch eager": eager}
    sizes = {"torch eager": (model_dir / "model.safetensors").stat().st_size}
    for name, path in files.items():
        runs[name] = OnnxEmbedder(path, threads=threads).embed
        sizes[name] = path.stat().st_size
    return runs, sizes


def time_interleaved(
    runs: dict[str, Callable[[np.ndarray], np.ndarray]], x: np.ndarray, repeats: int
) -> dict[str, float]:
    """Median seconds per call of each runtime; rounds interleave the runtimes."""
    for fn in runs.values():  # warm-up
        for _ in range(5):
            fn(x)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def accuracy(
    runs: dict[str, Callable[[np.ndarray], np.ndarray]], episodes: int
) -> dict[str, float]:
    x, y = load_fashion_mnist("test")
    keep = y >= 6
    xt, yt = (x[keep].unsqueeze(1).float() / 255.0).numpy(), y[keep].numpy()
    return {
        name: few_shot_episodes(fn(xt), yt, n_way=4, k_shot=1, episodes=episodes, seed=0).accuracy
        for name, fn in runs.items()
    }


def print_table(
    sizes: dict[str, int], b1: dict[str, float], b64: dict[str, float], acc: dict[str, float]
) -> None:
    base1, base64 = b1["torch eager"], b64["torch eager"]
    print(
        "| runtime | file | batch 1 ms | ×eager (b1) | batch 64 ms | images/s (b64) | ×eager (b64) | 4w1s acc |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in b1:
        target = f" (target ≥{TARGETS[name]}×)" if name in TARGETS else ""
        print(
            f"| {name} | {sizes[name] / 1024:.0f} KiB | {b1[name] * 1e3:.3f} | "
            f"{base1 / b1[name]:.2f}×{target} | {b64[name] * 1e3:.2f} | {64 / b64[name]:,.0f} | "
            f"{base64 / b64[name]:.2f}× | {acc[name]:.4f} |"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch and ORT intra-op threads")
    ap.add_argument("--repeats", type=int, default=200, help="timing rounds at batch 1 (÷5 at 64)")
    ap.add_argument("--episodes", type=int, default=1000, help="few-shot episodes for accuracy")
    ap.add_argument(
        "--model", type=Path, default=None, help="a saved model folder (default: demo-sized)"
    )
    ap.add_argument(
        "--train-steps", type=int, default=0, help="train the demo-sized model first (e.g. 300)"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    images, _ = load_fashion_mnist("test")
    x_all = (images[:1024].unsqueeze(1).float() / 255.0).contiguous()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or demo_model(Path(tmp) / "model", args.train_steps)
        runs, sizes = build_runtimes(model_dir, Path(tmp), args.threads)
        x1, x64 = x_all[:1].numpy(), x_all[:64].numpy()
        b1 = time_interleaved(runs, x1, args.repeats)
        b64 = time_interleaved(runs, x64, max(10, args.repeats // 5))
        acc = accuracy(runs, args.episodes)
    print(
        f"# bench_edge: torch {torch.__version__}, threads={args.threads} (torch.set_num_threads and "
        f"ORT intra_op_num_threads), model={args.model or f'demo-sized, {args.train_steps} training steps'}"
    )
    print_table(sizes, b1, b64, acc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
