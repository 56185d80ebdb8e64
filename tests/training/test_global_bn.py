"""Global batch norm on two gloo processes equals one process's BatchNorm on the whole batch:
outputs, input and weight gradients, running statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from _gloo import run_ranks
from siamkit.distributed import all_gather_with_grad
from siamkit.training.global_bn import GlobalBatchNorm2d, use_global_batchnorm

SPLIT = [slice(0, 5), slice(5, 8)]  # uneven shares


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 4, 4, generator=g) * 3 + 5, torch.randn(8, 3, 4, 4, generator=g)


def _bn() -> nn.Module:
    torch.manual_seed(1)
    bn = nn.BatchNorm2d(3, momentum=0.3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
    return bn


def _loss(y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return ((y * w).sum(dim=(1, 2, 3)) ** 2).mean()  # mixes every sample's output


def _work(rank: int, world: int, out: str) -> None:
    x, w = _data()
    bn = nn.Sequential(_bn())
    use_global_batchnorm(bn)
    assert isinstance(bn[0], GlobalBatchNorm2d)
    xl = x[SPLIT[rank]].clone().requires_grad_(True)
    for _ in range(2):  # twice: the running statistics move twice
        y = all_gather_with_grad(bn(xl))
        _loss(y, w).backward()
    torch.save(
        {"y": y.detach(), "grad": xl.grad, "w": bn[0].weight.grad, "b": bn[0].bias.grad,
         "mean": bn[0].running_mean, "var": bn[0].running_var},
        Path(out) / f"rank{rank}.pt",
    )  # fmt: skip


def test_two_processes_normalise_as_one_with_the_whole_batch(tmp_path: Path) -> None:
    run_ranks(_work, tmp_path)
    got = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    x, w = _data()
    bn = _bn()
    xf = x.clone().requires_grad_(True)
    for _ in range(2):
        y = bn(xf)
        _loss(y, w).backward()
    tol = {"atol": 1e-5, "rtol": 1e-5}
    for r in range(2):
        torch.testing.assert_close(got[r]["y"], y.detach(), **tol)
        torch.testing.assert_close(got[r]["grad"], xf.grad[SPLIT[r]], **tol)
        torch.testing.assert_close(got[r]["mean"], bn.running_mean, **tol)
        torch.testing.assert_close(got[r]["var"], bn.running_var, **tol)
    # each process has its own samples' share of the affine parameters' gradient
    torch.testing.assert_close(got[0]["w"] + got[1]["w"], bn.weight.grad, **tol)
    torch.testing.assert_close(got[0]["b"] + got[1]["b"], bn.bias.grad, **tol)
    assert float(xf.grad.abs().sum()) > 0


def test_one_process_is_plain_batch_norm_and_restores() -> None:
    x = torch.randn(6, 3, 2, 2)
    plain = _bn()
    net = nn.Sequential(_bn())
    restore = use_global_batchnorm(net)
    torch.testing.assert_close(net(x), plain(x), rtol=0, atol=0)
    assert set(net.state_dict()) == {f"0.{k}" for k in plain.state_dict()}
    restore()
    assert type(net[0]) is nn.BatchNorm2d
    with pytest.raises(ValueError, match="expected 4D"):
        use_global_batchnorm(net)
        net(torch.randn(3, 3))
