"""A cross-batch memory (loss.xbm_memory_size) larger than the training set got no word: it then
holds several embeddings of the same images, the older ones stale. One note before training."""

from __future__ import annotations

from siamkit.training import Trainer, apply_overrides


def _notes(make_net, cfg, data) -> list[str]:
    lines: list[str] = []
    Trainer.from_config(make_net(cfg, data), cfg, data, progress=False, log=lines.append)
    return [line for line in lines if "xbm_memory_size" in line]


def test_a_memory_larger_than_the_training_set_is_noted_once(make_net, tiny_cfg, tiny_data) -> None:
    n = len(tiny_data.train_y)
    cfg = apply_overrides(tiny_cfg, [f"loss.xbm_memory_size={2 * n + 50}"])
    assert _notes(make_net, cfg, tiny_data) == [
        f"note: loss.xbm_memory_size = {2 * n + 50:,} is more than the {n:,} training images, so "
        f"once full it holds 2.1 embeddings of each image on average, the older ones stale "
        f"(made by earlier weights); a memory of at most {n:,} keeps about one of each "
        f"(--set loss.xbm_memory_size={n})"
    ]


def test_a_memory_within_the_training_set_says_nothing(make_net, tiny_cfg, tiny_data) -> None:
    n = len(tiny_data.train_y)
    cfg = apply_overrides(tiny_cfg, [f"loss.xbm_memory_size={n}"])
    assert _notes(make_net, cfg, tiny_data) == []
