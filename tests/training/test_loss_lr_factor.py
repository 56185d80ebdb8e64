"""``optim.loss_lr_factor``: the parameters a loss learns itself (class proxies, margin's beta)
train at that multiple of the network's rate, under every schedule and through a resume."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from siamkit.training import Trainer, apply_overrides
from siamkit.training.builders import build_optimizer, build_scheduler
from siamkit.training.callbacks import Callback
from siamkit.training.checkpoint import load_checkpoint
from siamkit.training.config import OptimConfig
from siamkit.training.config_io import config_from_dict
from siamkit.training.config_sections import ConfigError
from siamkit.training.optim import SCHEDULES
from siamkit.tuning.space import SearchSpace

PROXY = ["loss.kind=proxy_anchor", "loss.mining=null"]


class _Rates(Callback):
    """Every group's learning rate after each step (the schedule's, as the next step uses it)."""

    def __init__(self) -> None:
        self.rates: list[list[float]] = []

    def on_step_end(self, trainer: Trainer) -> None:
        self.rates.append([float(g["lr"]) for g in trainer.optimizer.param_groups])


def _trainer(make_net, cfg, data, out: Path | None = None, log=None) -> Trainer:
    torch.manual_seed(123)  # the same network and proxies for every run of a test
    net = make_net(cfg, data)
    return Trainer.from_config(net, cfg, data, out_dir=out, progress=False, log=log)


@pytest.mark.parametrize("schedule", SCHEDULES.names())
def test_the_proxies_train_at_factor_times_the_network_rate_under_every_schedule(
    make_net, tiny_cfg, tiny_data, schedule: str
) -> None:
    cfg = apply_overrides(
        tiny_cfg,
        [*PROXY, f"optim.schedule={schedule}", "optim.loss_lr_factor=100", "train.epochs=2"],
    )
    trainer = _trainer(make_net, cfg, tiny_data)
    rates = _Rates()
    trainer.callbacks.append(rates)
    groups = trainer.optimizer.param_groups
    assert len(groups) == 2
    assert [id(p) for p in groups[1]["params"]] == [id(p) for p in trainer.objective.parameters()]
    result = trainer.fit()
    assert len(rates.rates) == 12  # 2 epochs of 6 steps
    network = [r[0] for r in rates.rates]
    if schedule != "constant":  # the schedule moved the rates, and the proxies' followed
        assert len({round(r, 12) for r in network}) > 3
    for net_lr, proxy_lr in rates.rates:
        assert proxy_lr == pytest.approx(100 * net_lr, rel=1e-9)
    # the rate an epoch logs is the network's
    assert [h["lr"] for h in result.history] == [network[5], network[11]]


def test_factor_1_keeps_one_group_of_the_network_and_the_proxies(
    make_net, tiny_cfg, tiny_data
) -> None:
    """At the default the optimiser is the one it was before the factor existed (so training and
    the checkpoints of earlier runs are unchanged)."""
    cfg = apply_overrides(tiny_cfg, [*PROXY, "optim.loss_lr_factor=1.0"])
    trainer = _trainer(make_net, cfg, tiny_data)
    (group,) = trainer.optimizer.param_groups
    want = [*trainer.net.parameters(), *trainer.objective.parameters()]
    assert [id(p) for p in group["params"]] == [id(p) for p in want]


def _proxy_step(make_net, cfg, data, factor: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The proxies' and the network's displacement over one SGD step at ``factor``."""
    cfg = apply_overrides(cfg, [f"optim.loss_lr_factor={factor}"])
    trainer = _trainer(make_net, cfg, data)
    proxies0 = trainer.objective.proxies.detach().clone()
    net0 = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    trainer.fit()
    moved = {k: v - net0[k] for k, v in trainer.net.state_dict().items()}
    return trainer.objective.proxies.detach() - proxies0, moved


def test_factor_100_moves_the_proxies_100_times_as_far_under_sgd(
    make_net, tiny_cfg, tiny_data
) -> None:
    sets = [*PROXY, "optim.optimizer=sgd", "optim.lr=0.01", "optim.weight_decay=0.0",
            "optim.schedule=constant", "train.epochs=1", "train.steps_per_epoch=1"]  # fmt: skip
    cfg = apply_overrides(tiny_cfg, sets)
    proxies_1, net_1 = _proxy_step(make_net, cfg, tiny_data, 1.0)
    proxies_100, net_100 = _proxy_step(make_net, cfg, tiny_data, 100.0)
    assert proxies_1.abs().max() > 0
    # the same step, 100 times as long (float32 rounds p + step - p: 1e-4 apart)
    ratio = float(proxies_100.norm() / proxies_1.norm())
    assert ratio == pytest.approx(100.0, rel=1e-3)
    torch.testing.assert_close(proxies_100 / 100, proxies_1, rtol=1e-3, atol=1e-6)
    for k, v in net_1.items():  # the network's step is the same
        torch.testing.assert_close(net_100[k], v, rtol=0, atol=0, msg=k)


def test_the_learned_beta_of_the_margin_loss_is_the_losses_group(
    make_net, tiny_cfg, tiny_data
) -> None:
    cfg = apply_overrides(
        tiny_cfg, ["loss.kind=margin", "loss.mining=auto", "optim.loss_lr_factor=10"]
    )
    trainer = _trainer(make_net, cfg, tiny_data)
    net_group, loss_group = trainer.optimizer.param_groups
    assert [id(p) for p in loss_group["params"]] == [id(trainer.objective.beta)]
    assert loss_group["lr"] == pytest.approx(10 * net_group["lr"])


