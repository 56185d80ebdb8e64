"""The cross-batch memory from a run config: built, checked, trained, and resumed exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from siamkit.losses.xbm import CrossBatchMemory
from siamkit.training import Trainer, apply_overrides
from siamkit.training.checkpoint import load_checkpoint

XBM = ["loss.xbm_memory_size=100", "loss.xbm_warmup_steps=2", "train.epochs=3"]


def _train(make_net, cfg, data, out: Path, resume: bool = False):
    torch.manual_seed(123)
    net = make_net(cfg, data)
    trainer = Trainer.from_config(net, cfg, data, out_dir=out, progress=False)
    trainer.fit(resume=resume)
    return net.state_dict(), trainer.objective


def test_config_builds_a_memory_that_trains(make_net, tiny_cfg, tiny_data, tmp_path) -> None:
    cfg = apply_overrides(tiny_cfg, XBM)
    _, objective = _train(make_net, cfg, tiny_data, tmp_path)
    assert isinstance(objective, CrossBatchMemory) and objective.memory.shape == (100, 16)
    assert objective.steps == 18 and objective.filled == 100  # 16 steps x 48 after the warm-up
    saved = load_checkpoint(tmp_path / "checkpoint.pt")["objective"]
    assert torch.equal(saved["memory"], objective.memory.cpu())


def test_resume_reproduces_the_memory_and_the_weights(
    make_net, tiny_cfg, tiny_data, tmp_path, interrupted_at
) -> None:
    cfg = apply_overrides(tiny_cfg, XBM)
    full, full_obj = _train(make_net, cfg, tiny_data, tmp_path / "full")
    with interrupted_at(10):  # inside epoch 2
        _train(make_net, cfg, tiny_data, tmp_path / "cut")
    resumed, resumed_obj = _train(make_net, cfg, tiny_data, tmp_path / "cut", resume=True)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k
    assert torch.equal(full_obj.memory, resumed_obj.memory)
    assert torch.equal(full_obj.counters, resumed_obj.counters)


@pytest.mark.parametrize(
    ("sets", "match"),
    [
        (["loss.xbm_memory_size=-1"], "xbm_memory_size"),
        (["loss.xbm_memory_size=64", "loss.kind=supcon"], "loss.kind"),
        (["loss.xbm_memory_size=64", "loss.offline_mining=true"], "offline_mining"),
        (["loss.xbm_memory_size=64", "loss.mining=distance_weighted"], "distance_weighted"),
    ],
)
def test_bad_xbm_settings_name_the_key(tiny_cfg, sets, match) -> None:
    with pytest.raises(ValueError, match=match):
        apply_overrides(tiny_cfg, sets)
