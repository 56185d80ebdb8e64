"""Online mining + triplet loss, forward + backward on CPU: siamkit vs pytorch-metric-learning.

Both libraries run side by side in one process on the same embeddings (L2-normalised, ``--dim``
wide, ``--per-class`` samples per class), Euclidean distance, margin 0.2, mean over the mined
triplets (PML with ``reducer=MeanReducer()`` and ``LpDistance(normalize_embeddings=False)``):

- semihard:   siamkit ``TripletMarginLoss(mining="semihard")`` (fused) vs PML
              ``TripletMarginMiner(type_of_triplets="semihard")`` + ``TripletMarginLoss``
- all:        siamkit ``TripletMarginLoss()`` (all valid triplets, fused) vs PML ``TripletMarginLoss``
              without a miner (PML's own all-triplets path; its miner's "all" means ``m <= margin``,
              a different set)
- batch_hard: siamkit ``TripletMarginLoss(mining="batch_hard")`` vs PML ``BatchHardMiner`` +
              ``TripletMarginLoss``

A second table times the miners alone (no loss, no gradient) that compute the same set as a PML
miner, siamkit's against PML's on the same batch, with the number each mined:

- batch_easy_hard: ``BatchEasyHardMiner("easy", "semihard")`` vs PML ``BatchEasyHardMiner`` (its
  default strategies)
- pair_margin: ``PairMarginMiner(0.2, 0.8)`` vs PML ``PairMarginMiner`` (its default margins)
- triplet_margin: ``TripletMarginMiner(0.2, "all")`` (``m <= margin``) vs PML
  ``TripletMarginMiner(type_of_triplets="all")``, which lists every valid triplet first (skipped
  past ``--pml-max-triplets``)

PML lists every valid triplet through a ``B^3`` mask, so it is skipped where that would exceed
``--pml-max-triplets``. Peak extra memory is measured in a fresh subprocess per case from
``/proc/self/status`` (``VmHWM`` after resetting it through ``/proc/self/clear_refs``), since
tracemalloc cannot see torch's allocations.

Times are this process's CPU time with one torch thread by default (``--clock wall`` and
``--threads 0`` for elapsed time on all cores): on a shared machine CPU time keeps the ratios
stable.

``--device cuda`` runs both on the GPU: elapsed time between synchronisations, and the peak extra
GPU memory of one forward + backward (``torch.cuda.max_memory_allocated``, in this process).

Run:  nice python benchmarks/bench_mining.py --sizes 128 512 2048 4096 --repeats 5
      python benchmarks/bench_mining.py --device cuda --sizes 512 2048 4096 8192 --repeats 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siamkit.losses.triplet import TripletMarginLoss
from siamkit.miners import (
    BatchEasyHardMiner,
    PairMarginMiner,
    TripletMarginMiner,
    all_triplet_count,
)

STRATEGIES = ("semihard", "all", "batch_hard")
MARGIN = 0.2


def make_batch(
    b: int, dim: int, per_class: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(b, dim, generator=g), dim=1)
    y = torch.arange(b) // per_class
    return z.to(DEVICE), y[torch.randperm(b, generator=g)].to(DEVICE)


def siamkit_step(strategy: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    loss = TripletMarginLoss(MARGIN, mining=None if strategy == "all" else strategy)
    return loss


def pml_step(strategy: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    from pytorch_metric_learning import distances, losses, miners, reducers

    lp = distances.LpDistance(normalize_embeddings=False)
    loss = losses.TripletMarginLoss(margin=MARGIN, distance=lp, reducer=reducers.MeanReducer())
    miner = {
        "semihard": miners.TripletMarginMiner(
            margin=MARGIN, type_of_triplets="semihard", distance=lp
        ),
        "all": None,
        "batch_hard": miners.BatchHardMiner(distance=lp),
    }[strategy]

    def step(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss(z, y, miner(z, y) if miner is not None else None)

    return step


def _pml_lp() -> object:
    from pytorch_metric_learning import distances

    return distances.LpDistance(normalize_embeddings=False)


def _pml_miner(name: str) -> Callable[..., object]:
    from pytorch_metric_learning import miners

    return {
        "batch_easy_hard": lambda: miners.BatchEasyHardMiner(
            pos_strategy="easy", neg_strategy="semihard", distance=_pml_lp()
        ),
        "pair_margin": lambda: miners.PairMarginMiner(0.2, 0.8, distance=_pml_lp()),
        "triplet_margin": lambda: miners.TripletMarginMiner(
            MARGIN, type_of_triplets="all", distance=_pml_lp()
        ),
    }[name]()


#: name -> (siamkit miner, whether PML lists every valid triplet to mine it)
MINER_CASES: dict[str, tuple[Callable[[], Callable[..., object]], bool]] = {
    "batch_easy_hard": (lambda: BatchEasyHardMiner("easy", "semihard"), False),
    "pair_margin": (lambda: PairMarginMiner(0.2, 0.8), False),
    "triplet_margin": (lambda: TripletMarginMiner(MARGIN, "all"), True),
}


def _mined(out: object) -> int:
    """How many triplets or pairs a miner returned; PML's ``(a, p, a, n)`` (one pair of each kind
    per anchor) counts as its triplets, its other pair lists as positive + negative pairs."""
    parts = list(out)  # type: ignore[call-overload]
    if len(parts) == 4:
        return len(parts[0]) if parts[0] is parts[2] else len(parts[0]) + len(parts[2])
    return len(parts[0])


def time_miner(
    miner: Callable[..., object], z: torch.Tensor, y: torch.Tensor, repeats: int
) -> tuple[float, int]:
    """Median seconds of one mining call (no gradient) after a warm-up, and how many it mined."""
    with torch.no_grad():
        out = miner(z, y)
        times = []
        for _ in range(repeats):
            _sync()
            t0 = clock()
            miner(z, y)
            _sync()
            times.append(clock() - t0)
    return statistics.median(times), _mined(out)


def miner_table(args: argparse.Namespace) -> list[str]:
    rows = ["| B | miner | siamkit ms | PML ms | PML / siamkit | mined (siamkit / PML) |",
            "| ---: | --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    print("\n".join(rows), flush=True)
    for b in args.sizes:
        z, y = make_batch(b, args.dim, args.per_class)
        n_all = all_triplet_count(y)
        for name in args.miners:
            ours, lists_all = MINER_CASES[name]
            t_ours, k_ours = time_miner(ours(), z, y, args.repeats)
            if lists_all and n_all > args.pml_max_triplets:
                pml_ms, ratio, k_pml = "skipped (B^3 mask)", "-", "-"
            else:
                t_pml, k = time_miner(_pml_miner(name), z, y, args.repeats)
                pml_ms, ratio, k_pml = f"{t_pml * 1e3:.1f}", f"{t_pml / t_ours:.1f}x", f"{k:,}"
            row = (
                f"| {b} | {name} | {t_ours * 1e3:.1f} | {pml_ms} | {ratio} | {k_ours:,} / {k_pml} |"
            )
            rows.append(row)
            print(row, flush=True)
    return rows


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]
DEVICE = torch.device("cpu")


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def run_once(step: Callable, z0: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    z = z0.clone().requires_grad_(True)
    _sync()
    t0 = clock()
    loss = step(z, y)
    loss.backward()
    _sync()
    return clock() - t0, float(loss.detach())


def time_step(
    step: Callable, z0: torch.Tensor, y: torch.Tensor, repeats: int
) -> tuple[float, float]:
    """Median seconds over ``repeats`` runs after one warm-up, and the loss value."""
    _, value = run_once(step, z0, y)
    times = [run_once(step, z0, y)[0] for _ in range(repeats)]
    return statistics.median(times), value


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def memory_child(lib: str, strategy: str, b: int, dim: int, per_class: int) -> None:
    """In a fresh process: peak RSS growth (MiB) of one forward + backward, printed as JSON."""
    torch.set_num_threads(1)
    z0, y = make_batch(b, dim, per_class)
    step = siamkit_step(strategy) if lib == "siamkit" else pml_step(strategy)
    run_once(step, make_batch(32, dim, 4)[0], make_batch(32, dim, 4)[1])  # import/lazy-init costs
    z = z0.clone().requires_grad_(True)
    base = _status_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    loss = step(z, y)
    loss.backward()
    peak = _status_kib("VmHWM")
    print(json.dumps({"extra_mib": (peak - base) / 1024, "hwm_reset": reset}))


def cuda_memory(lib: str, strategy: str, b: int, dim: int, per_class: int) -> float:
    """Peak extra GPU memory (MiB) of one forward + backward, in this process."""
    z0, y = make_batch(b, dim, per_class)
    step = siamkit_step(strategy) if lib == "siamkit" else pml_step(strategy)
    z = z0.clone().requires_grad_(True)
    torch.cuda.synchronize(DEVICE)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(DEVICE)
    torch.cuda.reset_peak_memory_stats(DEVICE)
    step(z, y).backward()
    torch.cuda.synchronize(DEVICE)
    return (torch.cuda.max_memory_allocated(DEVICE) - base) / 2**20


def measure_memory(lib: str, strategy: str, b: int, args: argparse.Namespace) -> float | None:
    if DEVICE.type == "cuda":
        return cuda_memory(lib, strategy, b, args.dim, args.per_class)
    cmd = [sys.executable, __file__, "--memory-child", lib, strategy, str(b), "--dim", str(args.dim),
           "--per-class", str(args.per_class)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(
            f"memory run failed for {lib} {strategy} B={b}: {out.stderr.strip()[-300:]}",
            file=sys.stderr,
        )
        return None
    return float(json.loads(out.stdout.strip().splitlines()[-1])["extra_mib"])


def speed_table(args: argparse.Namespace) -> list[str]:
    rows = ["| B | strategy | triplets (all valid) | siamkit ms | PML ms | PML / siamkit | loss diff |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    print("\n".join(rows), flush=True)
    for b in args.sizes:
        z0, y = make_batch(b, args.dim, args.per_class)
        n_all = all_triplet_count(y)
        for strategy in args.strategies:
            t_ours, v_ours = time_step(siamkit_step(strategy), z0, y, args.repeats)
            if strategy == "batch_hard" or n_all <= args.pml_max_triplets:
                t_pml, v_pml = time_step(pml_step(strategy), z0, y, args.repeats)
                pml_ms, ratio, diff = (
                    f"{t_pml * 1e3:.1f}",
                    f"{t_pml / t_ours:.1f}x",
                    f"{abs(v_ours - v_pml):.1e}",
                )
            else:
                pml_ms, ratio, diff = "skipped (B^3 mask)", "-", "-"
            row = f"| {b} | {strategy} | {n_all:,} | {t_ours * 1e3:.1f} | {pml_ms} | {ratio} | {diff} |"
            rows.append(row)
            print(row, flush=True)
    return rows


def memory_table(args: argparse.Namespace) -> list[str]:
    what = "extra peak GPU memory" if DEVICE.type == "cuda" else "extra peak RSS"
    rows = [f"| library | strategy | B | {what} (MiB) |", "| --- | --- | ---: | ---: |"]
    print("\n".join(rows), flush=True)
    cases = [("siamkit", s, args.memory_size) for s in ("semihard", "all", "batch_hard")]
    cases += [("siamkit", "semihard", 512), ("pml", "semihard", 512)]
    for lib, strategy, b in cases:
        mib = measure_memory(lib, strategy, b, args)
        row = f"| {lib} | {strategy} | {b} | {'failed' if mib is None else f'{mib:.0f}'} |"
        rows.append(row)
        print(row, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 512, 2048, 4096])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument(
        "--per-class",
        type=int,
        default=16,
        help="samples per class in a batch (P x K with K = this)",
    )
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    p.add_argument(
        "--pml-max-triplets",
        type=float,
        default=2e7,
        help="skip PML above this many valid triplets",
    )
    p.add_argument("--miners", nargs="*", default=list(MINER_CASES), choices=list(MINER_CASES),
                   help="miners timed alone against PML's (none: skip that table)")  # fmt: skip
    p.add_argument("--memory-size", type=int, default=4096)
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu",
        help="cpu: this process's CPU time (stable on a shared machine); wall: elapsed time "
        "(always with --device cuda)",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]: where both libraries run")
    p.add_argument(
        "--memory-child", nargs=3, metavar=("LIB", "STRATEGY", "B"), help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)
    if args.memory_child:
        lib, strategy, b = args.memory_child
        memory_child(lib, strategy, int(b), args.dim, args.per_class)
        return
    global clock, DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: this torch sees no CUDA GPU")
    if DEVICE.type == "cuda":
        args.clock = "wall"  # CPU time does not see the GPU's work
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {where}, {torch.get_num_threads()} thread(s), {args.clock} time, "
          f"D={args.dim}, {args.per_class} per class, margin {MARGIN}, median of {args.repeats}")  # fmt: skip
    speed_table(args)
    if args.miners:
        print()
        miner_table(args)
    if not args.skip_memory:
        print()
        memory_table(args)


if __name__ == "__main__":
    main()
