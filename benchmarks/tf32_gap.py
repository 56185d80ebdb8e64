"""How far CUDA's TF32 kernels move a siamkit embedding, emulated on the CPU.

TF32 tensor cores read float32 inputs with 10 of their 23 mantissa bits and sum in float32; this
rounds the inputs and weights of every convolution and linear layer the same way, embeds the
first 500 Fashion-MNIST test images with and without the rounding, and prints the gap relative to
the embedding's length beside the gallery's repeat tolerance (``SAME_EMBEDDING_TOLERANCE``) and
the smallest gap between two different images. No GPU needed; a GPU's own kernels may differ.

``--device cuda`` measures it instead: the same images embedded on the GPU with PyTorch's default
settings (as ``siamkit enroll`` runs there: cuDNN convolutions in TF32) against the CPU's float32.

Run:  PYTHONPATH=src python benchmarks/tf32_gap.py MODEL_FOLDER
      PYTHONPATH=src python benchmarks/tf32_gap.py MODEL_FOLDER --device cuda
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import siamkit
from siamkit.data.fashion_mnist import load_fashion_mnist
from siamkit.encode import encode
from siamkit.index.repeats import SAME_EMBEDDING_TOLERANCE


def tf32(t: torch.Tensor) -> torch.Tensor:
    """``t`` rounded to TF32's 10-bit mantissa (to nearest), kept as float32."""
    if t.dtype != torch.float32:
        return t
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument(
        "--device", default="cpu", help="cpu: emulate TF32; cuda[:N]: embed there and compare"
    )
    args = ap.parse_args()
    net = siamkit.load_model(args.model).eval()
    x = load_fashion_mnist("test")[0][: args.n].unsqueeze(1)
    exact = encode(net, x, batch_size=100)
    if torch.device(args.device).type == "cuda":
        print(
            f"{torch.cuda.get_device_name(args.device)}: cudnn.allow_tf32="
            f"{torch.backends.cudnn.allow_tf32}, matmul precision "
            f"{torch.get_float32_matmul_precision()!r}"
        )
        rounded = encode(net.to(args.device), x, batch_size=100, device=args.device).cpu()
        what = "CUDA vs CPU"
    else:
        conv, linear = F.conv2d, F.linear
        try:
            F.conv2d = lambda i, w, b=None, *a, **k: conv(tf32(i), tf32(w), b, *a, **k)  # type: ignore[assignment]
            F.linear = lambda i, w, b=None: linear(tf32(i), tf32(w), b)  # type: ignore[assignment]
            rounded = encode(net, x, batch_size=100)
        finally:
            F.conv2d, F.linear = conv, linear  # type: ignore[assignment]
        what = "TF32 (emulated) vs float32"
    gap = (exact - rounded).norm(dim=1) / exact.norm(dim=1)
    d = torch.cdist(exact.double(), exact.double())
    d.fill_diagonal_(float("inf"))
    apart = (d.min(1).values / exact.double().norm(dim=1)).min().item()
    over = int((gap > SAME_EMBEDDING_TOLERANCE).sum())
    print(
        f"{what}, {args.n} images: median gap {gap.median():.2e}, max {gap.max():.2e} "
        f"of the embedding's length; repeat tolerance {SAME_EMBEDDING_TOLERANCE:.0e} "
        f"({over} beyond it); smallest gap between two different images {apart:.2e}"
    )


if __name__ == "__main__":
    main()
