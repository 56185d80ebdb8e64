"""The miners ported from pytorch-metric-learning, named in a config, train a tiny digits run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from siamkit.miners.registry import MINERS
from siamkit.training import ConfigError, Trainer, config_from_dict
from siamkit.training.objectives import build_objective

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"

CASES = {
    "batch_easy_hard": {"kind": "triplet", "miner": {"kind": "batch_easy_hard",
                        "params": {"pos_strategy": "easy", "neg_strategy": "hard"}}},
    "pair_margin": {"kind": "contrastive", "miner": {"kind": "pair_margin",
                    "params": {"pos_margin": 0.0, "neg_margin": 1.0}}},
    "triplet_margin": {"kind": "triplet", "miner": {"kind": "triplet_margin",
                       "params": {"margin": 0.2, "type_of_triplets": "all"}}},
    "uniform_histogram": {"kind": "contrastive", "miner": {"kind": "uniform_histogram",
                          "params": {"num_bins": 10, "pos_per_bin": 4, "neg_per_bin": 4}}},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_config_naming_the_miner_trains_with_it(
    name: str, make_net, tiny_data, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc: dict[str, Any] = yaml.safe_load(TINY.read_text())
    doc["loss"] = {**CASES[name], "margin": 1.0 if CASES[name]["kind"] == "contrastive" else 0.2}
    doc["train"].update(epochs=1, steps_per_epoch=3)
    cfg = config_from_dict(doc)
    miner_cls = type(build_objective(cfg.loss, cfg.model.distance).mining)
    assert miner_cls is MINERS.get(name)
    calls = []
    real = miner_cls.__call__

    def counted(self: Any, z: torch.Tensor, y: torch.Tensor) -> Any:
        out = real(self, z, y)
        calls.append(len(out[0]))
        return out

    monkeypatch.setattr(miner_cls, "__call__", counted)
    net = make_net(cfg, tiny_data)
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    (row,) = Trainer.from_config(net, cfg, tiny_data, progress=False).fit().history
    assert len(calls) == 3 and all(n > 0 for n in calls)  # mined every step, something each time
    assert row["loss"] == row["loss"]  # not NaN
    assert any(not torch.equal(v.detach(), before[k]) for k, v in net.named_parameters())


@pytest.mark.parametrize("name", ["pair_margin", "uniform_histogram"])
def test_a_pair_miner_is_refused_for_the_triplet_loss(name: str) -> None:
    with pytest.raises(ConfigError, match=r"mines pairs; loss\.kind = triplet needs triplets"):
        config_from_dict({"loss": {"kind": "triplet", "miner": {"kind": name}}})
