"""``siamkit.clauses.listing`` (``siamkit.index.results``'s until stop 64) words a list of
values for a message (``3, 8 and 5 more``). It turned every value into a string to show ``limit`` of them: the refusal of a broken model's
200,000 x 384 embeddings made 200,000 strings to show five row numbers, about half the
refusal's peak (s56_R4 finding 4). It now turns only the shown values into strings and counts
the rest, with the same sentence."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from siamkit.clauses import listing


class Counted:
    """A value that counts how often it is turned into a string."""

    made = 0

    def __init__(self, n: int) -> None:
        self.n = n

    def __str__(self) -> str:
        Counted.made += 1
        return f"v{self.n}"


def naive(values: list[object], limit: int) -> str:
    """The sentence listing writes, every value made a string: the first ``limit`` shown, the
    rest counted with the thousands separated (as siamkit.clauses.listed counts them)."""
    items = [str(v) for v in values]
    shown, more = ", ".join(items[:limit]), len(items) - limit
    if more <= 0:
        return shown
    return f"{shown} and {more:,} more" if shown else f"{more:,} more"


@pytest.mark.parametrize("n", [0, 1, 4, 5, 6, 1_000])
@pytest.mark.parametrize("limit", [0, 1, 5, 10])
@pytest.mark.parametrize("kind", ["list", "tuple", "generator", "array"])
def test_listing_says_what_it_said_turning_only_the_shown_values_into_strings(n, limit, kind):
    values = [Counted(i) for i in range(n)]
    given = {
        "list": lambda: values,
        "tuple": lambda: tuple(values),
        "generator": lambda: (v for v in values),
        "array": lambda: np.array(values, dtype=object),
    }[kind]()
    expected = naive(values, limit)
    Counted.made = 0
    assert listing(given, limit) == expected
    assert Counted.made == min(n, limit)


def test_listing_200000_row_numbers_makes_no_string_per_row():
    rows = list(range(200_000))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        said = listing(rows, limit=5)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert said == "0, 1, 2, 3, 4 and 199,995 more"
    assert peak < 100_000, peak  # a string per row: some 11 MB
    assert listing(np.arange(200_000), limit=5) == said  # a refusal's rows as numpy gives them
