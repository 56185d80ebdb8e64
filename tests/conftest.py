"""Shared test settings: deterministic, single-threaded torch so tests stay fast on small machines."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("SIAMKIT_TEST", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
