"""Shared test settings: deterministic, single-threaded torch so tests stay fast on small machines."""

from __future__ import annotations

import os

# Idle OpenMP threads spin by default; on a small shared machine that makes torch calls many times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("SIAMKIT_TEST", "1")

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
