"""An offline-mining epoch whose loss.offline_pool is too small for one pass: a round mines one
triplet an anchor of the pool's images, so it ran out of triplets before the steps an epoch was
counted with, and the epoch ended early while the learning-rate schedule (sized by those steps)
never reached its end (digits-tiny, pool 100: 6 of 20 steps an epoch, the cosine rate still at
0.79 of optim.lr when training ended). The steps are now capped at what the pool gives,
and said; a pool too small for one batch is refused; an ample pool changes nothing."""

from __future__ import annotations

import pytest

from siamkit.training import Trainer, apply_overrides

RUN = [
    "train.epochs=2", "train.steps_per_epoch=null", "train.val_metric=none",
    "train.on_collapse=warn", "loss.mining=semihard", "loss.offline_mining=true",
    "optim.schedule=cosine", "optim.warmup_fraction=0",
]  # fmt: skip


def _trainer(make_net, tiny_cfg, tiny_data, pool: int, lines: list[str]) -> Trainer:
    cfg = apply_overrides(tiny_cfg, [*RUN, f"loss.offline_pool={pool}"])
    net = make_net(cfg, tiny_data)
    return Trainer.from_config(net, cfg, tiny_data, progress=False, log=lines.append)


def test_a_small_pool_sizes_the_epoch_and_the_schedule(make_net, tiny_cfg, tiny_data) -> None:
    lines: list[str] = []
    trainer = _trainer(make_net, tiny_cfg, tiny_data, 100, lines)
    trained = sum(1 for _ in trainer.batches.epoch(0))  # what a round's triplets give
    assert trained == 100 // 16 == trainer.batches.steps
    lr = tiny_cfg.optim.lr
    trainer.fit()
    # the cosine schedule ran its course over the steps trained: the rate is ~0 at the end
    assert trainer.optimizer.param_groups[0]["lr"] < 0.05 * lr
    said = [s for s in lines if s.startswith("note: loss.offline_pool")]
    assert len(said) == 1 and f"{trained} steps of 16 triplets" in said[0]
    assert f"an epoch trains at most {trained} (fewer once anchors have no triplet" in said[0]


def test_an_ample_pool_is_unchanged_and_a_tiny_one_refused(make_net, tiny_cfg, tiny_data) -> None:
    lines: list[str] = []
    one_pass = len(tiny_data.train_y) // 48
    assert _trainer(make_net, tiny_cfg, tiny_data, 900, lines).batches.steps == one_pass
    assert not [s for s in lines if "offline_pool" in s]
    with pytest.raises(ValueError, match=r"loss.offline_pool = 10 images .* at least 16"):
        _trainer(make_net, tiny_cfg, tiny_data, 10, lines)
