"""A cross-batch memory under two gloo processes: the loss sees the gathered batch, so each rank's
memory holds the global embeddings and the local gradients equal one process's on the whole batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from _gloo import run_ranks
from siamkit.distributed import gather_embeddings
from siamkit.losses import TripletMarginLoss
from siamkit.losses.xbm import CrossBatchMemory

safetensors_torch = pytest.importorskip("safetensors.torch")

B, D, M, STEPS = 12, 6, 30, 4
SPLIT = [slice(0, 7), slice(7, 12)]  # uneven local batches


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (F.normalize(torch.randn(B, D, generator=g), dim=1), torch.randint(0, 3, (B,), generator=g))
        for _ in range(STEPS)
    ]


def _xbm() -> CrossBatchMemory:
    return CrossBatchMemory(TripletMarginLoss(0.2, mining="batch_hard"), D, M, warmup_steps=1)


def _work(rank: int, world: int, out: str) -> None:
    xbm, grads = _xbm(), {}
    for i, (x, y) in enumerate(_batches()):
        xl = x[SPLIT[rank]].clone().requires_grad_(True)
        xbm(*gather_embeddings(xl, y[SPLIT[rank]])).backward()
        grads[f"grad{i}"] = xl.grad
    mem_z, mem_y = xbm.contents()
    safetensors_torch.save_file(
        {"mem_z": mem_z, "mem_y": mem_y, **grads}, str(Path(out) / f"rank{rank}.safetensors")
    )


def test_two_processes_hold_the_global_memory(tmp_path: Path) -> None:
    run_ranks(_work, tmp_path)
    got = [safetensors_torch.load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    one = _xbm()
    for i, (x, y) in enumerate(_batches()):
        xf = x.clone().requires_grad_(True)
        one(xf, y).backward()
        for r in range(2):
            assert torch.allclose(got[r][f"grad{i}"], xf.grad[SPLIT[r]], atol=1e-7), (i, r)
    mem_z, mem_y = one.contents()
    assert mem_y.numel() == M
    for r in range(2):
        assert torch.equal(got[r]["mem_z"], mem_z) and torch.equal(got[r]["mem_y"], mem_y)
