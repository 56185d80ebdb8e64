"""kill -9 during enrollment: every acknowledged enrollment survives and the store opens cleanly.

A child process enrolls in a loop and prints each enrollment's ids only after the commit
returned (the acknowledgement). The parent kills it with SIGKILL at a random moment, 20 times
on the same file, and after each kill checks every acknowledged enrollment, byte for byte.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import siamkit.index.store as store_module
from siamkit.index import GalleryStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

DIM, ROWS = 8, 2

# The store needs only the standard library and numpy, so this child loads store.py by path and
# starts in a fraction of a second (no torch import): 20 kills take a few seconds.
STORE_CHILD = """
import importlib.util, os, sys, zlib
import numpy as np
spec = importlib.util.spec_from_file_location("gallery_store", sys.argv[2])
store = importlib.util.module_from_spec(spec)
sys.modules["gallery_store"] = store
spec.loader.exec_module(store)
dim, rows = int(sys.argv[4]), int(sys.argv[5])
s = store.GalleryStore(sys.argv[1], synchronous=sys.argv[3])
s.init_meta({"embedding_dim": str(dim)})
print("ready", flush=True)
i = 0
while True:
    label = f"p{os.getpid()}-{i}"
    z = np.random.default_rng(zlib.crc32(label.encode())).standard_normal((rows, dim))
    ids = s.add(label, z.astype(np.float32), {"i": i})
    print(label, *ids, flush=True)
    i += 1
"""

GALLERY_CHILD = """
import os, sys, zlib
import numpy as np
from siamkit.index import Gallery
dim, rows = int(sys.argv[2]), int(sys.argv[3])
g = Gallery.open(sys.argv[1], embedding_dim=dim)
print("ready", flush=True)
i = 0
while True:
    label = f"p{os.getpid()}-{i}"
    z = np.random.default_rng(zlib.crc32(label.encode())).standard_normal((rows, dim))
    ids = g.enroll_embeddings(label, z.astype(np.float32), {"i": i})
    print(label, *ids, flush=True)
    i += 1
"""


def expected_embeddings(label: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    return rng.standard_normal((ROWS, DIM)).astype(np.float32)


def run_and_kill(
    args: list[str], delay: float, env: dict[str, str], ready: bool
) -> dict[str, list[int]]:
    """Start the child, SIGKILL it ``delay`` s after it is ready (after start if not ``ready``).

    Returns its acknowledged enrollments: ``{label: ids}``.
    """
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = child.stdout.readline() if ready else b""  # type: ignore[union-attr]
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    out, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    acked = {}
    for line in (first + out).decode().split("\n")[:-1]:  # the last piece may be cut by the kill
        if line != "ready":
            label, *ids = line.split()
            acked[label] = [int(i) for i in ids]
    return acked


def check_store(path: Path, acked: dict[str, list[int]], new: set[str]) -> None:
    """Every acknowledged enrollment is there (embeddings compared for the ``new`` labels)."""
    with GalleryStore(path, create=False) as store:
        assert store.integrity_check() == "ok"
        items = store.load()
        rows: dict[str, list[int]] = {}
        for row, label in enumerate(items.labels):
            rows.setdefault(label, []).append(row)
        for label, ids in acked.items():
            assert label in rows, f"acknowledged enrollment {label} lost"
            assert items.ids[rows[label]].tolist() == ids
            if label in new:
                np.testing.assert_array_equal(
                    items.embeddings[rows[label]], expected_embeddings(label)
                )
        # and no enrollment is half there (acknowledged or not)
        assert all(len(r) == ROWS for r in rows.values())


def kill_loop(tmp_path: Path, args_for, rounds: int, delays: tuple[float, float], env) -> int:
    path = tmp_path / "crash.db"
    rng = random.Random(1234)
    acked: dict[str, list[int]] = {}
    for r in range(rounds):
        # round 0 is killed while it may still be creating the file; the others mid-enrollment
        delay = rng.uniform(0.0, 0.3) if r == 0 else rng.uniform(*delays)
        fresh = run_and_kill(args_for(path, r), delay, env, ready=r > 0)
        acked.update(fresh)
        if path.exists():
            check_store(path, acked, set(acked) if r == rounds - 1 else set(fresh))
    return len(acked)


def test_store_survives_20_random_sigkills(tmp_path):
    store_file = str(Path(store_module.__file__).resolve())

    def args_for(path: Path, r: int) -> list[str]:
        # FULL syncs every commit (slow disk: few commits per round); NORMAL relies on the OS
        # page cache, which also survives kill -9 (thousands of commits per round)
        sync = "FULL" if r % 2 == 0 else "NORMAL"
        return [sys.executable, "-c", STORE_CHILD, str(path), store_file, sync, str(DIM), str(ROWS)]

    total = kill_loop(tmp_path, args_for, 20, (0.0, 0.15), dict(os.environ))
    print(f"{total} acknowledged enrollments over 20 kills")
    assert total > 20  # the kills did land while enrollments were being acknowledged


@pytest.mark.slow
def test_gallery_survives_20_random_sigkills(tmp_path):
    env = dict(os.environ)
    src = str(Path(store_module.__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")

    def args_for(path: Path, r: int) -> list[str]:
        return [sys.executable, "-c", GALLERY_CHILD, str(path), str(DIM), str(ROWS)]

    total = kill_loop(tmp_path, args_for, 20, (0.0, 0.25), env)
    assert total > 20
