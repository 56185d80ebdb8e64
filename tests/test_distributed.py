"""Gathering across two CPU processes (gloo): the gradients equal those of one process with the whole batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from _gloo import run_ranks
from siamkit.distributed import (
    all_gather_with_grad,
    gather_embeddings,
    gather_embeddings_for_ddp,
    world_size,
)
from siamkit.launch_env import env_rank
from siamkit.losses.triplet import TripletMarginLoss

safetensors_torch = pytest.importorskip("safetensors.torch")

B, D = 12, 5
SPLIT = [slice(0, 7), slice(7, 12)]  # uneven local batches


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(B, D, generator=g), torch.randint(0, 3, (B,), generator=g)


def _model() -> torch.nn.Linear:
    torch.manual_seed(1)
    return torch.nn.Linear(D, 4)


def _proxies() -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.randn(3, 4, generator=torch.Generator().manual_seed(2)))


def _proxy_loss(z: torch.Tensor, y: torch.Tensor, proxies: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(z @ F.normalize(proxies, dim=1).T / 0.1, y)


def _work(rank: int, world: int, out: str) -> None:
    x, y = _data()
    rows = SPLIT[rank]
    # 1) the gathered batch and the gradient on the local embeddings
    xl = x[rows].clone().requires_grad_(True)
    z_all, y_all = gather_embeddings(xl, y[rows])
    TripletMarginLoss(0.2, mining="semihard")(z_all, y_all).backward()
    # 2) DDP: parameter gradients with the loss scaled by the world size
    ddp = torch.nn.parallel.DistributedDataParallel(_model())
    z = F.normalize(ddp(x[rows]), dim=1)
    z_all2, y_all2 = gather_embeddings(z, y[rows])
    (TripletMarginLoss(0.2, mining="all")(z_all2, y_all2) * world_size()).backward()
    w, b = ddp.module.weight.grad, ddp.module.bias.grad
    # 3) a loss with parameters of its own (class proxies), the loss not scaled
    ddp3, proxies = torch.nn.parallel.DistributedDataParallel(_model()), _proxies()
    z_all3, y_all3 = gather_embeddings_for_ddp(F.normalize(ddp3(x[rows]), dim=1), y[rows])
    _proxy_loss(z_all3, y_all3, proxies).backward()
    safetensors_torch.save_file(
        {
            "z_all": z_all.detach(),
            "y_all": y_all,
            "grad": xl.grad,
            "w": w,
            "b": b,
            "w3": ddp3.module.weight.grad,
            "proxies": proxies.grad,
        },
        str(Path(out) / f"rank{rank}.safetensors"),
    )


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    run_ranks(_work, tmp_path)
    got = [safetensors_torch.load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    x, y = _data()
    # one process, whole batch
    xf = x.clone().requires_grad_(True)
    TripletMarginLoss(0.2, mining="semihard")(xf, y).backward()
    model = _model()
    TripletMarginLoss(0.2, mining="all")(F.normalize(model(x), dim=1), y).backward()
    model3, proxies = _model(), _proxies()
    _proxy_loss(F.normalize(model3(x), dim=1), y, proxies).backward()
    for r in range(2):
        # with the loss scaled by the world size instead, the proxies' gradient was twice this
        assert torch.allclose(got[r]["proxies"], proxies.grad, atol=1e-6)
        assert torch.allclose(got[r]["w3"], model3.weight.grad, atol=1e-6)
        assert torch.equal(got[r]["z_all"], x) and torch.equal(got[r]["y_all"], y)
        assert torch.allclose(got[r]["grad"], xf.grad[SPLIT[r]], atol=1e-7)
        assert torch.allclose(got[r]["w"], model.weight.grad, atol=1e-6)
        assert torch.allclose(got[r]["b"], model.bias.grad, atol=1e-6)
    assert float(xf.grad.abs().sum()) > 0


def test_single_process_is_a_no_op() -> None:
    z, y = torch.randn(3, 2, requires_grad=True), torch.arange(3)
    z2, y2 = gather_embeddings(z, y)
    assert z2 is z and y2 is y and all_gather_with_grad(z) is z and world_size() == 1
    z3, y3 = gather_embeddings_for_ddp(z, y)
    assert torch.equal(z3, z) and y3 is y
    with pytest.raises(ValueError, match="expected z"):
        gather_embeddings(z, y[:2])


def test_more_processes_than_gpus_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun --nproc_per_node=2 on a one-GPU machine: torch.cuda.set_device(1) would say only
    "invalid device ordinal" (and NCCL cannot share a GPU). Every process refuses, the first one
    too: on an H200 it otherwise waited 30 s for the second until torchrun killed it."""
    from siamkit.training import ddp

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    set_to: list[int] = []
    monkeypatch.setattr(torch.cuda, "set_device", set_to.append)
    monkeypatch.setattr(ddp.dist, "is_initialized", lambda: True)  # no group is joined
    monkeypatch.setattr(ddp.dist, "get_rank", lambda: env_rank())
    monkeypatch.setattr(ddp.dist, "get_world_size", lambda: 2)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        monkeypatch.setenv("LOCAL_RANK", rank)
        with pytest.raises(
            ValueError, match=r"started 2 processes .* 1 CUDA GPU and .*--nproc_per_node"
        ):
            ddp.setup_distributed("auto")
    assert set_to == []
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")  # two machines of one GPU each
    monkeypatch.setenv("LOCAL_RANK", "0")
    ctx = ddp.setup_distributed("auto")
    assert set_to == [0] and ctx.device == torch.device("cuda", 0) and ctx.rank == 1


def _seeded_apart(rank: int, world: int, out: str) -> None:
    import os

    from siamkit.training import Trainer, apply_overrides, build_model, load_config, load_run_data

    os.environ["WORLD_SIZE"] = str(world)  # setup_distributed joins the group run_ranks made
    root = Path(__file__).resolve().parents[1]
    cfg = apply_overrides(
        load_config(root / "configs" / "digits-tiny.yaml"),
        ["loss.kind=proxy_anchor", "loss.mining=null", "train.device=cpu"],
    )
    data = load_run_data(cfg.data)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    torch.manual_seed(100 + rank)  # a script that seeds each process apart
    trainer = Trainer.from_config(net, cfg, data, progress=False)
    state = {k: v.contiguous() for k, v in trainer.objective.state_dict().items()}
    safetensors_torch.save_file(state, str(Path(out) / f"loss{rank}.safetensors"))


def test_a_loss_with_proxies_starts_with_the_same_proxies_on_every_rank(tmp_path: Path) -> None:
    """DDP brings the network's weights together at the start, but a loss's class proxies were
    each process's own draw: with the processes seeded apart they differed all run long."""
    run_ranks(_seeded_apart, tmp_path)
    got = [safetensors_torch.load_file(str(tmp_path / f"loss{r}.safetensors")) for r in range(2)]
    assert got[0] and got[0].keys() == got[1].keys()
    for name, value in got[0].items():
        assert torch.equal(value, got[1][name]), name
