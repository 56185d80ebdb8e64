"""The methods' training heads against lightly's (loaded without torchvision): the same layers,
shapes and, with lightly's weights copied in, the same outputs; NNCLR's queue against a naive
nearest-neighbour loop and lightly's memory bank, and its objective against lightly's recipe."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from siamkit.applications.ssl.methods import NearestNeighbourQueue, SelfSupervised, SSLHeadConfig
from siamkit.applications.ssl.peer import lightly_modules
from siamkit.encoders import create_encoder
from siamkit.models import SiameseNetwork

CFG = SSLHeadConfig(proj_dim=24, proj_hidden=40, pred_hidden=12)


@pytest.fixture(scope="module")
def lightly() -> dict[str, object]:
    return lightly_modules()


def _layers(module: nn.Module) -> list[tuple[str, list[tuple[int, ...]], bool]]:
    """Each layer's kind, parameter shapes and (BatchNorm) affinity."""
    return [
        (type(m).__name__, [tuple(p.shape) for p in m.parameters()], getattr(m, "affine", True))
        for m in module.modules()
        if not isinstance(m, nn.Sequential) and not list(m.children())
    ]


def _model(method: str) -> SelfSupervised:
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 16)
    return SelfSupervised(net, method, CFG)


def _same_outputs(ours: nn.Module, theirs: nn.Module, dim: int) -> None:
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values(), strict=True)))
    x = torch.randn(10, dim)
    for mode in (True, False):
        ours.train(mode)
        theirs.train(mode)
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), atol=1e-6), mode  # type: ignore[operator]


def test_barlow_twins_projector_is_lightlys(lightly: dict[str, object]) -> None:
    ours = _model("barlow_twins").online.projector
    head = lightly["BarlowTwinsProjectionHead"](16, 40, 24)  # type: ignore[operator]
    assert _layers(ours) == _layers(head)
    _same_outputs(ours, head, 16)


def test_nnclr_heads_are_lightlys(lightly: dict[str, object]) -> None:
    m = _model("nnclr")
    projector = lightly["NNCLRProjectionHead"](16, 40, 24)  # type: ignore[operator]
    predictor = lightly["NNCLRPredictionHead"](24, 12, 24)  # type: ignore[operator]
    assert _layers(m.online.projector) == _layers(projector)
    assert m.predictor is not None and _layers(m.predictor) == _layers(predictor)
    _same_outputs(m.online.projector, projector, 16)
    _same_outputs(m.predictor, predictor, 24)


def test_nearest_neighbour_matches_a_naive_loop() -> None:
    gen = torch.Generator().manual_seed(0)
    queue = NearestNeighbourQueue(7, 3)
    queue.bank.copy_(torch.randn(7, 3, generator=gen) * torch.rand(7, 1, generator=gen) * 4)
    z = torch.randn(9, 3, generator=gen)
    got = queue.nearest(z)
    for i in range(9):
        best, best_sim = -1, -math.inf
        for j in range(7):
            q = queue.bank[j].tolist()
            dot = sum(a * b for a, b in zip(z[i].tolist(), q, strict=True))
            sim = (
                dot
                / math.sqrt(sum(a * a for a in z[i].tolist()))
                / math.sqrt(sum(b * b for b in q))
            )
            if sim > best_sim:
                best, best_sim = j, sim
        assert torch.equal(got[i], queue.bank[best]), i  # the queued vector itself, unnormalised


def test_the_queue_fills_and_looks_up_as_lightlys_memory_bank(lightly: dict[str, object]) -> None:
    """The same pushes (batches of 4 into 10 rows: one reaches the end and is cut) give the same
    queue, position and neighbours as lightly's NNMemoryBankModule."""
    ours = NearestNeighbourQueue(10, 5)
    theirs = lightly["NNMemoryBankModule"](size=(10, 5))  # type: ignore[operator]
    theirs.bank = ours.bank.clone()
    gen = torch.Generator().manual_seed(1)
    for step in range(7):
        z = torch.randn(4, 5, generator=gen)
        want = theirs(z, update=True)  # looks up before it enqueues
        assert torch.equal(ours.nearest(z), want), step
        ours.push(z)
        assert torch.equal(ours.bank, theirs.bank), step
        assert int(ours.position) == int(theirs.bank_ptr), step
    assert "bank" in ours.state_dict() and "position" in ours.state_dict()


def test_nnclr_objective_is_lightlys_recipe(lightly: dict[str, object]) -> None:
    """lightly's NNCLR example: ``0.5 * (NTXent(NN(z0), p1) + NTXent(NN(z1), p0))`` with the
    second views' projections enqueued after the lookups."""
    m = _model("nnclr")
    bank = lightly["NNMemoryBankModule"](size=(CFG.queue_size, 24))  # type: ignore[operator]
    bank.bank = m.queue.bank.clone()  # type: ignore[union-attr]
    criterion = lightly["NTXentLoss"](temperature=CFG.temperature)  # type: ignore[operator]
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        out = torch.randn(12, 48, generator=gen)  # 6 images: (z, p) rows, first views then second
        (z0, p0), (z1, p1) = (out[:6, :24], out[:6, 24:]), (out[6:, :24], out[6:, 24:])
        nn0, nn1 = bank(z0, update=False), bank(z1, update=True)
        want = 0.5 * (criterion(nn0, p1) + criterion(nn1, p0))
        assert float(m.objective(out)) == pytest.approx(float(want), abs=1e-5)
    assert m.queue is not None and torch.equal(m.queue.bank, bank.bank)
