"""Tiny runs on scikit-learn's digits (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
