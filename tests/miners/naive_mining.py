"""Naive-loop references for the mining tests: the definitions of DESIGN.md §3, one triplet at a time."""

from __future__ import annotations

import numpy as np
import torch


def _np(dist: torch.Tensor, labels: torch.Tensor) -> tuple[np.ndarray, list[int]]:
    return dist.detach().cpu().numpy(), [int(v) for v in labels]


def naive_triplets(
    dist: torch.Tensor, labels: torch.Tensor, strategy: str, margin: float
) -> set[tuple[int, int, int]]:
    """Every (a, p, n) whose margin m = d(a,n) - d(a,p), computed in the matrix dtype, fits ``strategy``."""
    d, y = _np(dist, labels)
    marg = d.dtype.type(margin)
    out = set()
    b = len(y)
    for a in range(b):
        for p in range(b):
            if p == a or y[p] != y[a]:
                continue
            for n in range(b):
                if y[n] == y[a]:
                    continue
                m = d[a, n] - d[a, p]
                keep = {
                    "hard": m < 0,
                    "semihard": 0 < m < marg,
                    "easy": m > marg,
                    "all": True,
                }[strategy]
                if keep:
                    out.add((a, p, n))
    return out


def naive_batch_hard(dist: torch.Tensor, labels: torch.Tensor) -> set[tuple[int, int, int]]:
    d, y = _np(dist, labels)
    out = set()
    for a in range(len(y)):
        pos = [j for j in range(len(y)) if j != a and y[j] == y[a]]
        neg = [j for j in range(len(y)) if y[j] != y[a]]
        if pos and neg:
            p = max(pos, key=lambda j: (d[a, j], -j))  # first index on ties
            n = min(neg, key=lambda j: (d[a, j], j))
            out.add((a, p, n))
    return out


def as_set(triplets) -> set[tuple[int, ...]]:
    cols = [t.tolist() for t in triplets]
    return set(zip(*cols))


def as_list(triplets) -> list[tuple[int, ...]]:
    cols = [t.tolist() for t in triplets]
    return list(zip(*cols))
