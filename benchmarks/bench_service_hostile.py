"""Hostile clients on loopback: idle connections and decode amplification, guard vs stock uvicorn.

Two rows per attack, side by side: the service as ``siamkit serve`` runs it now (connection guard,
header-checked decode limits) and the peer, stock uvicorn with the settings siamkit used before
(``limit_concurrency=1024``, h11, no guard; the upload checks of the previous release are not
rebuilt here, so the decode row reports the current service only and the issue's measurement of
the old one).

* ``--idle`` idle TCP connections are opened to the server, then ``/health`` and an authorised
  ``/verify`` of two 28×28 PNGs are timed (status and seconds);
* eight 1×16,000,000-pixel PNGs (about 15 KB each) are posted to ``/embed`` in one request.

Traffic goes only to 127.0.0.1. Run:  nice python benchmarks/bench_service_hostile.py
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "service"))

from _service_helpers import API_KEY, make_model, pattern, png_bytes  # noqa: E402
from test_service_connections import _multipart, _timed  # noqa: E402
from test_service_decode_limits import real_png  # noqa: E402

from siamkit.service import create_app  # noqa: E402
from siamkit.service.server import bind_socket, build_server, raise_open_file_limit  # noqa: E402


def start(app: Any, guarded: bool) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    sock = bind_socket("127.0.0.1", 0)
    if guarded:
        server = build_server(app, log_level="critical")
    else:
        config = uvicorn.Config(
            app, log_level="critical", timeout_keep_alive=5, limit_concurrency=1024
        )
        server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, int(sock.getsockname()[1])


def attack(port: int, idle_count: int) -> dict[str, str]:
    body, ctype = _multipart(
        [
            ("file_a", "a.png", png_bytes(pattern("stripes"))),
            ("file_b", "b.png", png_bytes(pattern("disc"))),
        ]
    )
    headers = {"Content-Type": ctype, "X-API-Key": API_KEY}
    _timed(port, "POST", "/verify", body=body, headers=headers)  # warm-up (first model call)
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(idle_count)]
    try:
        time.sleep(2.0)  # let the server accept (and, with the guard, close the excess)
        body, ctype = _multipart(
            [
                ("file_a", "a.png", png_bytes(pattern("stripes"))),
                ("file_b", "b.png", png_bytes(pattern("disc"))),
            ]
        )
        health = _timed(port, "GET", "/health")
        verify = _timed(
            port,
            "POST",
            "/verify",
            body=body,
            headers={"Content-Type": ctype, "X-API-Key": API_KEY},
        )
    finally:
        for s in idle:
            s.close()
    strips, ctype = _multipart([("files", f"{i}.png", real_png(16_000_000, 1)) for i in range(8)])
    embed = _timed(
        port, "POST", "/embed", body=strips, headers={"Content-Type": ctype, "X-API-Key": API_KEY}
    )
    return {
        "health": f"{health[0]} in {health[1] * 1e3:.0f} ms",
        "verify": f"{verify[0]} in {verify[1] * 1e3:.0f} ms",
        "strips": f"{embed[0]} in {embed[1] * 1e3:.0f} ms",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--idle", type=int, default=1_100)
    args = p.parse_args()
    raise_open_file_limit(4 * args.idle + 512)
    rows = {}
    for name, guarded in (("siamkit serve (guard)", True), ("stock uvicorn settings", False)):
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(make_model(), Path(tmp) / "g.db", api_key=API_KEY)
            server, thread, port = start(app, guarded)
            try:
                rows[name] = attack(port, args.idle)
            finally:
                server.should_exit = True
                thread.join(timeout=30)
    print(
        f"\n{args.idle} idle connections on loopback, then one request each (status in time; "
        "after one warm-up /verify)\n"
    )
    print("| server | /health | authorised /verify | eight 1x16M-pixel PNGs to /embed |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['health']} | {r['verify']} | {r['strips']} |")


if __name__ == "__main__":
    main()
