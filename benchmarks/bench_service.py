"""Service latency: /verify over loopback at 32 concurrent clients vs the in-process call.

The server is the real thing: ``siamkit serve MODEL --gallery G`` (uvicorn) in a subprocess on
127.0.0.1, with an API key. The clients are 32 keep-alive HTTP/1.1 connections from one asyncio
loop in this process (a minimal hand-written client, so that client overhead steals as little of
the shared CPU as possible). They send exactly ``--requests`` multipart ``/verify`` requests of
two 28×28 PNGs and check every answer: status 200 and the distance the in-process model gives
for that pair (to 1e-4). Anything else, a timeout, or a request not sent before ``--time-limit``
counts as an error.

Before the load, one client sends ``--single-client-requests`` (this also warms the server up):
its latency is the service's own overhead without queueing.

The references are measured in this process with the same saved model (``--runtime onnx``: its
ONNX export run by ONNX Runtime, in the server and here alike):

- ``verify_pair``: :func:`siamkit.index.verify_pair` on two decoded ``(1, 1, 28, 28)`` tensors,
  one call at a time — "the in-process call" of the DESIGN §5 target;
- ``decode + verify_pair``: the same plus decoding both PNGs (the work a request needs besides HTTP);
- ``verify_pair x32 threads``: 32 threads calling ``verify_pair`` at once, i.e. the in-process
  call under the same offered load as the service.

Traffic goes only to 127.0.0.1. Run:  nice python benchmarks/bench_service.py
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import siamkit  # noqa: E402
from siamkit.data.image_io import read_image  # noqa: E402
from siamkit.export.serving import load_for_serving  # noqa: E402
from siamkit.index import verify_pair  # noqa: E402

HOST = "127.0.0.1"


def make_model_dir(folder: Path) -> Path:
    """The default small convnet (32-64-128 widths, 64-d), untrained, saved as a bundle."""
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1)
    pre = siamkit.models.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=64, preprocess=pre).eval()
    return siamkit.save_model(net, folder / "model", threshold=0.5)


def make_pngs(n: int, seed: int = 0) -> list[bytes]:
    """``n`` distinct 28×28 grey PNGs: smooth random blobs (7×7 noise upsampled)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = Image.fromarray(rng.integers(0, 256, (7, 7), dtype=np.uint8))
        buf = io.BytesIO()
        small.resize((28, 28), Image.BILINEAR).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def percentiles(ms: list[float]) -> dict[str, float]:
    arr = np.asarray(ms)
    return {
        "n": len(ms),
        "p50": float(np.percentile(arr, 50)),
        "p99": float(np.percentile(arr, 99)),
        "mean": float(arr.mean()),
    }


# ---------------------------------------------------------------------- in-process references
def bench_in_process(
    model, pngs: list[bytes], pairs: np.ndarray, calls: int, concurrency: int
) -> dict:
    """Latency in ms of ``verify_pair`` alone, with PNG decoding, and ``concurrency`` callers at once."""
    x = [read_image(p, channels=1).unsqueeze(0) for p in pngs]
    for i in range(20):  # warm-up
        verify_pair(model, x[pairs[i, 0]], x[pairs[i, 1]])

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1e3

    plain = [timed(lambda a=a, b=b: verify_pair(model, x[a], x[b])) for a, b in pairs[:calls]]

    def decode_verify(a: int, b: int) -> None:
        xa, xb = read_image(pngs[a], channels=1), read_image(pngs[b], channels=1)
        verify_pair(model, xa.unsqueeze(0), xb.unsqueeze(0))

    decoded = [timed(lambda a=a, b=b: decode_verify(a, b)) for a, b in pairs[:calls]]
    with ThreadPoolExecutor(concurrency) as pool:
        loaded = list(
            pool.map(
                lambda ab: timed(lambda: verify_pair(model, x[ab[0]], x[ab[1]])), pairs[: calls * 2]
            )
        )
    return {
        "verify_pair": percentiles(plain),
        "decode + verify_pair": percentiles(decoded),
        f"verify_pair x{concurrency} threads": percentiles(loaded),
    }


