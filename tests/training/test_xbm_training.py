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


@pytest.mark.parametrize(
    ("sets", "said"),
    [
        (  # margin's default mining: said so, and what margin takes
            ["loss.kind=margin", "loss.mining=auto"],
            "distance_weighted (loss.kind = margin's default); loss.kind = margin takes "
            "loss.mining = null, all, hard, semihard, easy, batch_hard or random with it",
        ),
        (  # triplet given it by name: not "margin's default"
            ["loss.kind=triplet", "loss.mining=distance_weighted"],
            "distance_weighted; loss.kind = triplet takes loss.mining = null, all, hard, "
            "semihard, easy, batch_hard or random with it",
        ),
    ],
)
def test_distance_weighted_beside_the_memory_names_the_minings_that_go(
    tiny_cfg, sets, said
) -> None:
    """The refusal said "(loss.kind = margin's default)" for a triplet loss given
    distance_weighted by name, and offered only null, batch_hard or semihard of the seven."""
    with pytest.raises(ValueError) as info:
        apply_overrides(tiny_cfg, ["loss.xbm_memory_size=64", *sets])
    assert said in str(info.value)


@pytest.mark.parametrize(
    ("kind", "mining", "takes"),
    [
        ("contrastive", "pairs", "null, all, hardest, hard, semihard or easy"),
        ("multi_similarity", "batch_hard", "null or multi_similarity"),
        ("triplet", "triplet_margin", "null, all, hard, semihard, easy, batch_hard or random"),
    ],
)
def test_a_miner_the_memory_cannot_use_is_refused_before_the_run(
    tiny_cfg, kind: str, mining: str, takes: str, tmp_path: Path
) -> None:
    """loss.kind=contrastive with loss.mining=pairs and a memory failed at the first step, after
    the run's folder was begun, with 'takes a pair strategy name, not PairMiner(strategy=...)'."""
    from siamkit.experiment import run_experiment

    cfg = apply_overrides(
        tiny_cfg, ["loss.xbm_memory_size=64", f"loss.kind={kind}", f"loss.mining={mining}"]
    )
    out = tmp_path / "run"
    with pytest.raises(ValueError) as err:
        run_experiment(cfg, out, progress=False, log=lambda _s: None)
    assert str(err.value) == (
        f"loss.mining = {mining} cannot go with loss.xbm_memory_size = 64: the cross-batch "
        f"memory mines each batch against the memory itself, so loss.kind = {kind} takes "
        f"loss.mining = {takes} (or turn the memory off with loss.xbm_memory_size=0)"
    )
    assert not out.exists() or not any(out.iterdir())


def test_the_miners_the_memory_uses_still_build(tiny_cfg) -> None:
    from siamkit.training.objectives import build_objective

    for kind, mining in (("contrastive", "hardest"), ("multi_similarity", "auto"),
                         ("triplet", "batch_hard"), ("margin", "batch_hard")):  # fmt: skip
        cfg = apply_overrides(
            tiny_cfg, ["loss.xbm_memory_size=64", f"loss.kind={kind}", f"loss.mining={mining}"]
        )
        obj = build_objective(cfg.loss, "euclidean", classes=(0, 1, 2), embedding_dim=16)
        assert isinstance(obj, CrossBatchMemory)
