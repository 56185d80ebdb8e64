"""The weight average against a naive loop, alone and inside the Trainer (final weights, resume)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import siamkit.training.trainer as trainer_mod
from siamkit.training import Trainer, apply_overrides
from siamkit.training.checkpoint import load_checkpoint
from siamkit.training.ema import WeightAverage
from siamkit.training.from_config import make_validator


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 2))


def _naive_average(states: list[dict[str, torch.Tensor]], decay: float) -> dict[str, torch.Tensor]:
    avg = {k: v.clone() for k, v in states[0].items()}
    for state in states[1:]:
        for k, v in state.items():
            if v.is_floating_point():
                avg[k] = decay * avg[k] + (1 - decay) * v
            else:
                avg[k] = v.clone()
    return avg


def _naive_corrected(
    states: list[dict[str, torch.Tensor]], decay: float
) -> dict[str, torch.Tensor]:
    """The bias-corrected average written as its sum: the weights after each of the n steps
    (``states[1:]``; ``states[0]``, the initial weights, do not count), weighted
    ``decay**(n-i) (1 - decay) / (1 - decay**n)``; integer entries are the last step's."""
    steps = states[1:]
    n = len(steps)
    out = {}
    for k, last in steps[-1].items():
        if not last.is_floating_point():
            out[k] = last.clone()
            continue
        w = [decay ** (n - i) * (1 - decay) / (1 - decay**n) for i in range(1, n + 1)]
        out[k] = sum(wi * s[k].double() for wi, s in zip(w, steps, strict=True)).float()
    return out


def _train_states(ema: WeightAverage, net: nn.Module, steps: int) -> list[dict[str, torch.Tensor]]:
    states = [{k: v.clone() for k, v in net.state_dict().items()}]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(steps):
        net.train()
        net(torch.randn(4, 1, 4, 4)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        ema.update(net)
        states.append({k: v.clone() for k, v in net.state_dict().items()})
    return states


def test_exclude_initial_is_the_bias_corrected_sum_without_the_initial_weights() -> None:
    net = _net()
    ema = WeightAverage(net, decay=0.9, exclude_initial=True)
    states = _train_states(ema, net, 1)
    for k, v in states[1].items():  # one update: the network's weights, none of the initial ones
        assert torch.equal(ema.state[k], v), k
    states += _train_states(ema, net, 6)[1:]
    want = _naive_corrected(states, 0.9)
    for k, v in want.items():
        torch.testing.assert_close(ema.state[k], v, rtol=1e-5, atol=1e-6, msg=k)
    classic = _naive_average(states, 0.9)  # the classic average differs: it holds 0.9**7 = 48%
    assert not torch.allclose(classic["3.weight"], want["3.weight"], atol=1e-4)


def test_the_update_count_travels_with_the_state_and_an_old_state_stays_classic() -> None:
    net = _net()
    ema = WeightAverage(net, decay=0.8, exclude_initial=True)
    _train_states(ema, net, 3)
    again = WeightAverage(_net(), decay=0.8, exclude_initial=True)
    again.load_state_dict(ema.state_dict())
    assert again.steps == 3
    for k, v in ema.state.items():
        assert torch.equal(again.state[k], v), k
    # saved before the count was kept (an older checkpoint): it goes on with the plain decay
    old = {k: v.clone() for k, v in ema.state.items()}
    legacy = WeightAverage(_net(), decay=0.8, exclude_initial=True)
    legacy.load_state_dict(old)
    assert legacy.steps is None and legacy._step_decay() == 0.8


def test_update_is_the_moving_average_of_every_float_entry() -> None:
    net = _net()
    ema = WeightAverage(net, decay=0.9)
    states = [{k: v.clone() for k, v in net.state_dict().items()}]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(5):
        net.train()
        net(torch.randn(4, 1, 4, 4)).pow(2).mean().backward()  # also moves batch-norm statistics
        opt.step()
        opt.zero_grad()
        ema.update(net)
        states.append({k: v.clone() for k, v in net.state_dict().items()})
    want = _naive_average(states, 0.9)
    assert int(ema.state["1.num_batches_tracked"]) == 5  # integers are copied, not averaged
    for k, v in want.items():
        torch.testing.assert_close(ema.state[k], v, rtol=1e-6, atol=1e-7)
    assert not torch.allclose(ema.state["3.weight"], net.state_dict()["3.weight"])


def test_applied_to_puts_the_network_s_own_weights_back() -> None:
    net = _net()
    ema = WeightAverage(net, decay=0.5)
    own = {k: v.clone() for k, v in net.state_dict().items()}
    ema.state["3.weight"].add_(1.0)
    with ema.applied_to(net):
        torch.testing.assert_close(net.state_dict()["3.weight"], own["3.weight"] + 1)
    for k, v in net.state_dict().items():
        assert torch.equal(v, own[k]), k
    with pytest.raises(RuntimeError), ema.applied_to(net):
        raise RuntimeError("validation failed")
    assert torch.equal(net.state_dict()["3.weight"], own["3.weight"])  # restored on error too


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 2.0])
def test_decay_outside_the_open_unit_interval_is_refused(decay: float) -> None:
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\)"):
        WeightAverage(_net(), decay)


