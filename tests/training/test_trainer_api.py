"""The Trainer handed its parts (no run config): hooks in order, checkpoints, a clear misuse error."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from siamkit import SiameseNetwork
from siamkit.encoders import create_encoder
from siamkit.losses import TripletMarginLoss
from siamkit.training import Callback, PKBatches, Trainer
from siamkit.training.checkpoint import load_checkpoint


class _Recorder(Callback):
    key = "recorder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        self.calls.append(f"start resumed={resumed}")

    def on_step_end(self, trainer: Trainer) -> None:
        self.calls.append("step")

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self.calls.append(f"epoch {row['epoch']}")
        row["steps_seen"] = self.calls.count("step")
        trainer.stop = row["epoch"] == 2

    def on_fit_end(self, trainer: Trainer) -> None:
        self.calls.append("end")

    def state_dict(self) -> Any:
        return {"calls": len(self.calls)}


def _parts(seed: int = 0) -> tuple[SiameseNetwork, PKBatches]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(8).repeat_interleave(12)  # (96,)
    x = torch.randn(8, 6, generator=g)[y] + 0.3 * torch.randn(96, 6, generator=g)  # (96, 6)
    torch.manual_seed(seed)
    net = SiameseNetwork(create_encoder("mlp", in_features=6, hidden=(16,)), 4)
    return net, PKBatches(x, y, p=4, k=4, seed=seed)


def test_trainer_from_parts_runs_hooks_in_order_and_stops(tmp_path) -> None:
    net, batches = _parts()
    before = [p.detach().clone() for p in net.parameters()]
    rec = _Recorder()
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    trainer = Trainer(
        net, TripletMarginLoss(0.2, mining="batch_hard"), opt, batches, epochs=5,
        callbacks=[rec], checkpoint=tmp_path / "ck.pt",
    )  # fmt: skip
    result = trainer.fit()
    assert batches.steps == 6  # at most 96 items // (4 x 4) batches an epoch
    first, second = rec.calls.index("epoch 1"), rec.calls.index("epoch 2")
    assert rec.calls[0] == "start resumed=False" and rec.calls[second + 1 :] == ["end"]
    assert set(rec.calls[1:first]) == set(rec.calls[first + 1 : second]) == {"step"}
    assert result.stopped_early and len(result.history) == 2
    assert [h["steps_seen"] for h in result.history] == [first - 1, second - 2]
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    state = load_checkpoint(tmp_path / "ck.pt")
    assert state["epoch"] == 2 and state["stopped"] and state["recorder"] == {"calls": second + 1}


def test_an_old_style_call_says_to_use_from_config() -> None:
    net, _ = _parts()
    with pytest.raises(TypeError, match=r"Trainer\.from_config\(net, cfg, data"):
        Trainer(net, object(), None, None)  # type: ignore[arg-type]


def test_an_optimizer_of_another_network_is_refused() -> None:
    """The README's Trainer line after ``net = siamkit.load_model(...)`` handed it the optimizer
    of the network built before: every step left the weights as they were, and nothing said so."""
    net, batches = _parts()
    other, _ = _parts(seed=1)
    opt = torch.optim.Adam(other.parameters(), 1e-2)
    with pytest.raises(ValueError, match="optimizer holds none of the network's parameters"):
        Trainer(net, TripletMarginLoss(0.2), opt, batches)
    Trainer(net, TripletMarginLoss(0.2), torch.optim.Adam(net.parameters(), 1e-2), batches)
    # no optimizer at all: it said "'NoneType' object has no attribute 'param_groups'"
    with pytest.raises(TypeError, match=r"optimizer must be a torch optimizer .* got NoneType"):
        Trainer(net, TripletMarginLoss(0.2), None, batches)  # type: ignore[arg-type]


def test_a_checkpoint_of_another_process_count_is_not_resumed(tmp_path) -> None:
    """Each process draws its own P×K batch, so the process count sets the steps of an epoch and
    the schedule's length: a checkpoint of two processes resumed in one restarted the schedule
    part-way without a word."""
    from siamkit.training.checkpoint import save_checkpoint

    def trainer(epochs: int) -> Trainer:
        net, batches = _parts()
        opt = torch.optim.Adam(net.parameters(), 1e-2)
        loss = TripletMarginLoss(0.2, mining="batch_hard")
        return Trainer(net, loss, opt, batches, epochs=epochs, checkpoint=tmp_path / "ck.pt")

    trainer(1).fit()
    state = load_checkpoint(tmp_path / "ck.pt")
    assert state["world"] == 1
    trainer(2).fit(resume=True)  # the same count resumes
    save_checkpoint({**state, "world": 2}, tmp_path / "ck.pt")
    with pytest.raises(ValueError, match=r"^the checkpoint was made by 2 processes, not 1: "):
        trainer(3).fit(resume=True)


def test_pk_batches_refuse_fewer_batches_an_epoch_than_processes() -> None:
    """40 images make one batch of 6 classes x 8 an epoch; the plan is cut to a multiple of the
    processes, so under two processes neither drew a batch: every epoch trained no step (loss
    nan), while the run said 'an epoch is 1 steps' and saved the untrained model."""
    y = torch.arange(6).repeat(20)
    x = torch.zeros(len(y), 1, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"^the 40 training images make fewer batches of 6 "):
        PKBatches(x[:40], y[:40], p=6, k=8, rank=1, world=2)
    assert len(list(PKBatches(x[:40], y[:40], p=6, k=8).epoch(0))) == 1  # one process: one
    two = PKBatches(x, y, p=6, k=8, rank=1, world=2)  # 120 images: two batches, one each
    assert two.steps == 1 and len(list(two.epoch(0))) == 1


def test_pk_batches_refuse_labels_that_do_not_match_the_items() -> None:
    import numpy as np

    x, y = torch.rand(40, 1, 8, 8), torch.arange(40) % 4
    with pytest.raises(
        ValueError, match=r"one label per item: x is shaped \(40, 1, 8, 8\), y \(30,\)"
    ):
        PKBatches(x, y[:30], p=2, k=4)  # the last 10 images would never be drawn
    with pytest.raises(ValueError, match=r"y \(40, 1\) \(y must be 1-D"):
        PKBatches(x, y[:, None], p=2, k=4)
    with pytest.raises(
        TypeError, match=r"^PKBatches takes torch tensors, got ndarray for x; convert it with"
    ):
        PKBatches(x.numpy(), np.arange(40) % 4, p=2, k=4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got list for y; convert it with torch\.as_tensor"):
        PKBatches(x, [0, 1] * 20, p=2, k=4)  # type: ignore[arg-type]


def test_a_resumed_run_keeps_the_grad_scalers_state(tmp_path, interrupted_at) -> None:
    """The GradScaler of a float16 run (here a CPU one, growing every 2 steps) is in the
    checkpoint: a resumed run ends with the uninterrupted run's scale and growth count and the
    same weights, where a scaler started afresh would begin again at its initial scale."""

    def train(out, resume: bool = False) -> tuple[SiameseNetwork, torch.amp.GradScaler]:
        net, batches = _parts()
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4, growth_interval=2)
        opt = torch.optim.Adam(net.parameters(), 1e-2)
        loss = TripletMarginLoss(0.2, mining="batch_hard")
        ck = out / "ck.pt"
        Trainer(net, loss, opt, batches, epochs=3, checkpoint=ck, scaler=scaler).fit(resume)
        return net, scaler

    full, full_scaler = train(tmp_path)
    assert full_scaler.get_scale() > 2.0**4  # it grew: no step overflowed
    with interrupted_at(9):  # the 3rd step of epoch 2
        train(tmp_path / "cut")
    net, scaler = train(tmp_path / "cut", resume=True)
    assert scaler.state_dict() == full_scaler.state_dict()
    for a, b in zip(full.state_dict().values(), net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
