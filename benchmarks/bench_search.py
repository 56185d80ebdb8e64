"""1:N search on a 1,000,000 x 128 float32 gallery: exact batched search vs memory bandwidth, and
FAISS IVF / HNSW recall@1 and queries/s against exact (DESIGN §5).

Everything is measured in one run, so the ratios are comparable even on a busy machine:

* memory bandwidth: the best of several full reads of the gallery (``torch.sum``, same threads
  as the search) and of a numpy copy (read + write);
* exact search (:class:`siamkit.index.ExactIndex`, Euclidean) for several query batch sizes:
  ``read GB/s`` is the gallery bytes read per second (each batch reads the gallery once) and
  ``scan GB/s`` = queries/s x gallery bytes, the rate at which query-to-item comparisons consume
  gallery data; the target compares the batched scan rate with the bandwidth (>= 70%);
* FAISS IVF-Flat (``nprobe`` sweep) and HNSW-Flat (``efSearch`` sweep) through
  :class:`siamkit.index.FaissIndex`: recall@1 against the exact answer and queries/s relative to
  exact's best batched queries/s (target: recall@1 >= 0.99 at >= 20x).

The gallery imitates embeddings: unit vectors around ``--classes`` random class centres, and
the queries are fresh samples of enrolled classes (a new photo of an enrolled person).

    nice python benchmarks/bench_search.py                 # 1M x 128 (a few minutes on 2 cores)
    nice python benchmarks/bench_search.py --n 100000      # quick
    nice python benchmarks/bench_search.py --hnsw-removal 73000 --dim 64   # HNSW removal only

``--hnsw-removal N`` times only the removal that crosses a quarter of an ``N``-item HNSW graph
removed: how long it keeps its caller (a service request), the longest a Python thread waits
meanwhile, and when the rebuilt graph, built behind it, takes over.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault(
    "OMP_WAIT_POLICY", "PASSIVE"
)  # torch + faiss: two OpenMP runtimes, don't spin

import numpy as np
import torch

from siamkit.index import ExactIndex, FaissIndex


def make_data(
    n: int,
    dim: int,
    classes: int,
    num_queries: int,
    noise: float,
    seed: int,
    intrinsic_dim: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gallery ``(n, dim)`` and queries ``(num_queries, dim)``: unit vectors around class centres.

    With ``intrinsic_dim = L > 0`` the classes live in an L-dimensional subspace (centres and
    noise drawn in L dimensions with the same spread, then rotated into ``dim`` dimensions by a
    random orthonormal map, plus a little isotropic noise), like embeddings of a trained network.
    """
    gen = torch.Generator().manual_seed(seed)
    latent = intrinsic_dim or dim
    scale = noise * (dim / latent) ** 0.5  # same expected noise norm whatever the dimension
    centres = torch.nn.functional.normalize(torch.randn(classes, latent, generator=gen), dim=1)
    lift = torch.linalg.qr(torch.randn(dim, latent, generator=gen))[0] if intrinsic_dim else None
    out = []
    for count in (n, num_queries):
        cls = torch.randint(0, classes, (count,), generator=gen)
        z = centres[cls] + scale * torch.randn(count, latent, generator=gen)
        if lift is not None:
            z = z @ lift.T + 0.1 * noise * torch.randn(count, dim, generator=gen)
        out.append(torch.nn.functional.normalize(z, dim=1).numpy())
    return out[0], out[1]


def best_time(fn: Callable[[], Any], repeats: int, min_total: float = 0.0) -> float:
    """Minimum wall time of ``fn`` over ``repeats`` runs (more runs until ``min_total`` s passed)."""
    times: list[float] = []
    while len(times) < repeats or sum(times) < min_total:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_bandwidth(x: np.ndarray, repeats: int) -> dict[str, float]:
    """Read bandwidth (torch sum of the gallery) and numpy copy bandwidth, GB/s."""
    t = torch.from_numpy(x)
    read = x.nbytes / best_time(lambda: t.sum(), repeats) / 1e9
    dst = np.empty_like(x)
    copy = 2 * x.nbytes / best_time(lambda: np.copyto(dst, x), repeats) / 1e9
    return {"read_gbs": read, "copy_gbs": copy, "bandwidth_gbs": max(read, copy)}


def bench_exact(
    index: ExactIndex, queries: np.ndarray, batches: list[int], k: int, repeats: int
) -> list[dict[str, float]]:
    gallery_bytes = len(index) * index.dim * 4
    rows = []
    for b in batches:
        q = queries[:b]
        t = best_time(lambda q=q: index.search(q, k), repeats, min_total=1.0)
        rows.append(
            {
                "batch": b,
                "ms_per_batch": 1e3 * t,
                "qps": b / t,
                "read_gbs": gallery_bytes / t / 1e9,
                "scan_gbs": b * gallery_bytes / t / 1e9,
            }
        )
        print(f"  exact batch {b:5d}: {1e3 * t:9.1f} ms  {b / t:9.1f} q/s", flush=True)
    return rows


