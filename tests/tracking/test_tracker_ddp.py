"""SiamFC training data-parallel on two gloo processes: the same weights as one process on the
same global batch, rank 0 alone writes the checkpoint, the time-limit stop is shared and resume
continues exactly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from _gloo import run_ranks
from siamkit.applications.tracking import train as tracking_train
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.pairs import SequencePairs
from siamkit.applications.tracking.train import SiamFCPairBatches, TrainSettings, train_siamfc
from siamkit.data.synthetic_tracking import linear_square_sequence

# SGD: see tests/applications/ssl/test_ssl_ddp.py (Adam turns rounding-level gradients into steps)
S = TrainSettings(steps=4, batch_size=4, lr=1e-2, final_lr=1e-3, threads=1, checkpoint_every=2,
                  device="cpu")  # fmt: skip
#: largest |difference| measured between the 2-process and the 1-process run (4 steps): 1.5e-8
#: on the weights, 6e-8 on batch-norm running statistics, 3e-8 on the losses; with per-process
#: batch-norm statistics (the measured wrong variant) the first parameter was off by 2.1e-4
TOL = 1e-5


def _source() -> SequencePairs:
    return SequencePairs([linear_square_sequence(n_frames=10)], max_gap=5)


def _sgd(params: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


def _train(settings: TrainSettings, checkpoint: Path | None = None, resume: bool = False
           ) -> tuple[dict[str, Tensor], list[float], bool]:  # fmt: skip
    torch.manual_seed(0)
    net = SiamFCNet("tiny")
    result = train_siamfc(net, _source(), settings, checkpoint, resume)
    return net.state_dict(), [h["loss"] for h in result.history], result.stopped_early


def _work(rank: int, world: int, out: str) -> None:
    os.environ["WORLD_SIZE"] = str(world)  # setup_distributed joins the group run_ranks made
    torch.optim.AdamW = _sgd  # type: ignore[misc,assignment]
    root = Path(out)
    straight = _train(S, root / f"straight{rank}" / "ck.pt")  # each rank its own folder
    stopped = _train(replace(S, max_minutes=1e-9), root / "ck.pt")  # one file: rank 0 writes
    resumed = _train(S, root / "ck.pt", resume=True)
    torch.save({"straight": straight, "stopped": stopped, "resumed": resumed},
               root / f"rank{rank}.pt")  # fmt: skip


class _Joined:
    """One process's batch source yielding the two ranks' shares as one batch."""

    def __init__(self, source: Any, net: Any, s: Any, rank: int, world: int, device: Any) -> None:
        self.parts = [SiamFCPairBatches(source, net, s, r, 2, device) for r in range(2)]
        self.steps, self.steps_in = self.parts[0].steps, self.parts[0].steps_in

    def epoch(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        for pair in zip(*(p.epoch(epoch) for p in self.parts), strict=True):
            yield torch.cat([b[0] for b in pair]), torch.cat([b[1] for b in pair])


def test_two_processes_train_as_one_on_the_global_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ranks(_work, tmp_path)
    got = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    monkeypatch.setattr(torch.optim, "AdamW", _sgd)
    monkeypatch.setattr(tracking_train, "SiamFCPairBatches", _Joined)
    one, one_losses, _ = _train(S)
    torch.manual_seed(0)
    start = SiamFCNet("tiny").state_dict()
    for r in range(2):
        weights, losses, _ = got[r]["straight"]
        for name, value in one.items():
            torch.testing.assert_close(weights[name], value, atol=TOL, rtol=0, msg=name)
        assert losses == pytest.approx(one_losses, abs=TOL)
    assert max(float((one[k].float() - v.float()).abs().max()) for k, v in start.items()) > 1e-3
    for key in ("straight", "resumed"):
        for name, value in got[0][key][0].items():
            assert torch.equal(value, got[1][key][0][name]), (key, name)
    # rank 0 alone wrote; both stopped after the first epoch; resume continued exactly
    assert (tmp_path / "straight0" / "ck.pt").is_file() and not (tmp_path / "straight1").exists()
    assert [len(got[r]["stopped"][1]) for r in range(2)] == [1, 1]
    assert all(got[r]["stopped"][2] for r in range(2))
    for name, value in got[0]["straight"][0].items():
        assert torch.equal(value, got[0]["resumed"][0][name]), name
    assert got[0]["resumed"][1] == got[0]["straight"][1]


def test_batch_size_must_split_evenly() -> None:
    with pytest.raises(ValueError, match="multiple of the 3 processes"):
        SiamFCPairBatches(_source(), SiamFCNet("tiny"), S, 0, 3)


def test_a_resume_on_another_process_count_is_refused_in_the_trackers_words(
    tmp_path: Path,
) -> None:
    """A tracker run resumed on another process count was refused with the embedding run's
    reason (its batch, epoch length and schedule), none of which the process count sets for
    the tracker (its batch is global, its schedule train.steps): its frame pairs are."""
    ck = tmp_path / "ck.pt"
    one = replace(S, steps=2)
    _train(one, ck)
    state = torch.load(ck, weights_only=False)
    assert state["world"] == 1
    state["world"] = 2  # as a two-process launch records it
    torch.save(state, ck)
    before = ck.read_bytes()
    with pytest.raises(ValueError) as err:
        _train(replace(one, steps=4), ck, resume=True)
    assert str(err.value) == (
        "the checkpoint was made by 2 processes, not 1: resume with `siamkit train "
        "--nproc-per-node 2` or torchrun --nproc_per_node=2 (each process draws its share of a "
        "tracker run's frame pairs from a stream seeded by the process count, so another count "
        "would not continue the run's pairs)"
    )
    assert ck.read_bytes() == before