@pytest.mark.parametrize("value", [0, -1, "inf", "-inf", ".inf", "nan"])
def test_a_factor_that_is_not_a_positive_finite_number_is_refused(tiny_cfg, value: Any) -> None:
    with pytest.raises(ConfigError, match=r"optim\.loss_lr_factor") as err:
        apply_overrides(tiny_cfg, [f"optim.loss_lr_factor={value}"])
    assert "\n" not in str(err.value)
    if value not in ("nan",):  # NaN: "must be a number, got NaN", as every float key
        number = float(value.replace(".inf", "inf") if isinstance(value, str) else value)
        assert str(err.value).endswith(f", got {number!r}.")
    # the sentence every range check of a loss or miner setting writes (siamkit.params.number)
    with pytest.raises(ConfigError) as err:
        config_from_dict({"optim": {"loss_lr_factor": 0.0}})
    assert str(err.value) == (
        "optim.loss_lr_factor must be a finite number > 0 (the multiple of optim.lr the loss's "
        "own parameters, such as class proxies, train at, e.g. 100; 1 is optim.lr), got 0.0."
    )


def test_a_factor_without_learned_loss_parameters_is_a_note(make_net, tiny_cfg, tiny_data) -> None:
    cfg = apply_overrides(tiny_cfg, ["optim.loss_lr_factor=10"])  # triplet: nothing of its own
    lines: list[str] = []
    trainer = _trainer(make_net, cfg, tiny_data, log=lines.append)
    assert len(trainer.optimizer.param_groups) == 1
    (note,) = lines
    assert note.startswith("note: optim.loss_lr_factor = 10.0 has no effect") and "triplet" in note
    with pytest.warns(UserWarning, match="optim.loss_lr_factor = 10.0 has no effect"):
        Trainer.from_config(make_net(cfg, tiny_data), cfg, tiny_data, progress=False)


def test_a_schedule_that_loses_the_ratio_is_refused() -> None:
    def flat(optimizer, total_steps, lr=0.0, warmup_fraction=0.0, cycle_momentum=True):
        """A plug-in schedule that sets every group to one rate."""
        for g in optimizer.param_groups:
            g["lr"] = lr
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)

    SCHEDULES.register("flat_test", flat)
    try:
        cfg = OptimConfig(optimizer="sgd", lr=0.1, schedule="flat_test", loss_lr_factor=100.0)
        params = [torch.nn.Parameter(torch.ones(2))]
        proxies = [torch.nn.Parameter(torch.ones(3))]
        opt = build_optimizer(cfg, params, proxies)
        assert [g["lr"] for g in opt.param_groups] == [0.1, pytest.approx(10.0)]
        with pytest.raises(ValueError, match=r"optim\.loss_lr_factor = 100\.0"):
            build_scheduler(cfg, opt, 10)
        one = build_optimizer(OptimConfig(optimizer="sgd", lr=0.1, schedule="flat_test"), params)
        build_scheduler(OptimConfig(lr=0.1, schedule="flat_test"), one, 10)  # one group: fine
    finally:
        SCHEDULES.unregister("flat_test")


def test_a_resumed_run_with_a_factor_equals_the_uninterrupted_one(
    make_net, tiny_cfg, tiny_data, tmp_path, interrupted_at
) -> None:
    sets = [*PROXY, "optim.schedule=onecycle", "optim.loss_lr_factor=50", "train.epochs=3"]
    cfg = apply_overrides(tiny_cfg, sets)
    full = _trainer(make_net, cfg, tiny_data, tmp_path / "full")
    full.fit()

    with interrupted_at(9):  # the 3rd batch of epoch 2 (6 batches per epoch)
        _trainer(make_net, cfg, tiny_data, tmp_path / "cut").fit()
    saved = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert saved["epoch"] == 1 and len(saved["optimizer"]["param_groups"]) == 2
    resumed = _trainer(make_net, cfg, tiny_data, tmp_path / "cut")
    resumed.fit(resume=True)
    for mine, theirs in ((resumed.net, full.net), (resumed.objective, full.objective)):
        a, b = mine.state_dict(), theirs.state_dict()
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), k
    lrs = [g["lr"] for g in resumed.optimizer.param_groups]
    assert lrs == [g["lr"] for g in full.optimizer.param_groups]
    assert math.isclose(lrs[1], 50 * lrs[0], rel_tol=1e-9)
    # another factor is another run
    other = apply_overrides(cfg, ["optim.loss_lr_factor=100"])
    with pytest.raises(ValueError, match=r"optim\.loss_lr_factor"):
        _trainer(make_net, other, tiny_data, tmp_path / "cut").fit(resume=True)


def test_a_tune_space_searches_the_factor(tiny_cfg) -> None:
    base = apply_overrides(tiny_cfg, PROXY)
    space = SearchSpace.from_dict({"optim.loss_lr_factor": {"float": [1.0, 1000.0], "log": True}})
    space.check(base)
    assert space.params[0].overrides(100.0) == ["optim.loss_lr_factor=100.0"]
    assert apply_overrides(base, space.params[0].overrides(100.0)).optim.loss_lr_factor == 100.0
    bad = SearchSpace.from_dict({"optim.loss_lr_factor": {"float": [0.0, 10.0]}})
    with pytest.raises(ValueError, match=r"optim\.loss_lr_factor = 0\.0 is refused"):
        bad.check(base)
