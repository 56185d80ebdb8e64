"""benchmarks/val_ftjoin.py (issue 17's eleventh SSL rule): the join of the start's and the
fine-tuned embeddings against hand-computed figures, the frozen start of a real (tiny, synthetic)
``bench_ssl.finetune`` run, the emptied test split (test_ssl_val_finetune.py: its helper), and the rule's verdict at its boundaries."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from _bench_scripts import load_script, spy_on_finetune

from siamkit.training import apply_overrides
from siamkit.training.trainer import seed_everything


@pytest.fixture(scope="module")
def ft():
    return load_script("val_ftjoin")


def test_join_by_hand(ft) -> None:
    start = torch.tensor([[3.0, 4.0]])  # normalised: [0.6, 0.8]
    tuned = torch.tensor([[0.0, 2.0]])  # normalised: [0, 1]
    # w = 0.5: [0.3, 0.4, 0, 1] / sqrt(1.25)
    r = math.sqrt(1.25)
    want = torch.tensor([[0.3 / r, 0.4 / r, 0.0, 1.0 / r]])
    assert torch.allclose(ft.join(start, tuned, 0.5), want, atol=1e-6)
    # w = 1: [0.6, 0.8, 0, 1] / sqrt(2)
    s = math.sqrt(2.0)
    want1 = torch.tensor([[0.6 / s, 0.8 / s, 0.0, 1.0 / s]])
    assert torch.allclose(ft.join(start, tuned, 1.0), want1, atol=1e-6)
    # the weight is on the start's part: swapping the inputs gives another vector
    assert not torch.allclose(ft.join(tuned, start, 0.5), want, atol=1e-3)


@pytest.fixture()
def tiny(ft, monkeypatch):
    """``bench_ssl.finetune`` on synthetic data of classes 0-3 whose test split holds 6-9, with a
    spy recording the config and data its Trainer gets, and a small network shape."""
    bench = ft.bench_ssl
    data, shape, seen = spy_on_finetune(bench, monkeypatch)
    extra = ["data.train_classes=[0,1,2,3]", "train.classes_per_batch=4"]
    return bench, shape, extra, seen, data


def test_scratch_start_is_the_random_init_and_stays_frozen(ft, tiny) -> None:
    bench, shape, extra, seen, data = tiny
    start, tuned = ft.finetune_with_start(0, None, shape, extra)
    # the start is the seeded random initialisation the fine-tune began from ...
    cfg = apply_overrides(bench.RunConfig(), ["model.encoder_kwargs={\"widths\": [4, 8]}", "model.embedding_dim=8"])  # fmt: skip
    seed_everything(0)
    init = bench.build_model(cfg.model, data.input_shape, *data.channel_stats())
    assert ft.same_weights(start, init)
    # ... which the fine-tune stepped away from, while the start did not move
    assert not ft.same_weights(start, tuned)
    assert not any(p.requires_grad for p in start.parameters())
    # the Trainer saw no test image (the spy's data had four classes of 6-9 in it)
    (_, d), *more = seen
    assert not more and d.test_y.numel() == 0 and d.test_x.shape[0] == 0
    assert data.test_y.numel() == 12  # the loader's own data is left as it was


def test_ssl_start_is_the_saved_model(ft, tiny, tmp_path) -> None:
    _, shape, extra, _, _ = tiny
    torch.manual_seed(5)
    with torch.no_grad():
        for p in shape.parameters():
            p.add_(torch.randn_like(p))  # weights no seeded init would give
    src = ft.save_model(shape, tmp_path / "model")
    start, tuned = ft.finetune_with_start(0, src, shape, extra)
    assert ft.same_weights(start, shape)
    assert not ft.same_weights(tuned, shape)


@pytest.mark.parametrize(
    "broken_copy",
    [
        lambda net: net,  # the "copy" is the trained network itself
        copy.copy,  # a shallow copy: its own module, the live network's tensors
    ],
    ids=["identity", "shallow"],
)
def test_a_start_stepped_by_the_fine_tune_is_refused(ft, tiny, monkeypatch, broken_copy) -> None:
    # A "frozen copy" sharing the live tensors is stepped with the fine-tune: the check against
    # the state taken before training names that, not "the fine-tune left the network unchanged"
    # (the start did move, with the network).
    _, shape, extra, _, _ = tiny
    monkeypatch.setattr(ft, "frozen_copy", broken_copy)
    with pytest.raises(RuntimeError, match="the frozen start changed while the fine-tune stepped"):
        ft.finetune_with_start(0, None, shape, extra)


def _rows(gap: float, eer: float, ref_gap: float = 0.04, ref_eer: float = 0.2) -> dict:
    rows = {"ref from ssl": {"val_2w1s": 0.8 + ref_gap, "val_eer": ref_eer}}
    rows["ref from scratch"] = {"val_2w1s": 0.8, "val_eer": 0.3}
    rows["join 1.0 from ssl"] = {"val_2w1s": 0.7 + gap, "val_eer": eer}
    rows["join 1.0 from scratch"] = {"val_2w1s": 0.7, "val_eer": 0.3}
    return rows


@pytest.mark.parametrize(
    ("gap", "eer", "fails"),
    [
        (0.035, 0.205, False),  # both at the limit
        (0.0349, 0.2, True),  # gap below ref's by more than 0.005
        (0.06, 0.2051, True),  # from-SSL EER above ref's by more than 0.005
    ],
)
def test_fold_condition(ft, gap: float, eer: float, fails: bool) -> None:
    outcome, lines = ft.judge([_rows(gap, eer)] * 3, "join 1.0")
    assert outcome.startswith("fails at fold 1") == fails
    assert len(lines) == (1 if fails else 3)  # it stops at the first failing fold


def test_pass_needs_the_lead_and_no_worse_eer(ft) -> None:
    assert ft.judge([_rows(0.051, 0.2)] * 3, "join 1.0")[0].startswith("passes")
    assert ft.judge([_rows(0.0509, 0.2)] * 3, "join 1.0")[0].startswith("does not pass")
    assert ft.judge([_rows(0.06, 0.201)] * 3, "join 1.0")[0].startswith("does not pass")
    # a failing second fold ends it there, whatever the third says
    folds = [_rows(0.06, 0.2), _rows(0.0, 0.2), _rows(0.2, 0.1)]
    outcome, lines = ft.judge(folds, "join 1.0")
    assert outcome == "fails at fold 2" and len(lines) == 2
    assert ft.judge(folds[:1], "join 1.0")[0].startswith("no verdict")