def test_load_state_dict_refuses_another_network() -> None:
    ema = WeightAverage(_net(), 0.9)
    with pytest.raises(ValueError, match="does not match"):
        ema.load_state_dict({"weight": torch.zeros(1)})


@pytest.mark.parametrize("exclude_initial", [True, False])
def test_trainer_ends_with_the_average_of_its_steps(
    make_net, tiny_cfg, tiny_data, monkeypatch, exclude_initial: bool
) -> None:
    """The final model is the moving average of the weights after each step, computed here by a
    naive loop over the states the steps left behind (bias-corrected without the initial
    weights, siamkit train's default, or the classic one); validation saw the averaged weights."""
    sets = ["train.epochs=2", "train.ema_decay=0.8", f"train.ema_exclude_initial={exclude_initial}"]
    cfg = apply_overrides(tiny_cfg, sets)
    naive = _naive_corrected if exclude_initial else _naive_average
    torch.manual_seed(1)
    net = make_net(cfg, tiny_data)
    # CPU copies: the trainer may move the net to a GPU
    states = [{k: v.cpu().clone() for k, v in net.state_dict().items()}]
    checked: list[int] = []
    real_step = trainer_mod.train_step

    def recording_step(*args, **kwargs):
        loss = real_step(*args, **kwargs)
        states.append({k: v.cpu().clone() for k, v in net.state_dict().items()})
        return loss

    monkeypatch.setattr(trainer_mod, "train_step", recording_step)

    def validate(n):  # each epoch's validation sees the average so far, not the last weights
        want = naive(states, 0.8)
        for k, v in n.state_dict().items():
            torch.testing.assert_close(v.cpu(), want[k], rtol=1e-5, atol=1e-6, msg=k)
        checked.append(len(states))
        return make_validator(cfg, tiny_data, next(n.parameters()).device)(n)

    trainer = Trainer.from_config(net, cfg, tiny_data, progress=False, validate=validate)
    trainer.fit()
    assert checked == [7, 13]
    assert len(states) == 1 + 2 * 6  # two epochs of six steps
    want = naive(states, 0.8)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v.cpu(), want[k], rtol=1e-5, atol=1e-6, msg=k)
    last = states[-1]
    assert any(not torch.allclose(last[k], want[k]) for k in last if last[k].is_floating_point())


def test_resume_with_a_weight_average_equals_uninterrupted(
    make_net, tiny_cfg, tiny_data, tmp_path, interrupted_at
) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.epochs=3", "train.ema_decay=0.9"])

    def train(out, resume=False):
        torch.manual_seed(123)
        net = make_net(cfg, tiny_data)
        Trainer.from_config(net, cfg, tiny_data, out_dir=out, progress=False).fit(resume=resume)
        return net.state_dict()

    full = train(tmp_path / "full")
    with interrupted_at(9):  # the 3rd batch of epoch 2
        train(tmp_path / "cut")
    ck = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert ck["epoch"] == 1 and ck["ema"] is not None
    resumed = train(tmp_path / "cut", resume=True)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k


def test_restore_best_with_a_weight_average_ends_with_the_best_epochs_average(
    make_net, tiny_cfg, tiny_data, tmp_path, monkeypatch
) -> None:
    """Validation scores the averaged weights, so restore_best must end with the best epoch's
    average (the naive loop's), not that epoch's raw weights nor the last average; the
    checkpoint keeps the raw weights the next step trains from."""
    sets = ["train.epochs=3", "train.ema_decay=0.8", "train.restore_best=true"]
    cfg = apply_overrides(tiny_cfg, sets)
    torch.manual_seed(1)
    net = make_net(cfg, tiny_data)
    states = [{k: v.cpu().clone() for k, v in net.state_dict().items()}]
    real_step = trainer_mod.train_step

    def recording_step(*args, **kwargs):
        loss = real_step(*args, **kwargs)
        states.append({k: v.cpu().clone() for k, v in net.state_dict().items()})
        return loss

    monkeypatch.setattr(trainer_mod, "train_step", recording_step)
    scores = iter([0.5, 0.9, 0.7])  # epoch 2 is the best
    trainer = Trainer.from_config(
        net, cfg, tiny_data, out_dir=tmp_path, progress=False, validate=lambda n: next(scores)
    )
    assert trainer.fit().best_epoch == 2
    want = _naive_corrected(states[:13], 0.8)  # the average after epoch 2's 6 steps
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v.cpu(), want[k], rtol=1e-5, atol=1e-6, msg=k)
    floats = [k for k in want if want[k].is_floating_point()]
    assert any(not torch.allclose(states[12][k], want[k]) for k in floats)  # not the raw ones
    last = _naive_corrected(states, 0.8)
    assert any(not torch.allclose(last[k], want[k]) for k in floats)  # nor the last average
    saved = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    assert all(torch.equal(saved[k].cpu(), states[-1][k]) for k in saved)
