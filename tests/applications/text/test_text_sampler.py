"""The no-duplicates batch sampler (loss mnrl's batches) against its former algorithm, kept here
as the reference: the same seed must draw the same batches, batch for batch, so that runs stay
reproducible and resumable across the change and the recorded figures stay comparable."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import pytest

from siamkit.applications.text.pairs import NoDuplicatesBatchSampler


def _reference(
    examples: Sequence[Sequence[str]], batch_size: int, seed: int, epoch: int, drop_last: bool
) -> Iterator[list[int]]:
    """The sampler as it was before it kept what was left as a linked list: it copied the rest of
    the order for every batch (quadratic in the examples), kept verbatim."""
    order = list(range(len(examples)))
    random.Random(seed + epoch).shuffle(order)
    while order:
        batch: list[int] = []
        seen: set[str] = set()
        rest = []
        for pos, i in enumerate(order):
            if len(batch) == batch_size:
                rest += order[pos:]
                break
            texts = set(examples[i])
            if not texts & seen:
                batch.append(i)
                seen |= texts
            else:
                rest.append(i)
        order = rest
        if len(batch) == batch_size or not drop_last:
            yield batch


def _file(seed: int, n: int, distinct: int, columns: int, hot: float) -> list[tuple[str, ...]]:
    """``n`` examples of ``columns`` texts drawn from ``distinct`` texts (many repeats; a row may
    hold one text twice), a share ``hot`` of them holding the text ``hot`` last (a ticket asked
    many ways, each way paired with it) and half as many the text ``hot0`` first."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        row = [f"t{rng.randrange(distinct)}" for _ in range(columns)]
        if rng.random() < hot:
            row[-1] = "hot"
        if rng.random() < hot / 2:
            row[0] = "hot0"
        rows.append(tuple(row))
    return rows


FILES = [
    # (file seed, examples, distinct texts, columns, share holding the hot text)
    (0, 300, 40, 2, 0.0),
    (1, 500, 25, 2, 0.3),  # a text in a third of the examples: many batches of one at the end
    (2, 400, 900, 2, 0.0),  # few repeats
    (3, 350, 60, 3, 0.1),  # triplets
    (4, 200, 6, 2, 0.0),  # six texts: batches of at most three
    (5, 2000, 3000, 2, 0.2),  # two common texts over many batches
    (5, 1, 3, 2, 0.0),
    (6, 0, 3, 2, 0.0),
]


@pytest.mark.parametrize("seed, n, distinct, columns, hot", FILES)
@pytest.mark.parametrize("batch_size", [1, 2, 3, 8, 16, 64, 1000])
def test_the_sampler_draws_the_reference_batches(
    seed: int, n: int, distinct: int, columns: int, hot: float, batch_size: int
) -> None:
    rows = _file(seed, n, distinct, columns, hot)
    for drop_last in (False, True):
        for sampler_seed in (0, 7, 3000):
            sampler = NoDuplicatesBatchSampler(
                rows, batch_size, seed=sampler_seed, drop_last=drop_last
            )
            for epoch in range(3):  # each epoch reshuffles with seed + epoch
                want = list(_reference(rows, batch_size, sampler_seed, epoch, drop_last))
                assert list(sampler) == want, (seed, batch_size, drop_last, sampler_seed, epoch)


class _Counted(Sequence[tuple[str, ...]]):
    """Examples that count how often the sampler looks at one."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        self.rows, self.looks = rows, 0

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[str, ...]:  # type: ignore[override]
        self.looks += 1
        return self.rows[i]


def test_an_epoch_looks_at_each_example_once_however_many_share_a_text() -> None:
    """The former algorithm looked again, for every batch, at every example left that holds a
    common text: quadratic in that text's examples (here over 200 looks an example)."""
    rows = _file(8, 3000, 10**6, 2, 0.4)
    reference = _Counted(rows)
    want = list(_reference(reference, 16, 0, 0, False))
    assert reference.looks > 200 * len(rows)  # the cost this test guards against
    counted = _Counted(rows)
    assert list(NoDuplicatesBatchSampler(counted, 16, seed=0)) == want
    assert counted.looks == len(rows)


def test_the_files_leave_examples_out() -> None:
    """The comparison covers files where examples are dropped: partial batches under
    ``drop_last``, and the batches of one that training drops (a text in many examples)."""
    rows = _file(1, 500, 25, 2, 0.3)
    full = list(NoDuplicatesBatchSampler(rows, 8, seed=0, drop_last=True))
    assert 0 < sum(map(len, full)) < len(rows)
    kept = [b for b in NoDuplicatesBatchSampler(rows, 8, seed=0) if len(b) > 1]
    assert 0 < sum(map(len, kept)) < len(rows)


def test_a_batch_never_holds_a_text_twice_and_an_epoch_holds_every_example() -> None:
    rows = _file(3, 350, 60, 3, 0.1)
    batches = list(NoDuplicatesBatchSampler(rows, 16, seed=5))
    assert sorted(i for b in batches for i in b) == list(range(len(rows)))
    for b in batches:
        texts = [t for i in b for t in set(rows[i])]
        assert len(texts) == len(set(texts))


def test_the_sampler_claims_no_number_of_batches() -> None:
    """Its ``len()`` was ``ceil(len(examples) / batch_size)``: 19 here, where texts repeat and
    the epochs make 23, 23 and 22 batches, so a progress bar or schedule sized by it came out
    short. Nothing used it; it has none now, and a DataLoader still draws its batches."""
    from torch.utils.data import DataLoader

    rows = _file(0, 300, 40, 2, 0.0)
    sampler = NoDuplicatesBatchSampler(rows, 16, seed=0)
    counts = [len(list(sampler)) for _ in range(3)]
    assert min(counts) > -(-len(rows) // 16) and len(set(counts)) > 1  # no one number is true
    with pytest.raises(TypeError):
        len(sampler)  # type: ignore[arg-type]
    loader = DataLoader(range(len(rows)), batch_sampler=NoDuplicatesBatchSampler(rows, 16, seed=0))
    want = list(NoDuplicatesBatchSampler(rows, 16, seed=0))
    assert [b.tolist() for b in loader] == want
