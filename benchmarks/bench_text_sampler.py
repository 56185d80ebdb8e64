"""Loss mnrl's no-duplicates batch sampler: one epoch drawn by the former algorithm (which copied
the rest of the order for every batch, quadratic in the examples) and by siamkit's
``NoDuplicatesBatchSampler`` (one pass over the order), side by side on the same synthetic
pairs, with a check that both draw the same batches.

Files (``--pairs`` examples each, texts ``q<k>`` and ``d<k>``):

- distinct: every text once
- repeats:  texts drawn from ``--pairs`` // 2 of each side, so many appear in a few examples
- ticket:   as distinct, but a share ``--hot`` of the examples (each share given, a file each)
            pair their text with one common text (a ticket asked many ways, each way paired
            with it), which a batch holds at most once: the former algorithm looked again at
            every example left that holds it for every batch

Times are this process's CPU time (``--clock wall`` for elapsed time), the best of
``--repeats``; every sampler draws the text training loop's way (``train_loop.EpochBatches`` draws
every epoch up front, so this is the wait before the first step, per epoch).

Run:  nice python benchmarks/bench_text_sampler.py --pairs 200000 --batch-size 16
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator, Sequence

from siamkit.applications.text.pairs import NoDuplicatesBatchSampler


def former(examples: Sequence[Sequence[str]], batch_size: int, seed: int) -> Iterator[list[int]]:
    """The sampler before the linked list, as it was (drop_last off, epoch 0)."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
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
        yield batch


def files(n: int, hot: list[float]) -> dict[str, list[tuple[str, str]]]:
    rng = random.Random(0)
    distinct = [(f"q{k}", f"d{k}") for k in range(n)]
    out = {"distinct": distinct}
    out["repeats"] = [(f"q{rng.randrange(n // 2)}", f"d{rng.randrange(n // 2)}") for _ in range(n)]
    for h in hot:
        out[f"ticket {h:.0%}"] = [(q, "ticket" if rng.random() < h else d) for q, d in distinct]
    return out


def timed(
    draw: Callable[[list[tuple[str, str]]], list[list[int]]],
    rows: list[tuple[str, str]],
    repeats: int,
    clock: Callable[[], float],
) -> tuple[float, list[list[int]]]:
    best, out = float("inf"), []
    for _ in range(repeats):
        t0 = clock()
        out = draw(rows)
        best = min(best, clock() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pairs", type=int, default=200_000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument(
        "--hot",
        type=float,
        nargs="+",
        default=[0.01, 0.1],
        help="shares of the ticket files' examples that hold the common text",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    b, seed = args.batch_size, args.seed
    print(f"{args.pairs:,} pairs, batch size {b}, one epoch, {args.clock} time (s)")
    print(f"{'file':<14} {'batches':>8} {'former':>9} {'siamkit':>9} {'speed-up':>9}  same")

    def old(rows: list[tuple[str, str]]) -> list[list[int]]:
        return list(former(rows, b, seed))

    def new(rows: list[tuple[str, str]]) -> list[list[int]]:
        return list(NoDuplicatesBatchSampler(rows, b, seed=seed))

    for name, rows in files(args.pairs, args.hot).items():
        t_old, got_old = timed(old, rows, args.repeats, clock)
        t_new, got_new = timed(new, rows, args.repeats, clock)
        same = "yes" if got_new == got_old else "NO"
        print(
            f"{name:<14} {len(got_new):>8} {t_old:>9.3f} {t_new:>9.3f} {t_old / t_new:>8.1f}x  {same}"
        )


if __name__ == "__main__":
    main()
