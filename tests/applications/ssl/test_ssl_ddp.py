"""``task: ssl`` data-parallel on two gloo processes: the same weights as one process on the
same global batch (SimCLR, NNCLR, VICReg, Barlow Twins), rank 0 alone writes, resume is exact,
BYOL's target, NNCLR's queue and the monitors agree."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from _gloo import run_ranks
from siamkit.applications.ssl import trainer as ssl_trainer
from siamkit.applications.ssl.config import ssl_config_from_dict
from siamkit.applications.ssl.data import load_ssl_data
from siamkit.applications.ssl.task import build_ssl_model
from siamkit.applications.ssl.trainer import build_ssl_trainer, gather_views
from siamkit.applications.ssl.views import ViewConfig
from siamkit.losses.functional import nt_xent_loss

DOC: dict[str, Any] = {
    "method": "simclr",
    "data": {"dataset": "digits", "limit": 200},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32, "pred_hidden": 8},
    # SGD: a bias before a batch norm has a zero gradient up to rounding, which Adam's
    # normalisation would turn into full-size steps of opposite signs on 1 and 2 processes
    "optim": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "cosine"},
    "train": {"epochs": 2, "batch_size": 16, "steps_per_epoch": 3, "knn_k": 5, "device": "cpu",
              "monitor_images": 64},
}  # fmt: skip
#: largest |difference| measured between the 2-process and the 1-process run of this test
#: (float32 sums in another order, 6 SGD steps): 6e-7 on the weights, 1.3e-6 on the batch-norm
#: running means, 2e-7 on the loss. Measured wrong variants: NT-Xent on each process's local
#: batch moved a weight by 0.073, per-process batch-norm statistics by 0.149
TOL = 2e-5
#: Barlow Twins' learning rate here. At DOC's 0.05 its steps grow any rounding difference ~8x a
#: step (2.5e-6 apart after one step, 2e-3 after six, measured), which says nothing about the
#: gathering. At 0.005 the state moves by up to 0.66 in the 6 steps and the 2-process run stays
#: within 3.8e-6 of the 1-process one (1.6e-6 to 2e-6 after 3 steps: rounding grows ~1.3x a
#: step), the epoch losses (~13 to 20) within 1e-6 relative, measured with 1 and 2 threads on the
#: one process: TOL and BARLOW_LOSS_REL hold 5x and 10x that. Measured wrong variants: the
#: cross-correlation of each process's local batch moved a weight by 0.44 and an epoch loss by
#: 3.2 (16%), the gradient multiplied by the process count (loss_scale doubled) a weight by 0.35
#: and an epoch loss by 4.2
BARLOW_LR = 0.005
BARLOW_LOSS_REL = 1e-5


def _cfg(method: str = "simclr", lr: float | None = None, **ssl: Any) -> Any:
    doc = copy.deepcopy(DOC)
    doc["method"] = method
    doc["ssl"].update(ssl)
    if lr is not None:
        doc["optim"]["lr"] = lr
    return ssl_config_from_dict(doc)


def _train(out_dir: Path | None, method: str = "simclr", epochs: int | None = None,
           resume: bool = False, lr: float | None = None,
           **ssl: Any) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:  # fmt: skip
    cfg = _cfg(method, lr, **ssl)
    data = load_ssl_data(cfg.data)
    model = build_ssl_model(cfg, data)
    trainer, _ = build_ssl_trainer(model, cfg, data, out_dir, progress=False)
    if epochs is not None:  # stop after this many epochs (the schedule is the 2-epoch run's)
        trainer.epochs = epochs
    trainer.fit(resume=resume)
    return {k: v.clone() for k, v in model.state_dict().items()}, trainer.history


def _work(rank: int, world: int, out: str) -> None:
    os.environ["WORLD_SIZE"] = str(world)  # setup_distributed joins the group run_ranks made
    root = Path(out)
    straight, history = _train(root / f"straight{rank}")  # each rank its own folder
    _train(root / "resumed", epochs=1)  # one folder, as under torchrun: rank 0 writes it
    resumed, resumed_history = _train(root / "resumed", resume=True)
    byol, byol_history = _train(None, "byol")
    nnclr, _ = _train(None, "nnclr", queue_size=40)  # global batches of 16: it wraps around
    # VICReg's variance and covariance terms: of the global batch
    vicreg, _ = _train(None, "vicreg")
    # Barlow Twins' cross-correlation: of the global batch, each dimension standardised over it
    barlow, barlow_history = _train(None, "barlow_twins", lr=BARLOW_LR)
    # just under the bound (~1), which no embedding here reaches: rank 0's monitor sees a collapse
    _, collapsed_history = _train(None, "simsiam", collapse_std=0.99)
    torch.save(
        {"straight": straight, "history": history, "resumed": resumed,
         "resumed_history": resumed_history, "byol": byol, "byol_history": byol_history,
         "collapsed_history": collapsed_history, "nnclr": nnclr, "vicreg": vicreg,
         "barlow": barlow, "barlow_history": barlow_history},
        root / f"rank{rank}.pt",
    )  # fmt: skip


class _Joined:
    """One process's batch source yielding the concatenation of the two ranks' shares."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("rank"), kwargs.pop("world")
        self.parts = [_ORIGINAL(*args, **kwargs, rank=r, world=2) for r in range(2)]
        self.steps = self.parts[0].steps

    def epoch(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        for batches in zip(*(p.epoch(epoch) for p in self.parts), strict=True):
            xs = [b[0] for b in batches]
            n = [x.shape[0] // 2 for x in xs]
            first = torch.cat([x[:k] for x, k in zip(xs, n, strict=True)])
            second = torch.cat([x[k:] for x, k in zip(xs, n, strict=True)])
            yield torch.cat([first, second]), torch.zeros(2 * sum(n), dtype=torch.int64)


_ORIGINAL = ssl_trainer.ViewPairBatches


def test_two_processes_train_as_one_on_the_global_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ranks(_work, tmp_path)
    got = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    monkeypatch.setattr(ssl_trainer, "ViewPairBatches", _Joined)
    one, one_history = _train(None)
    for r in range(2):
        for name, value in one.items():
            torch.testing.assert_close(got[r]["straight"][name], value, atol=TOL, rtol=0, msg=name)
        losses = [h["loss"] for h in got[r]["history"][1:]]
        assert losses == pytest.approx([h["loss"] for h in one_history[1:]], abs=TOL)
    moved = max(float((one[k] - v).abs().max()) for k, v in _train(None, epochs=0)[0].items())
    assert moved > 100 * TOL  # the weights did move
    # NNCLR: each process enqueues the global batch's projections, as one process does
    one_nnclr, _ = _train(None, "nnclr", queue_size=40)
    for name, value in one_nnclr.items():  # the queued projections: the last layer's batch
        # norm scales the rounding up (1.3e-4 measured, on values up to ~3)
        tol = 1e-3 if name == "queue.bank" else TOL
        torch.testing.assert_close(got[0]["nnclr"][name], value, atol=tol, rtol=0, msg=name)
    # VICReg's batch statistics: the global batch's, as one process's
    for name, value in _train(None, "vicreg")[0].items():
        torch.testing.assert_close(got[0]["vicreg"][name], value, atol=TOL, rtol=0, msg=name)
    # Barlow Twins' cross-correlation: the global batch's, at a rate that keeps rounding small
    one_barlow, one_barlow_history = _train(None, "barlow_twins", lr=BARLOW_LR)
    for name, value in one_barlow.items():
        torch.testing.assert_close(got[0]["barlow"][name], value, atol=TOL, rtol=0, msg=name)
    losses = [h["loss"] for h in got[0]["barlow_history"][1:]]
    assert losses == pytest.approx([h["loss"] for h in one_barlow_history[1:]], rel=BARLOW_LOSS_REL)
    start = _train(None, "barlow_twins", epochs=0, lr=BARLOW_LR)[0]
    assert max(float((one_barlow[k] - v).abs().max()) for k, v in start.items()) > 100 * TOL
    # the ranks hold the very same weights, monitors, BYOL target and NNCLR queue
    for key in ("straight", "resumed", "byol", "nnclr", "barlow"):
        for name, value in got[0][key].items():
            assert torch.equal(value, got[1][key][name]), (key, name)
    keys = ("loss", "collapse_std", "knn")  # (not the timings)
    rows = [[{k: h.get(k) for k in keys} for h in got[r]["byol_history"]] for r in range(2)]
    assert rows[0] == rows[1] and len(rows[0]) == 3
    assert any(k.startswith("target.") for k in got[0]["byol"])
    assert [len(got[r]["collapsed_history"]) for r in range(2)] == [2, 2]  # both stopped
    # rank 0 alone wrote its checkpoint; resume after a stop continues exactly
    assert (tmp_path / "straight0" / "checkpoint.pt").is_file()
    assert not (tmp_path / "straight1").exists()
    for name, value in got[0]["straight"].items():
        assert torch.equal(value, got[0]["resumed"][name]), name
    assert [h["loss"] for h in got[0]["resumed_history"]] == [h["loss"] for h in got[0]["history"]]


def test_gather_views_orders_first_views_then_second() -> None:
    out = torch.randn(6, 4, requires_grad=True)
    z, labels = gather_views(out, torch.zeros(6, dtype=torch.int64))  # one process: the input
    assert torch.equal(z, out) and labels.shape == (6,)
    # the loss on the gathered batch is NT-Xent on (first views, second views)
    assert torch.equal(nt_xent_loss(z[:3], z[3:], 0.5), nt_xent_loss(out[:3], out[3:], 0.5))


def test_batch_size_must_split_evenly() -> None:
    cfg = _cfg()
    with pytest.raises(ValueError, match="multiple of the 3 processes"):
        ssl_trainer.ViewPairBatches(
            torch.rand(40, 1, 8, 8), 16, None, 0, ssl_trainer.ViewMaker(cfg.views),
            torch.device("cpu"), rank=0, world=3,
        )  # fmt: skip


def test_ranks_draw_disjoint_shares_of_each_batch() -> None:
    # constant images i * 5 under identity views: a view's mean names its image
    x = (torch.arange(40, dtype=torch.uint8) * 5).view(40, 1, 1, 1).expand(40, 1, 8, 8).contiguous()
    cfg = ViewConfig(crop_scale=(1.0, 1.0), flip=False, jitter_p=0, gray_p=0,
                                 blur_p=0, erase_p=0)  # fmt: skip
    views, cpu = ssl_trainer.ViewMaker(cfg), torch.device("cpu")
    one = ssl_trainer.ViewPairBatches(x, 8, None, 0, views, cpu)
    shares = [
        ssl_trainer.ViewPairBatches(x, 8, None, 0, views, cpu, rank=r, world=2) for r in range(2)
    ]
    assert one.steps == shares[0].steps == 5
    ids = lambda b: (b[0].mean(dim=(1, 2, 3)) * 255 / 5).round().long().tolist()  # noqa: E731
    for a, b0, b1 in zip(one.epoch(3), shares[0].epoch(3), shares[1].epoch(3), strict=True):
        whole, r0, r1 = ids(a), ids(b0), ids(b1)
        assert r0[:4] == r0[4:] and r1[:4] == r1[4:]  # two views of the same 4 images
        assert not set(r0) & set(r1) and r0[:4] + r1[:4] == whole[:8]


def test_a_run_resumes_on_another_process_count(tmp_path: Path) -> None:
    """train.batch_size is the global batch, so a run of two processes can continue on one (or
    the other way): the resume was refused with the embedding runs' reason ('the process count
    sets an embedding run's batch'), though the steps, batches and schedule are the same."""
    from siamkit.training.checkpoint import load_checkpoint, save_checkpoint

    straight, history = _train(None)
    _train(tmp_path, epochs=1)
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint({**load_checkpoint(ckpt), "world": 2}, ckpt)  # as two processes write it
    cfg = _cfg()
    data = load_ssl_data(cfg.data)
    model = build_ssl_model(cfg, data)
    said: list[str] = []
    trainer, _ = build_ssl_trainer(model, cfg, data, tmp_path, progress=False, log=said.append)
    trainer.fit(resume=True)
    assert said[0] == (
        "resuming a run of 2 processes on 1: each step takes the same 16 images (train.batch_size "
        "is the global batch), with other random views than the uninterrupted run would draw"
    )
    # (one process resuming a one-process run: the same views, so the same weights)
    for name, value in model.state_dict().items():
        assert torch.equal(value, straight[name]), name
    assert [h["loss"] for h in trainer.history] == [h["loss"] for h in history]
    # a finished run resumed on another count trains no step: nothing to say about its views
    save_checkpoint({**load_checkpoint(ckpt), "world": 2}, ckpt)
    said.clear()
    again, _ = build_ssl_trainer(model, cfg, data, tmp_path, progress=False, log=said.append)
    again.fit(resume=True)
    assert said == []
