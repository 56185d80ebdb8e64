"""Naive loops (Python and ``math`` alone) of the losses the benchmark scripts train with, for the
tests of this folder: one copy each, so that a script's test and the loss's own test check the
same loop."""

from __future__ import annotations

import math
from collections.abc import Sequence

Rows = Sequence[Sequence[float]]


def unit(z: Rows) -> list[list[float]]:
    """Each row of ``z`` divided by its length."""
    return [[v / math.sqrt(sum(u * u for u in row)) for v in row] for row in z]


def log1p_sum_exp(xs: list[float]) -> float:
    """``log(1 + sum(exp(x)))``, stably."""
    top = max([0.0, *xs])
    return top + math.log(math.exp(-top) + sum(math.exp(x - top) for x in xs))


def naive_tuplet(z: Rows, labels: Sequence[int], margin: float, scale: float) -> float:
    """Yu and Tao's tuplet margin loss (eq. 6): for every ordered positive pair ``(a, p)``,
    ``log(1 + sum_n exp(s (cos(a, n) - cos(theta_ap - margin))))`` over the anchor's negatives
    ``n``, the mean. An anchor with no positive takes no term; ``theta_ap``'s cosine is clamped
    to ``±(1 - 1e-7)`` as in ``siamkit.losses.TupletMarginLoss``."""
    u = unit(z)
    cos = [[sum(x * y for x, y in zip(r, q, strict=True)) for q in u] for r in u]
    terms = []
    for a, ya in enumerate(labels):
        for p, yp in enumerate(labels):
            if p == a or yp != ya:
                continue
            theta = math.acos(min(max(cos[a][p], -1 + 1e-7), 1 - 1e-7))
            target = math.cos(theta - margin)
            negs = [scale * (cos[a][n] - target) for n, yn in enumerate(labels) if yn != ya]
            terms.append(log1p_sum_exp(negs))
    return sum(terms) / len(terms)


def naive_proto(z: Rows, labels: Sequence[int], support: int, scale: float) -> float:
    """The prototypical loss (Snell, Swersky and Zemel): normalise, take each class's first
    ``support`` samples in batch order as its support and the others as queries, a prototype the
    mean of a class's supports, and each query's cross-entropy over ``-scale`` times its squared
    distances to the prototypes; the mean over the queries."""
    seen: dict[int, int] = {}
    sup: dict[int, list[list[float]]] = {}
    queries = []
    for row, y in zip(unit(z), labels, strict=True):
        seen[y] = seen.get(y, 0) + 1
        if seen[y] <= support:
            sup.setdefault(y, []).append(row)
        else:
            queries.append((row, y))
    classes = sorted(sup)
    protos = {c: [sum(col) / len(sup[c]) for col in zip(*sup[c], strict=True)] for c in classes}
    total = 0.0
    for q, y in queries:
        logits = {
            c: -scale * sum((a - b) ** 2 for a, b in zip(q, protos[c], strict=True))
            for c in classes
        }
        top = max(logits.values())
        lse = top + math.log(sum(math.exp(v - top) for v in logits.values()))
        total += lse - logits[y]
    return total / len(queries)
