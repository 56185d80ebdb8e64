"""The collapse line advised 'Try a lower optim.lr ...' under train.on_collapse=restart too, right
before the line saying the run restarts by itself with a lower rate: under restart it now says
what the run is about to do instead; under warn it keeps the advice."""

from __future__ import annotations

import torch

from siamkit.training import Trainer, apply_overrides


def _lines(make_net, cfg, data, monkeypatch, collapsed_at) -> list[str]:
    import siamkit.training.from_config as fc

    calls: list[int] = []

    def fake_parts(net, x, device, batch_size=512):  # measurement 1 is before training
        calls.append(len(x))
        z = torch.nn.functional.normalize(torch.randn(len(x), 8), dim=1)
        return z[:1].repeat(len(x), 1) if collapsed_at(len(calls)) else z

    monkeypatch.setattr(fc, "network_embeddings", fake_parts)
    torch.manual_seed(0)
    lines: list[str] = []
    Trainer.from_config(make_net(cfg, data), cfg, data, progress=False, log=lines.append).fit()
    return lines


def _collapse_line(lines: list[str]) -> str:
    return next(line for line in lines if "have collapsed" in line)


def test_restart_mode_says_what_it_is_about_to_do(
    make_net, tiny_cfg, tiny_data, monkeypatch
) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.epochs=3", "train.steps_per_epoch=2"])
    lines = _lines(make_net, cfg, tiny_data, monkeypatch, lambda n: n == 2)
    said = _collapse_line(lines)
    assert "Try a lower" not in said
    assert said.endswith(
        "train.on_collapse=restart: the next epoch restarts from the weights after "
        "initialisation with the learning rate x0.1, loss.mining batch_hard -> semihard."
    ), said


def test_restart_mode_in_the_last_epoch_says_the_run_ends(
    make_net, tiny_cfg, tiny_data, monkeypatch
) -> None:
    cfg = apply_overrides(tiny_cfg, ["train.epochs=2", "train.steps_per_epoch=2"])
    said = _collapse_line(_lines(make_net, cfg, tiny_data, monkeypatch, lambda n: n == 3))
    assert said.endswith(
        "It was the last epoch: train.on_collapse=restart ends the run with the weights after "
        "epoch 1."
    ), said


def test_warn_mode_keeps_the_advice(make_net, tiny_cfg, tiny_data, monkeypatch) -> None:
    sets = ["train.epochs=2", "train.steps_per_epoch=2", "train.on_collapse=warn"]
    cfg = apply_overrides(tiny_cfg, sets)
    said = _collapse_line(_lines(make_net, cfg, tiny_data, monkeypatch, lambda n: n == 2))
    assert said.endswith(
        "Try a lower optim.lr, loss.mining=all or semihard, or loss.kind=multi_similarity."
    ), said
