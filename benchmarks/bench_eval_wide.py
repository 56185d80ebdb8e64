"""What evaluating a wide embedding costs, part by part, with and without the savings for wide
embeddings: `siamkit evaluate`'s work (and a run's end-of-training evaluation) on the 4,544-wide
embedding of the SSL taps (configs/finetune.yaml), without the encoding.

Parts, each timed in CPU seconds (all threads of this process), median of ``--repeats``:

* ``evaluate_embeddings``: verification, two few-shot settings, retrieval;
* the TAR/FAR of a threshold (``rates_at``): a seeded sample of 300,000 pairs;
* the report's k-NN, prototype and failure cases after the evaluation, inside
  ``shared_distance_matrices`` as ``siamkit evaluate --report`` and a run call them;
* the report's embedding map (the 2-D PCA).

"before" puts back, by patching module constants, what each part did before the savings: pair
blocks of ``BLOCK_ELEMENTS`` values a side, named distances never kept, LAPACK's full SVD for the
PCA, and the finite check of z in every section. Each variant runs in a process of its own (the
large blocks' cost is partly page faults, which depend on what the process allocated before).
The figures are compared too: they must agree (the PCA up to each axis's sign).

The embeddings are random: class centres plus noise whose scale falls as 1/sqrt(k) over the
dimensions (a decaying spectrum, as learned and tapped features have, which lets the PCA find two
clear axes), L2-normalised.

Run:  PYTHONPATH=src python benchmarks/bench_eval_wide.py --n 4000 --dim 4544 --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import siamkit.evaluation._common as common
import siamkit.evaluation.evaluate as evaluate_module
import siamkit.evaluation.pairs as pairs
import siamkit.evaluation.plots.embeddings as embeddings
from siamkit.evaluation import evaluate_embeddings, shared_distance_matrices
from siamkit.evaluation.failures import failure_pairs
from siamkit.evaluation.per_class import per_class_report
from siamkit.experiment.protocol import CALIBRATION_PAIRS


def cpu_seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU time of ``fn()`` and its result."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


@contextlib.contextmanager
def before() -> Iterator[None]:
    """The evaluation as it was before the savings for wide embeddings."""
    saved = (
        pairs.PAIR_BLOCK_ELEMENTS,
        common.KEEP_NAMED_DIM,
        embeddings.FULL_SVD_MAX,
        evaluate_module.checked_embeddings,
    )
    pairs.PAIR_BLOCK_ELEMENTS = common.BLOCK_ELEMENTS
    common.KEEP_NAMED_DIM = sys.maxsize
    embeddings.FULL_SVD_MAX = sys.maxsize
    evaluate_module.checked_embeddings = lambda z: contextlib.nullcontext()  # type: ignore[assignment]
    try:
        yield
    finally:
        (
            pairs.PAIR_BLOCK_ELEMENTS,
            common.KEEP_NAMED_DIM,
            embeddings.FULL_SVD_MAX,
            evaluate_module.checked_embeddings,
        ) = saved


def parts(z: torch.Tensor, y: torch.Tensor, repeats: int) -> dict[str, tuple[float, Any]]:
    """Each part's CPU seconds (median of ``repeats`` rounds) and figures, as `siamkit evaluate
    --report` runs them: each round in a ``shared_distance_matrices`` block of its own."""
    steps: dict[str, Callable[[], Any]] = {
        "evaluate_embeddings": lambda: evaluate_embeddings(z, y, episodes=1000).to_dict(),
        "threshold TAR/FAR (300,000 pairs)": lambda: pairs.pair_distances(
            z, y, max_pairs=CALIBRATION_PAIRS
        ),
        "report: k-NN, prototypes, failure cases": lambda: (
            per_class_report(z, y).to_dict(),
            failure_pairs(z, y),
        ),
        "report: embedding map (PCA)": lambda: embeddings.project_2d(z),
    }
    rounds: dict[str, list[tuple[float, Any]]] = {name: [] for name in steps}
    for _ in range(repeats):
        with shared_distance_matrices():
            for name, step in steps.items():
                rounds[name].append(cpu_seconds(step))
    return {name: (statistics.median(t for t, _ in r), r[-1][1]) for name, r in rounds.items()}


def same(name: str, a: Any, b: Any) -> str:
    """Whether two parts' figures agree: exactly, or the PCA to 1e-6 up to each axis's sign."""
    if name.startswith("threshold"):
        ok = all(np.array_equal(x, y) for x, y in zip(a, b))
    elif name.startswith("report: embedding"):
        gap = max(min(abs(a[:, k] - b[:, k]).max(), abs(a[:, k] + b[:, k]).max()) for k in (0, 1))
        return f"to {gap:.0e} (up to sign)"
    else:
        ok = a == b
    return "identical" if ok else "DIFFER"


def embeddings_of(n: int, dim: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random embeddings with a decaying spectrum (see the module docstring)."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    scale = 1.0 / torch.arange(1, dim + 1).sqrt()
    noise = torch.randn(n, dim, generator=g) * scale
    centres = torch.randn(classes, dim, generator=g) * scale
    return torch.nn.functional.normalize(centres[y] * 2.0 + noise, dim=1), y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--dim", type=int, default=4544)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variant", choices=["before", "after"], help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:  # one variant in a process of its own: the other's memory state is not ours
        torch.set_num_threads(args.threads)
        z, y = embeddings_of(args.n, args.dim, args.classes)
        with before() if args.variant == "before" else contextlib.nullcontext():
            parts(z[:200], y[:200], 1)  # warm-up: lazy imports, first calls
            out = parts(z, y, args.repeats)
        Path(args.result).write_bytes(pickle.dumps(out))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("after", "before"):
            result = Path(tmp) / variant
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--variant", variant,
                            "--result", str(result)], check=True)  # fmt: skip
            results[variant] = pickle.loads(result.read_bytes())
    old, new = results["before"], results["after"]
    print(f"{args.n} x {args.dim}, {args.classes} classes, {args.threads} thread(s)")
    print("| part | before s | after s | x | figures |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, (t_old, f_old) in old.items():
        t_new, f_new = new[name]
        ratio = t_old / max(t_new, 1e-9)
        print(f"| {name} | {t_old:.2f} | {t_new:.2f} | {ratio:.1f} | {same(name, f_old, f_new)} |")
    t_old, t_new = sum(t for t, _ in old.values()), sum(t for t, _ in new.values())
    print(f"| all | {t_old:.2f} | {t_new:.2f} | {t_old / t_new:.1f} | |", flush=True)


if __name__ == "__main__":
    main()
