"""Collapse avoided, not only reported: a learning rate so large that batch-hard triplets collapse
the tiny digits network after one epoch; with ``train.on_collapse=restart`` the run restarts from
the last good weights and ends spread out, and a resumed run restarts exactly the same way."""

from __future__ import annotations

import pytest
import torch

from siamkit.training import Trainer, apply_overrides
from siamkit.training.validation import COLLAPSE_FACTOR

# lr 0.3 with Adam: the learned embedding is one point after epoch 1 (spread ~1e-4 of ~5e-3)
COLLAPSING = [
    "optim.lr=0.3",
    "optim.schedule=constant",
    "loss.reduction=nonzero",
    "train.epochs=4",
]


def _fit(make_net, cfg, data, out=None, resume=False):
    torch.manual_seed(0)
    net = make_net(cfg, data)
    lines: list[str] = []
    trainer = Trainer.from_config(net, cfg, data, out_dir=out, progress=False, log=lines.append)
    result = trainer.fit(resume=resume)
    return net, trainer, result, lines


def _patch_collapse(monkeypatch, collapsed_at) -> None:
    """Replace the validation's embeddings (what the collapse measure reads): measurement ``n``
    (1 = before training) is spread-out random points, or one point when ``collapsed_at(n)``."""
    import siamkit.training.from_config as fc

    calls: list[int] = []

    def fake_parts(net, x, device, batch_size=512):
        calls.append(len(x))
        z = torch.nn.functional.normalize(torch.randn(len(x), 8), dim=1)
        return z[:1].repeat(len(x), 1) if collapsed_at(len(calls)) else z

    monkeypatch.setattr(fc, "network_embeddings", fake_parts)


def test_a_collapsing_run_recovers(make_net, tiny_cfg, tiny_data) -> None:
    warn = apply_overrides(tiny_cfg, [*COLLAPSING, "train.on_collapse=warn"])
    _, t_warn, r_warn, _ = _fit(make_net, warn, tiny_data)
    from siamkit.training.collapse import CollapseMonitor

    spread0 = next(c for c in t_warn.callbacks if isinstance(c, CollapseMonitor)).spread0
    assert spread0 is not None
    assert r_warn.history[-1]["spread"] < COLLAPSE_FACTOR * spread0  # the setup does collapse

    cfg = apply_overrides(tiny_cfg, COLLAPSING)  # on_collapse: restart is the default
    _, trainer, result, lines = _fit(make_net, cfg, tiny_data)
    said = [line for line in lines if line.startswith("collapse recovery")]
    assert len(said) == 1 and "epoch 2 restarts from the weights after initialisation" in said[0]
    assert "batch_hard -> semihard" in said[0] and "x0.1" in said[0]
    assert trainer.objective.mining == "semihard"
    assert [h.get("collapse") for h in result.history] == ["restart", None, None, None]
    assert result.history[-1]["spread"] > COLLAPSE_FACTOR * spread0
    assert result.history[1]["lr"] == pytest.approx(0.03)  # a tenth of optim.lr from then on
    assert result.history[-1]["val_metric"] > r_warn.history[-1]["val_metric"] + 0.2


def test_resume_restarts_exactly_like_the_uninterrupted_run(
    make_net, tiny_cfg, tiny_data, tmp_path, interrupted_at
) -> None:
    cfg = apply_overrides(tiny_cfg, [*COLLAPSING, "train.epochs=3"])
    full, *_ = _fit(make_net, cfg, tiny_data, tmp_path / "full")
    with interrupted_at(8):  # inside epoch 2, the restarted one (6 steps per epoch)
        _fit(make_net, cfg, tiny_data, tmp_path / "cut")
    resumed, trainer, _, lines = _fit(make_net, cfg, tiny_data, tmp_path / "cut", resume=True)
    assert any(line.startswith("collapse recovery: epoch 2 restarts") for line in lines)
    assert trainer.objective.mining == "semihard"
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


@pytest.mark.parametrize("ema", ["null", "0.9"])
def test_a_run_that_keeps_collapsing_ends_with_the_last_good_weights(
    make_net, tiny_cfg, tiny_data, monkeypatch, ema
) -> None:
    """Every epoch 'collapses' (a patched measure): two restarts from the initial weights, then the
    run stops and the model is the initial one, not a collapsed one, with one line saying so
    (with a weight average too: its average is rolled back with the weights)."""
    _patch_collapse(monkeypatch, lambda n: n > 1)  # every epoch collapses
    sets = ["train.epochs=6", "train.steps_per_epoch=2", f"train.ema_decay={ema}"]
    cfg = apply_overrides(tiny_cfg, sets)
    torch.manual_seed(0)
    net = make_net(cfg, tiny_data)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    lines: list[str] = []
    result = Trainer.from_config(net, cfg, tiny_data, progress=False, log=lines.append).fit()
    assert result.stopped_early and len(result.history) == 3
    said = [line for line in lines if line.startswith("collapse recovery")]
    assert len(said) == 3 and "restart 2 of 2" in said[1]
    assert "collapsed after 2 restarts" in said[2] and "after initialisation" in said[2]
    for k, v in net.state_dict().items():  # the trainer may have moved the net to a GPU
        assert torch.equal(v.cpu(), start[k]), k