def exact_reference_qps(exact: ExactIndex, queries: np.ndarray, batch: int) -> float:
    """Exact queries/s for top-1 at the given batch size, best of 2 (the ratio's denominator)."""
    q = queries[:batch]
    return batch / best_time(lambda: exact.search(q, 1), 2)


def bench_ann(
    name: str,
    index: FaissIndex,
    set_param: Callable[[int], None],
    params: list[int],
    ref: tuple[ExactIndex, np.ndarray, np.ndarray, int],
    repeats: int,
) -> list[dict[str, float]]:
    """Recall@1 and queries/s per setting; exact's queries/s is re-measured right before and after
    the sweep and the higher one is the denominator (the machine's load may drift)."""
    exact, queries, truth, batch = ref
    before = exact_reference_qps(exact, queries, batch)
    rows = []
    for p in params:
        set_param(p)
        found = index.search(queries, 1).ids[:, 0]
        t = best_time(lambda: index.search(queries, 1), repeats, min_total=0.5)
        rows.append(
            {"param": p, "recall_at_1": float((found == truth).mean()), "qps": len(queries) / t}
        )
    exact_qps = max(before, exact_reference_qps(exact, queries, batch))
    for r in rows:
        r["exact_qps"], r["speedup"] = exact_qps, r["qps"] / exact_qps
        print(
            f"  {name} {r['param']:4d}: recall@1 {r['recall_at_1']:.4f}  {r['qps']:10.1f} q/s  "
            f"{r['speedup']:6.1f}x exact ({exact_qps:.1f} q/s)",
            flush=True,
        )
    return rows


def best_ann(rows: list[dict[str, float]], recall: float = 0.99) -> dict[str, float] | None:
    """The fastest setting that reaches the recall target."""
    good = [r for r in rows if r["recall_at_1"] >= recall]
    return max(good, key=lambda r: r["qps"]) if good else None


def run_exact(args: argparse.Namespace, x: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    bw = measure_bandwidth(x, args.repeats)
    print(f"bandwidth: read {bw['read_gbs']:.1f} GB/s, copy {bw['copy_gbs']:.1f} GB/s", flush=True)
    exact = ExactIndex(args.dim, "euclidean")
    exact.add(x, np.arange(args.n))
    rows = bench_exact(exact, queries, args.batches, args.k, args.repeats)
    bw_after = measure_bandwidth(x, args.repeats)  # the machine's load may have changed meanwhile
    return {"exact_index": exact, "bandwidth": bw, "bandwidth_after": bw_after, "exact": rows}


def sweep(
    args: argparse.Namespace, x: np.ndarray, kind: str, param: str, values: list[int], ref: Any
) -> tuple[float, list[dict[str, float]]]:
    """Build one FAISS index over the gallery, then sweep its search parameter."""
    t0 = time.perf_counter()
    options = {"nlist": args.nlist, "train_size": 1} if kind == "ivf" else {}
    if kind == "hnsw":
        options = {"M": args.M, "ef_construction": args.ef_construction}
    index = FaissIndex(args.dim, kind, "euclidean", **options)
    index.add(x, np.arange(args.n))
    build_s = time.perf_counter() - t0
    print(f"{kind} built in {build_s:.1f} s", flush=True)
    rows = bench_ann(
        f"{kind} {param}", index, lambda v: setattr(index, param, v), values, ref, args.repeats
    )
    return build_s, rows


def run_faiss(
    args: argparse.Namespace, x: np.ndarray, queries: np.ndarray, exact: ExactIndex, batch: int
) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(args.threads)
    ref = (exact, queries, exact.search(queries, 1).ids[:, 0], batch)
    out: dict[str, Any] = {}
    out["ivf_build_s"], out["ivf"] = sweep(args, x, "ivf", "nprobe", args.nprobe, ref)
    if not args.skip_hnsw:
        out["hnsw_build_s"], out["hnsw"] = sweep(args, x, "hnsw", "ef_search", args.ef_search, ref)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    x, queries = make_data(
        args.n, args.dim, args.classes, args.queries, args.noise, args.seed, args.intrinsic_dim
    )
    print(
        f"data {args.n} x {args.dim} ({x.nbytes / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    result: dict[str, Any] = {
        "config": vars(args),
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads},
        **run_exact(args, x, queries),
    }
    exact = result.pop("exact_index")
    if not args.skip_faiss:
        batch = max(result["exact"], key=lambda r: r["qps"])["batch"]  # exact's best batch size
        result.update(run_faiss(args, x, queries, exact, batch))
    return result


