"""Tiny runs on scikit-learn's digits (seconds on a CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

import siamkit.training.trainer as trainer_mod
from siamkit.training import RunConfig, RunData, build_model, load_config, load_run_data

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


@pytest.fixture(scope="session")
def tiny_cfg() -> RunConfig:
    return load_config(TINY)


@pytest.fixture(scope="session")
def tiny_data(tiny_cfg: RunConfig) -> RunData:
    return load_run_data(tiny_cfg.data)


@pytest.fixture(scope="session")
def make_net():
    """``make_net(cfg, data)`` -> a fresh network for the run's inputs."""

    def make(cfg: RunConfig, data: RunData):
        mean, std = data.channel_stats()
        return build_model(cfg.model, data.input_shape, mean, std)

    return make


@pytest.fixture
def interrupted_at(monkeypatch) -> Callable[[int], AbstractContextManager[None]]:
    """``with interrupted_at(n): fit()``: the run's ``n``-th training step (counted from 1) raises
    ``KeyboardInterrupt`` as Ctrl-C would, the block must end with it, and the real step is back
    after the block (for the resumed run)."""

    @contextmanager
    def cut(n: int) -> Iterator[None]:
        real_step, calls = trainer_mod.train_step, {"n": 0}

        def dying_step(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt
            return real_step(*args, **kwargs)

        monkeypatch.setattr(trainer_mod, "train_step", dying_step)
        try:
            with pytest.raises(KeyboardInterrupt):
                yield
        finally:
            monkeypatch.setattr(trainer_mod, "train_step", real_step)

    return cut
