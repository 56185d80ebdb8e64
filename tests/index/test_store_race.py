"""Several processes creating the same new gallery files at the same instant (real processes)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import siamkit.index.store as store_module

PROCESSES = 4
FILES = 40
STEP = 0.05  # seconds between the files; every process opens file i at t0 + i * STEP

# The store needs only the standard library and numpy: the child loads store.py by path.
RACE_CHILD = r"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("gallery_store", sys.argv[1])
store = importlib.util.module_from_spec(spec)
sys.modules["gallery_store"] = store
spec.loader.exec_module(store)
folder, t0, n, step = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
for i in range(n):
    time.sleep(max(0.0, t0 + i * step - time.time()))
    try:
        s = store.GalleryStore(f"{folder}/g{i}.db", timeout=10)
        s.init_meta({"embedding_dim": "4"})
        s.close()
        print("ok", i, flush=True)
    except Exception as err:
        print("FAIL", i, err, flush=True)
"""


def race(folder: Path, store_file: str) -> list[str]:
    """Run the children; returns their failure lines."""
    t0 = time.time() + 1.5  # after every child has started
    args = [store_file, str(folder), str(t0), str(FILES), str(STEP)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACE_CHILD, *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    lines = [line for c in children for line in c.communicate(timeout=120)[0].splitlines()]
    assert (
        sum(line.startswith("ok") for line in lines)
        + sum(line.startswith("FAIL") for line in lines)
        == PROCESSES * FILES
    ), lines
    return [line for line in lines if line.startswith("FAIL")]


@pytest.mark.slow
def test_processes_creating_one_gallery_at_once_all_succeed(tmp_path: Path) -> None:
    failures = race(tmp_path, str(Path(store_module.__file__).resolve()))
    assert not failures, failures
