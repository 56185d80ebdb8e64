"""Under loss mnrl the epochs of a text run differ in length (a batch never holds a text twice,
and what each epoch's seeded order leaves over makes batches of one, dropped): the learning-rate
schedule, ``train.steps`` and the progress bar count every epoch's own steps, not the first
epoch's times ``train.epochs``, and a run cut mid-epoch resumes to the uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _text_runs import cut_run

import siamkit
from siamkit.applications.text import train as text_train
from siamkit.applications.text import train_loop
from siamkit.applications.text.pairs import read_examples
from siamkit.applications.text.train_config import parse_config
from siamkit.training.tasks import TaskOptions, get_task

LR = 1e-3


@pytest.fixture
def shared_texts(tmp_path: Path) -> Path:
    """Ten (anchor, positive) pairs: two tickets asked three ways each, and four other pairs.
    In batches of 4 with no text twice, seed 0's epochs make 3, 4 and 3 batches."""
    rows = [
        {"anchor": f"ticket {t}", "positive": f"ticket {t}, way {w}"}
        for t in range(2)
        for w in range(3)
    ]
    rows += [{"anchor": f"other ticket {k}", "positive": f"its paraphrase {k}"} for k in range(4)]
    path = tmp_path / "shared.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(tiny: Path, data: Path, **train: Any) -> dict[str, Any]:
    return {  # the default schedule (10% warm-up, linear decay) and seed
        "model": {"path": str(tiny), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "format": "anchor_positive", "val_fraction": 0},
        "loss": {"name": "mnrl"},
        "train": {"epochs": 3, "batch_size": 4, "lr": LR, **train},
    }


def _epochs(cfg: dict[str, Any], data: Path) -> list[list[list[int]]]:
    """The reference: every epoch's batches, enumerated one epoch at a time."""
    parsed = parse_config(cfg)
    ex = read_examples(data, "anchor_positive")
    return [train_loop._batches(ex, parsed, e) for e in range(parsed.train.epochs)]


class _Watch:
    """What the loop does, step by step: each batch's first texts, the learning rate it trains
    at, and the progress bars' totals and counts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[tuple[str, ...]] = []
        self.lrs: list[float] = []
        self.bars: list[list[int | None]] = []  # [total, updates]
        real_loss, real_step = train_loop.batch_loss, train_loop.backward_and_step

        def batch_loss(model: Any, cfg: Any, ex: Any) -> torch.Tensor:
            self.batches.append(ex.texts[0])
            return real_loss(model, cfg, ex)

        def backward_and_step(loss: torch.Tensor, opt: Any, *args: Any) -> None:
            self.lrs.append(opt.param_groups[0]["lr"])
            real_step(loss, opt, *args)

        watch = self

        class Bar:
            def __init__(self, total: int | None, *args: Any, **kwargs: Any) -> None:
                self.shown = [total, 0]
                watch.bars.append(self.shown)

            def update(self, n: int) -> None:
                self.shown[1] = int(self.shown[1] or 0) + n

            def set_postfix(self, **kwargs: Any) -> None:
                pass

            def write(self, line: str, out: Any = None) -> None:  # an epoch's line
                (out or print)(line)

            def close(self) -> None:
                pass

        monkeypatch.setattr(train_loop, "batch_loss", batch_loss)
        monkeypatch.setattr(train_loop, "backward_and_step", backward_and_step)
        monkeypatch.setattr(train_loop, "Progress", Bar)


def _lr(step: int, total: int) -> float:
    """The default schedule by hand: a linear warm-up over 10% of ``total`` steps (at least
    one), then a linear decay that would reach 0 at step ``total``."""
    warm = max(1, int(0.1 * total))
    return LR * min((step + 1) / warm, (total - step) / (total - warm))


def test_the_schedule_ends_at_the_last_of_every_epochs_own_steps(
    tiny_hf: Path, shared_texts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tiny_hf, shared_texts)
    epochs = _epochs(cfg, shared_texts)
    counts = [len(e) for e in epochs]
    assert counts == [3, 4, 3]  # the file is what the test is for: epochs of different lengths
    total = sum(counts)
    watch = _Watch(monkeypatch)
    options = TaskOptions(progress=True, device="cpu")
    summary = get_task("text")(cfg, tmp_path / "run", options)
    ex = read_examples(shared_texts, "anchor_positive")
    assert watch.batches == [ex.subset(b).texts[0] for e in epochs for b in e]
    assert summary.metrics["train.steps"] == total == 10  # was 9: the first epoch's 3, thrice
    # every step at the schedule's rate: none at 0 (the tenth was), the last the decay's last
    assert all(lr > 0 for lr in watch.lrs)
    for got, want in zip(watch.lrs, [_lr(s, total) for s in range(total)], strict=True):
        assert got == pytest.approx(want, rel=1e-12)
    assert watch.lrs[-1] == pytest.approx(LR / (total - 1), rel=1e-12)
    assert watch.bars == [[total, total]]  # the bar counted 9 and ran to 10


def test_a_run_cut_in_its_second_epoch_resumes_to_the_uninterrupted_run(
    tiny_hf: Path, shared_texts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tiny_hf, shared_texts, checkpoint_every=1)
    on_cpu = TaskOptions(progress=True, device="cpu")
    watch = _Watch(monkeypatch)
    full = get_task("text")(cfg, tmp_path / "full", on_cpu)
    steps, lrs = list(watch.batches), list(watch.lrs)
    assert len(steps) == 10
    watch.batches.clear(), watch.lrs.clear(), watch.bars.clear()
    cut_run(cfg, tmp_path / "cut", monkeypatch, on_cpu, at=5)  # epoch 2's second step
    state = torch.load(tmp_path / "cut" / text_train.CHECKPOINT, weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 2)
    watch.batches.clear(), watch.lrs.clear(), watch.bars.clear()
    resumed = get_task("text")(
        cfg, tmp_path / "cut", TaskOptions(progress=True, device="cpu", resume=True)
    )
    # the same batches at the same rates from step 6 on, the bar over the 5 steps left
    assert watch.batches == steps[5:]
    assert watch.lrs == lrs[5:]
    assert watch.bars == [[5, 5]]  # was [4, 5]: 3 x 3 steps less the first epoch's 3 and 2
    assert resumed.metrics["train.steps"] == full.metrics["train.steps"] == 10
    a = siamkit.load_model(full.model_dir).state_dict()
    b = siamkit.load_model(resumed.model_dir).state_dict()
    assert list(a) == list(b)
    for k, x in a.items():
        assert torch.equal(x, b[k]), k
