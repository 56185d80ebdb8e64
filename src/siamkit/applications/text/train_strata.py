"""The strata a text run's validation share keeps the file's proportions of: 0/1 labels, or
graded scores in quantile bins (:func:`strata`), each stratum's share of the validation examples
(:func:`allocation`, as scikit-learn's stratified split gives it) and the line saying what
proportion each side got (:func:`proportions_note`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

QUANTILE_BINS = 5
"""Most bins graded scores are stratified in: equal shares of the examples, by score."""


def strata(targets: Sequence[float] | None, n_val: int) -> list[int] | None:
    """Each example's stratum, numbered in score order: its label for 0/1 labels; for graded
    scores (some target neither 0 nor 1) each distinct score where there are at most
    ``QUANTILE_BINS`` of them, else its quantile bin of ``QUANTILE_BINS`` (at most ``n_val``,
    so that validation can hold one of each; equal scores share a bin). None without targets
    (triplets, anchor-positive pairs).

    >>> strata([0.0, 1.0, 1.0], 1)
    [0, 1, 1]
    >>> strata([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], 2)
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """
    if targets is None:
        return None
    values = sorted(set(targets))
    graded = any(t not in (0.0, 1.0) for t in values)
    bins = max(1, min(QUANTILE_BINS, n_val)) if graded else len(values)
    if len(values) <= bins:
        return [values.index(t) for t in targets]
    ranked = sorted(targets)
    # the score that starts each bin after the first: equal counts, equal scores kept together
    starts = sorted({ranked[len(ranked) * j // bins] for j in range(1, bins)})
    return [sum(t >= s for s in starts) for t in targets]


def allocation(of: Sequence[int], n_val: int) -> dict[int, int]:
    """How many of each stratum ``n_val`` validation examples hold: ``n_val`` shared in the
    proportion of the strata ``of`` the examples (rounded down, the rest one each to the strata
    with the largest remainders, as scikit-learn's ``train_test_split(stratify=...)``).

    >>> allocation([0] * 37 + [1] * 3, 8)
    {0: 7, 1: 1}
    """
    counts, n = Counter(of), len(of)
    exact = {s: n_val * c / n for s, c in sorted(counts.items())}
    want = {s: math.floor(e) for s, e in exact.items()}
    left = n_val - sum(want.values())
    for s in sorted(exact, key=lambda s: (want[s] - exact[s], s))[:left]:
        want[s] += 1
    return want


def proportions_note(
    of: Sequence[int],
    train: Sequence[int],
    val: Sequence[int],
    targets: Sequence[float],
    score_range: tuple[float, float] | None,
) -> str | None:
    """The line saying what proportion of each stratum the two sides got (``train`` and
    ``val``: example indices into ``of``, each example's stratum, and ``targets``, scores
    scaled to [0, 1] by ``score_range``); None with one stratum alone."""
    kinds = sorted(set(of))
    if len(kinds) < 2:
        return None

    def share(side: Sequence[int], s: int) -> str:
        k = sum(of[i] == s for i in side)
        return f"{k / max(len(side), 1):.0%} ({k:,} of {len(side):,})"

    if kinds == [0, 1] and set(targets) <= {0.0, 1.0}:
        return (
            f"validation is stratified by label: pairs labelled 1 are {share(val, 1)} of "
            f"validation, {share(train, 1)} of training and {share(range(len(of)), 1)} of "
            "the file"
        )
    lo, hi = score_range or (0.0, 1.0)
    shown = []
    for s in kinds:
        scores = [lo + t * (hi - lo) for t, k in zip(targets, of) if k == s]
        low, high = min(scores), max(scores)
        span = f"{low:g}" if low == high else f"{low:g} to {high:g}"
        shown.append(
            f"scores {span} are {share(val, s)} of validation, {share(train, s)} of training "
            f"and {share(range(len(of)), s)} of the file"
        )
    return f"validation is stratified by score in {len(kinds)} bins: {'; '.join(shown)}"
