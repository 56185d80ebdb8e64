"""ssl.collapse_std of 1 or more was accepted, and every run then stopped as "collapsed" after
its first epoch: the figure it is compared with (per-dimension std x sqrt(D) of the
L2-normalised embedding) is at most sqrt(n/(n-1)) for n images, about 1. The bound the refusal
names, checked here against embeddings that reach it and many that do not."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from siamkit.applications.ssl.config import ConfigError, ssl_config_from_dict
from siamkit.applications.ssl.monitor import collapse_std


def _naive(z: torch.Tensor) -> float:
    """The figure by loops: each dimension's sample std of the unit vectors, averaged, x sqrt(D)."""
    rows = [[float(v) / math.sqrt(sum(float(u) ** 2 for u in r)) for v in r] for r in z]
    n, d = len(rows), len(rows[0])
    stds = []
    for j in range(d):
        col = [r[j] for r in rows]
        mean = sum(col) / n
        stds.append(math.sqrt(sum((c - mean) ** 2 for c in col) / (n - 1)))
    return sum(stds) / d * math.sqrt(d)


@pytest.mark.parametrize("d", [1, 3, 16])
def test_the_figure_reaches_its_bound_only_when_spread_evenly(d: int) -> None:
    z = torch.cat([torch.eye(d), -torch.eye(d)])  # n = 2D, centred, every dimension alike
    n = z.shape[0]
    assert collapse_std(z) == pytest.approx(_naive(z), rel=1e-9)
    assert collapse_std(z) == pytest.approx(math.sqrt(n / (n - 1)), rel=1e-9)


def test_no_embedding_exceeds_the_bound() -> None:
    gen = torch.Generator().manual_seed(0)
    for n, d, shift in [(2, 4, 0.0), (5, 8, 0.0), (50, 16, 0.0), (50, 16, 2.0), (300, 3, 0.5)]:
        z = torch.randn(n, d, generator=gen) + shift
        figure = collapse_std(z)
        assert figure == pytest.approx(_naive(z), rel=1e-9)
        assert figure <= math.sqrt(n / (n - 1)) + 1e-12


@pytest.mark.parametrize("value", [1.0, 1.4, 5.0])
def test_a_threshold_the_figure_cannot_meet_is_refused(value: float) -> None:
    doc: dict[str, Any] = {"method": "simclr", "ssl": {"collapse_std": value}}
    with pytest.raises(ConfigError, match=r"ssl.collapse_std must be a number in \[0, 1\) .*"
                       r"at most sqrt\(n/\(n-1\)\) for n monitored images"):  # fmt: skip
        ssl_config_from_dict(doc)
    doc["ssl"]["collapse_std"] = 0.99
    assert ssl_config_from_dict(doc).ssl.collapse_std == 0.99
