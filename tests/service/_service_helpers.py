"""Helpers shared by the service tests: a tiny image model, generated PNGs, a live server."""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import siamkit

API_KEY = "test-key-0123"
CHROMIUM = Path("/usr/bin/chromium")


def require_browser() -> None:
    """Skip the calling (browser) test module where Debian's chromium or playwright is missing,
    unless the CI variable is set: there a missing browser fails the tests."""
    if not os.environ.get("CI") and not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
        )
    if not os.environ.get("CI"):
        pytest.importorskip("playwright.sync_api")
    pytest.importorskip("uvicorn")


def require_node() -> str:
    """The path of Node.js, which runs the web page's scripts in the page tests. Missing, the
    calling test is skipped, unless the CI variable is set: there it fails, as a missing browser
    does (``.ci/run`` installs Debian's nodejs)."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail(
                "Node.js is not installed (apt-get install nodejs): the page's script cannot run"
            )
        pytest.skip("Node.js is not installed: the page's script cannot run")
    return node


def make_model(threshold: float | None = 0.5) -> siamkit.SiameseNetwork:
    """An untrained small convnet for 28×28 grey images (fast; only its determinism matters)."""
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=16, preprocess=pre).eval()
    net.threshold = threshold
    return net


def pattern(kind: str, size: int = 28, seed: int = 0) -> np.ndarray:
    """Visibly different grey test images: ``stripes``, ``checker``, ``disc``, ``noise``."""
    yy, xx = np.mgrid[0:size, 0:size]
    if kind == "stripes":
        img = ((xx // 4) % 2) * 255
    elif kind == "checker":
        img = (((xx // 7) + (yy // 7)) % 2) * 255
    elif kind == "disc":
        img = (((xx - size / 2) ** 2 + (yy - size / 2) ** 2) < (size / 3) ** 2) * 255
    elif kind == "noise":
        img = np.random.default_rng(seed).integers(0, 256, (size, size))
    else:
        raise ValueError(kind)
    return img.astype(np.uint8)


def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """The ``(1, 1, H, W)`` float tensor in [0, 1] that the service should make of ``array``."""
    return torch.from_numpy(array.astype(np.float32) / 255.0)[None, None]


def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record_served_apps(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make ``siamkit serve`` hand its app to a list instead of running uvicorn (the socket it
    bound is closed), with no API key from the environment; returns that list."""
    from siamkit.cli import serve_cmd

    seen: list[Any] = []

    def run(app: Any, sock: socket.socket, log_level: str) -> None:
        seen.append(app)
        sock.close()

    monkeypatch.setattr(serve_cmd, "run_server", run)
    monkeypatch.delenv("SIAMKIT_API_KEY", raising=False)
    return seen


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port (the browser tests); yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