def report(res: dict[str, Any]) -> str:
    """Markdown tables of the results."""
    cfg, bw = res["config"], res["bandwidth"]
    band = max(bw["bandwidth_gbs"], res["bandwidth_after"]["bandwidth_gbs"])
    lines = [
        f"Gallery {cfg['n']:,} x {cfg['dim']} float32 ({cfg['n'] * cfg['dim'] * 4 / 1e9:.2f} GB), "
        f"{cfg['queries']} queries, {cfg['threads']} threads. Memory bandwidth measured in the run: "
        f"read {bw['read_gbs']:.1f} GB/s (torch sum), copy {bw['copy_gbs']:.1f} GB/s (numpy, read+write); "
        f"best of before/after: {band:.1f} GB/s.",
        "",
        f"Data: {cfg['classes']:,} classes, noise {cfg['noise']}, intrinsic dimension "
        f"{cfg['intrinsic_dim'] or cfg['dim']}. Exact: top-{cfg['k']}, Euclidean.",
        "",
        "| exact, batch | ms / batch | queries/s | gallery read GB/s | scan GB/s (q/s x gallery) | scan / bandwidth |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in res["exact"]:
        lines.append(
            f"| {r['batch']} | {r['ms_per_batch']:.1f} | {r['qps']:.1f} | {r['read_gbs']:.2f} | "
            f"{r['scan_gbs']:.1f} | {100 * r['scan_gbs'] / band:.0f}% |"
        )
    for key, param in (
        ("ivf", f"IVF{cfg['nlist']}-Flat nprobe"),
        ("hnsw", f"HNSW{cfg['M']}-Flat efSearch"),
    ):
        if key not in res:
            continue
        lines += [
            "",
            f"| {param} | recall@1 vs exact | queries/s | exact queries/s (same sweep) | × exact |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in res[key]:
            lines.append(
                f"| {r['param']} | {r['recall_at_1']:.4f} | {r['qps']:.0f} | {r['exact_qps']:.1f} | "
                f"{r['speedup']:.1f}× |"
            )
        best = best_ann(res[key])
        verdict = (
            f"fastest with recall@1 ≥ 0.99: {param} {best['param']}, {best['speedup']:.1f}× exact"
            if best
            else "no setting reached recall@1 ≥ 0.99"
        )
        lines += ["", verdict]
    return "\n".join(lines)


def bench_hnsw_removal(n: int, dim: int, seed: int) -> dict[str, float]:
    """Seconds the removal crossing a quarter removed takes, the longest gap of a thread ticking
    every 10 ms meanwhile, the rebuild's seconds after it, and recall@1 of the live items."""
    import threading

    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    index = FaissIndex(dim, "hnsw", "euclidean")
    index.add(x, np.arange(n))
    index.remove(np.arange(n // 4 - 10))  # just under the quarter: tombstones only
    gaps: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    t0 = time.perf_counter()
    index.remove(np.arange(n // 4 - 10, n // 4 + 10))
    removal = time.perf_counter() - t0
    index.wait_rebuilt()
    rebuilt = time.perf_counter() - t0 - removal
    stop.set()
    ticker.join()
    live = np.arange(n // 4 + 10, n)[:: max(1, n // 4000)]
    recall = float((index.search(x[live], 1).ids[:, 0] == live).mean())
    return {
        "removal_s": removal,
        "longest_thread_wait_s": max(gaps),
        "rebuilt_after_s": rebuilt,
        "recall_at_1": recall,
    }


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--n", type=int, default=1_000_000, help="gallery size")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument(
        "--classes", type=int, default=10_000, help="class centres the items cluster around"
    )
    p.add_argument(
        "--noise", type=float, default=0.05, help="per-coordinate spread around a centre"
    )
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument(
        "--batches", type=ints, default=[1, 8, 64, 256, 1000], help="exact query batch sizes"
    )
    p.add_argument("--k", type=int, default=10, help="neighbours per query in the exact timing")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--nlist", type=int, default=4096, help="IVF lists (FaissIndex default: 4 sqrt(n))"
    )
    p.add_argument("--nprobe", type=ints, default=[4, 8, 16, 32, 64])
    p.add_argument("--M", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--ef-search", type=ints, default=[16, 32, 64, 128])
    p.add_argument("--skip-faiss", action="store_true")
    p.add_argument("--skip-hnsw", action="store_true")
    p.add_argument(
        "--intrinsic-dim",
        type=int,
        default=0,
        help="0: classes spread in all dims; L: in an L-dim subspace",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the raw results here")
    p.add_argument(
        "--hnsw-removal",
        type=int,
        default=0,
        help="N: only time removing a quarter of an N-item HNSW graph (its rebuild runs behind)",
    )
    args = p.parse_args()
    if args.hnsw_removal:
        torch.set_num_threads(args.threads)
        print(json.dumps(bench_hnsw_removal(args.hnsw_removal, args.dim, args.seed), indent=2))
        return
    res = run(args)
    text = report(res)
    print("\n" + text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