def test_a_restart_switches_the_mining_inside_a_memory_and_empties_it(
    make_net, tiny_cfg, tiny_data, monkeypatch
) -> None:
    """With a cross-batch memory, the restart switches the wrapped loss's mining and empties the
    memory (it holds collapsed embeddings): after the last restart only its epoch's steps count."""
    _patch_collapse(monkeypatch, lambda n: n > 1)  # every epoch collapses
    sets = ["train.epochs=6", "train.steps_per_epoch=2", "loss.xbm_memory_size=500"]
    cfg = apply_overrides(tiny_cfg, sets)
    lines: list[str] = []
    net = make_net(cfg, tiny_data)
    trainer = Trainer.from_config(net, cfg, tiny_data, progress=False, log=lines.append)
    trainer.fit()
    assert sum(line.startswith("collapse recovery") for line in lines) == 3
    assert trainer.objective.loss.mining == "semihard"
    assert trainer.objective.steps == 2 and trainer.objective.filled == 2 * 48


def test_a_restart_rolls_back_the_weight_average_too(
    make_net, tiny_cfg, tiny_data, monkeypatch
) -> None:
    """Epoch 1 'collapses': epoch 2 starts with the initial weights and the initial average (the
    average of collapsing weights would otherwise carry the collapse into the final model)."""
    from siamkit.training.callbacks import Callback, WeightAverageCallback

    seen: dict[int, tuple[dict, dict]] = {}

    class Spy(Callback):
        def on_epoch_start(self, trainer, epoch):
            avg = next(c for c in trainer.callbacks if isinstance(c, WeightAverageCallback))
            seen[epoch] = (
                {k: v.clone() for k, v in trainer.net.state_dict().items()},
                {k: v.clone() for k, v in avg.state_dict().items()},
            )

    _patch_collapse(monkeypatch, lambda n: n == 2)  # only epoch 1 collapses
    sets = ["train.epochs=2", "train.steps_per_epoch=3", "train.ema_decay=0.9"]
    cfg = apply_overrides(tiny_cfg, sets)
    trainer = Trainer.from_config(
        make_net(cfg, tiny_data), cfg, tiny_data, progress=False, log=lambda s: None
    )
    trainer.callbacks.append(Spy())
    trainer.fit()
    (net0, avg0), (net1, avg1) = seen[0], seen[1]
    assert all(torch.equal(net0[k], net1[k]) for k in net0)
    assert all(torch.equal(avg0[k], avg1[k]) for k in avg0)
    assert not all(torch.equal(net0[k], v) for k, v in trainer.net.state_dict().items())


def test_a_restart_rolls_back_the_losses_proxies_with_the_weights(
    make_net, tiny_cfg, tiny_data, monkeypatch
) -> None:
    """proxy_anchor, epoch 2 'collapses': epoch 3 starts from the network and the class proxies
    as they were after epoch 1 (the proxies had moved on with the collapsing steps)."""
    from siamkit.training.callbacks import Callback

    seen: dict[int, tuple[dict, dict]] = {}

    class Spy(Callback):
        def on_epoch_start(self, trainer, epoch):
            seen[epoch] = (
                {k: v.clone() for k, v in trainer.net.state_dict().items()},
                {k: v.clone() for k, v in trainer.objective.state_dict().items()},
            )

    _patch_collapse(monkeypatch, lambda n: n == 3)  # measured after epoch 2
    sets = ["train.epochs=3", "train.steps_per_epoch=3", "loss.kind=proxy_anchor"]
    cfg = apply_overrides(tiny_cfg, sets)
    torch.manual_seed(0)
    lines: list[str] = []
    trainer = Trainer.from_config(
        make_net(cfg, tiny_data), cfg, tiny_data, progress=False, log=lines.append
    )
    trainer.callbacks.append(Spy())
    trainer.fit()
    assert any("epoch 3 restarts from the weights after epoch 1" in line for line in lines)
    (net1, loss1), (net2, loss2) = seen[1], seen[2]
    assert all(torch.equal(net1[k], net2[k]) for k in net1)
    assert loss1.keys() and all(torch.equal(loss1[k], loss2[k]) for k in loss1)
    assert not all(torch.equal(loss1[k], v) for k, v in trainer.objective.state_dict().items())


@pytest.mark.parametrize(("restarts", "said"), [(1, "1 time"), (2, "2 times")])
def test_the_plan_after_the_last_restart_counts_the_restarts(restarts, said) -> None:
    """The collapse line's plan said "has restarted 1 time(s) already"."""
    from types import SimpleNamespace

    from siamkit.training.collapse import CollapseRecovery

    cb = CollapseRecovery(SimpleNamespace(), max_restarts=restarts)  # type: ignore[arg-type]
    cb.state["restarts"] = restarts
    plan = cb._plan(SimpleNamespace(epochs=10), 3)  # type: ignore[arg-type]
    assert plan.startswith(f"train.on_collapse=restart has restarted {said} already: "), plan
