"""Running ``siamkit serve`` for weeks: stopping it as systemd does, backing up its gallery."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from _service_helpers import free_port, make_model

import siamkit

pytest.importorskip("uvicorn")


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url + "health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("serve did not answer /health in time")


def test_sigterm_stops_serve_cleanly_with_status_0(tmp_path: Path) -> None:
    """systemctl stop sends SIGTERM: serve finishes, says it stopped and exits 0 (it said
    "interrupted (SIGTERM) before the command finished; run it again" and exited 143, so
    systemd recorded every stop as a failed unit)."""
    model = siamkit.save_model(make_model(), tmp_path / "model")
    port = free_port()
    gallery = tmp_path / "g.db"
    cmd = [sys.executable, "-m", "siamkit", "serve", str(model), "--gallery", str(gallery)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/", proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "run it again" not in err
    assert err.strip().splitlines()[-1].startswith("siamkit serve stopped (SIGTERM)")
    assert not Path(f"{gallery}-wal").exists()  # closed: its log checkpointed into g.db


def test_a_slow_request_in_flight_at_sigterm_is_answered_and_kept(tmp_path: Path) -> None:
    """A request still uploading when SIGTERM arrives is finished and stored before exit."""
    import socket

    from _service_helpers import pattern, png_bytes

    model = siamkit.save_model(make_model(), tmp_path / "model")
    port = free_port()
    gallery = tmp_path / "g.db"
    cmd = [sys.executable, "-m", "siamkit", "serve", str(model), "--gallery", str(gallery)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="label"\r\n\r\nlate\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + png_bytes(pattern("disc")) + f"\r\n--{boundary}--\r\n".encode()
    answer: list[bytes] = []
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/", proc)
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(
                f"POST /enroll HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                f"multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
                "\r\n".encode()
                + body[:40]
            )
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proc.poll() is None  # waiting for the request in progress
            conn.sendall(body[40:])
            conn.settimeout(30)
            reader = threading.Thread(target=lambda: answer.append(conn.recv(65536)))
            reader.start()
            reader.join(35)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answer and answer[0].startswith(b"HTTP/1.1 201"), answer
    assert proc.returncode == 0, err
    with siamkit.index.Gallery.open(gallery, make_model()) as g:
        assert "late" in g