# ---------------------------------------------------------------------- server + clients
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(
    model_dir: Path, gallery: Path, port: int, api_key: str, threads: int, runtime: str
) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SIAMKIT_API_KEY": api_key}
    cmd = [
        sys.executable,
        "-m",
        "siamkit",
        "serve",
        str(model_dir),
        "--gallery",
        str(gallery),
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--threads",
        str(threads),
        "--runtime",
        runtime,
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become healthy in 120 s")


def verify_request(a: bytes, b: bytes, port: int, api_key: str) -> bytes:
    """A complete HTTP/1.1 multipart POST /verify request with two PNGs."""
    boundary = "siamkitbench" + secrets.token_hex(8)
    parts = []
    for field, data in (("file_a", a), ("file_b", b)):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{field}.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    head = (
        f"POST /verify HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-API-Key: {api_key}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(v)
        for k, _, v in (ln.partition(":") for ln in lines[1:])
        if k.lower() == "content-length"
    )
    return status, await reader.readexactly(length)


async def run_load(
    port: int,
    requests: list[bytes],
    expected: list[float],
    concurrency: int,
    time_limit: float,
    timeout: float,
) -> dict:
    """``concurrency`` keep-alive clients share the request list; returns latencies and errors."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    next_i = iter(range(len(requests)))
    deadline = time.monotonic() + time_limit

    def fail(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for i in next_i:
                if time.monotonic() > deadline:
                    fail("not sent before the time limit")
                    continue
                t = time.perf_counter()
                try:
                    writer.write(requests[i])
                    status, body = await asyncio.wait_for(read_response(reader), timeout)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                    fail("connection error or timeout")
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
                    continue
                latencies.append((time.perf_counter() - t) * 1e3)
                if status != 200:
                    fail(f"HTTP {status}")
                elif abs(json.loads(body)["distance"] - expected[i]) > 1e-4:
                    fail("wrong distance")
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    return {
        "latency": percentiles(latencies),
        "errors": errors,
        "wall_s": wall,
        "requests_per_s": len(latencies) / wall,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--images", type=int, default=64, help="distinct PNGs the pairs are drawn from")
    p.add_argument("--in-process-calls", type=int, default=1_000)
    p.add_argument(
        "--single-client-requests", type=int, default=500, help="first, one client (also warm-up)"
    )
    p.add_argument("--time-limit", type=float, default=900.0, help="seconds for the whole load")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--threads", type=int, default=1, help="torch threads, server and in-process")
    p.add_argument(
        "--runtime", choices=("torch", "onnx"), default="torch", help="server and in-process model"
    )
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    return p.parse_args()


def report(
    args: argparse.Namespace, ref: dict, single: dict, load: dict, server_cpu: float
) -> dict:
    base = ref["verify_pair"]
    same_load = ref[f"verify_pair x{args.concurrency} threads"]
    rows = [*ref.items(), ("service /verify, 1 client", single["latency"])]
    rows.append((f"service /verify, {args.concurrency} clients", load["latency"]))
    print("\n| what | calls | p50 ms | p99 ms | p99 / in-process call |\n|---|---|---|---|---|")
    for name, r in rows:
        print(
            f"| {name} | {r['n']:,} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p99'] / base['p99']:.1f}x |"
        )
    errors = sum(load["errors"].values()) + sum(single["errors"].values())
    summary = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "errors": errors,
        "error_kinds": {**single["errors"], **load["errors"]},
        "wall_s": round(load["wall_s"], 1),
        "requests_per_s": round(load["requests_per_s"], 1),
        "server_cpu_ms_per_request": round(server_cpu / max(load["latency"]["n"], 1) * 1e3, 2),
        "p99_ratio_vs_call": round(load["latency"]["p99"] / base["p99"], 2),
        "p99_ratio_vs_call_at_same_load": round(load["latency"]["p99"] / same_load["p99"], 2),
        "p99_ratio_one_client": round(single["latency"]["p99"] / base["p99"], 2),
        "reference": ref,
        "service_one_client": single["latency"],
        "service": load["latency"],
        "runtime": args.runtime,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
    }
    print(
        f"\n{args.requests:,} requests at {args.concurrency} clients in {summary['wall_s']} s "
        f"({summary['requests_per_s']} req/s), errors: {errors} {summary['error_kinds'] or ''}; "
        f"server CPU {summary['server_cpu_ms_per_request']} ms/request"
    )
    print(
        f"p99 service / p99 in-process call: {summary['p99_ratio_vs_call']}x at {args.concurrency} "
        f"clients, {summary['p99_ratio_one_client']}x at 1 client; against the in-process call under "
        f"the same {args.concurrency}-way load: {summary['p99_ratio_vs_call_at_same_load']}x"
    )
    return summary


def measure_service(
    args: argparse.Namespace,
    model_dir: Path,
    tmp: Path,
    pngs: list[bytes],
    pairs: np.ndarray,
    expected: list[float],
) -> tuple[dict, dict, float]:
    """One client (also the warm-up), then the concurrent load; returns both and server CPU s."""
    api_key = secrets.token_urlsafe(16)
    port = free_port()
    server = start_server(model_dir, tmp / "gallery.db", port, api_key, args.threads, args.runtime)
    try:
        requests = [verify_request(pngs[a], pngs[b], port, api_key) for a, b in pairs]
        n1 = args.single_client_requests
        single = asyncio.run(run_load(port, requests[:n1], expected[:n1], 1, 300, args.timeout))
        cpu0 = cpu_seconds(server.pid)
        load = asyncio.run(
            run_load(
                port,
                requests[: args.requests],
                expected[: args.requests],
                args.concurrency,
                args.time_limit,
                args.timeout,
            )
        )
        return single, load, cpu_seconds(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    pngs = make_pngs(args.images)
    rng = np.random.default_rng(1)
    n = max(args.requests, 2 * args.in_process_calls, args.single_client_requests)
    pairs = rng.integers(0, args.images, (n, 2))
    with tempfile.TemporaryDirectory(prefix="bench_service_") as tmp:
        model_dir = make_model_dir(Path(tmp))
        if args.runtime == "onnx":
            from siamkit.export.onnx import export_onnx

            export_onnx(model_dir)
        model = load_for_serving(str(model_dir), args.runtime, args.threads)
        x = torch.cat([read_image(p, channels=1).unsqueeze(0) for p in pngs])
        with torch.inference_mode():
            z = model.embed(x)
        expected = [float(model.distance.pairwise(z[a : a + 1], z[b : b + 1])[0]) for a, b in pairs]
        ref = bench_in_process(model, pngs, pairs, args.in_process_calls, args.concurrency)
        single, load, server_cpu = measure_service(
            args, model_dir, Path(tmp), pngs, pairs, expected
        )
    summary = report(args, ref, single, load, server_cpu)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
