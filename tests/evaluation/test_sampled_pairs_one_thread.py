"""Sampled and listed pair distances: the blocks of a named distance run on one intra-op thread
(thousands of small multi-threaded ops waited on a loaded machine's scheduler: 238 s against
13 s for 300,000 pairs of 4,544-wide embeddings), and the values are those of a naive per-pair
loop, bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from siamkit.distances import FixedDistance, get_distance
from siamkit.distances import functional as F
from siamkit.evaluation.pairs import listed_pair_distances, pair_index, sampled_pair_distances


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


#: the blocks' thread counts in a process whose only Python thread runs them (a CLI run): this
#: test session may hold other tests' threads, with which the blocks keep their threads
_ALONE = """
import json, threading, torch
from siamkit.distances import FixedDistance
from siamkit.distances import functional as F
from siamkit.evaluation.pairs import listed_pair_distances, sampled_pair_distances
torch.set_num_threads(2)
#BAR
seen = []
def pairwise(x, y):
    seen.append(torch.get_num_threads())
    return F.pairwise_euclidean(x, y)
dist = FixedDistance("euclidean", pairwise, F.euclidean_matrix, True)
z = torch.randn(300, 64, generator=torch.Generator().manual_seed(0))
sampled_pair_distances(z, torch.arange(300) % 3, dist, max_pairs=5_000)
listed_pair_distances(z, [0, 1], [2, 3], [1, 0], dist)
print(json.dumps([threading.active_count(), sorted(set(seen)), len(seen), torch.get_num_threads()]))
"""


#: a progress bar open, as on a terminal: tqdm's monitor thread, which runs no torch work
_TQDM_BAR = """
import io
from tqdm.auto import tqdm
bar = tqdm(total=1, file=io.StringIO())
assert tqdm.monitor in threading.enumerate(), threading.enumerate()
"""


@pytest.mark.parametrize("bar", [False, True], ids=["alone", "tqdm-monitor"])
def test_blocks_of_a_named_distance_run_on_one_thread_and_the_count_comes_back(bar):
    """Also with tqdm's monitor thread running (siamkit's bars on a terminal): it made the
    blocks keep their threads, so an interactive `siamkit train` lost the speed-up (s57_FA Q6)."""
    src = Path(__file__).resolve().parents[2] / "src"  # the src next to this test
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = _ALONE.replace("#BAR", _TQDM_BAR if bar else "")
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    alone, threads, blocks, after = json.loads(run.stdout)
    assert alone == 1 + bar and blocks > 0, run.stdout
    assert threads == [1], f"pair blocks ran on {threads} threads"
    assert after == 2, run.stdout


#: whether ``_alone`` leaves each other thread out, in a process of its own: none; tqdm's running
#: monitor (a bar open); a plain thread named as tqdm names its monitor; a TMonitor that no tqdm
#: class holds as its monitor; tqdm's running monitor with tqdm's private ``_monitor`` module
#: hidden (a future tqdm that moved it)
_WHO_COUNTS = """
import io, json, sys, threading
from siamkit.evaluation.pairs import _alone
got = {"none": _alone()}
from tqdm.auto import tqdm
bar = tqdm(total=1, file=io.StringIO())
got["monitor"] = _alone()
stop = threading.Event()
impostor = threading.Thread(target=stop.wait, name="tqdm_monitor", daemon=True)
impostor.start()
got["named like it"] = _alone()
stop.set(); impostor.join()
from tqdm._monitor import TMonitor
class Other:
    _instances = set()
stray = TMonitor(Other, 1000)
got["stray TMonitor"] = _alone()
stray.exit()
sys.modules["tqdm._monitor"] = None
got["private module gone"] = _alone()
print(json.dumps(got))
"""


def test_only_the_monitor_tqdm_holds_is_left_out_of_the_other_threads():
    """The one-thread window leaves out tqdm's monitor by identity (the thread tqdm's class keeps
    as its public ``monitor``), not by the private ``tqdm._monitor.TMonitor`` class: another
    thread must still count, whatever its class or name, and the monitor must still be known
    when the private module moves."""
    src = Path(__file__).resolve().parents[2] / "src"  # the src next to this test
    env = {**os.environ, "PYTHONPATH": str(src)}
    run = subprocess.run(
        [sys.executable, "-c", _WHO_COUNTS], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "none": True,
        "monitor": True,
        "named like it": False,
        "stray TMonitor": False,
        "private module gone": True,
    }


def test_a_thread_that_first_uses_torch_during_the_blocks_keeps_its_threads(two_threads):
    """``torch.set_num_threads(1)`` also set the count a thread takes at its first parallel
    work: a thread whose first torch op fell inside the blocks kept one thread after them
    (s57_FA Q2). With another thread running, the blocks keep the threads' count."""
    got: dict[str, int] = {}
    started, done = threading.Event(), threading.Event()

    def other() -> None:  # first torch op while the blocks run
        started.wait(30)
        got["during"] = torch.get_num_threads()
        done.wait(30)
        got["after"] = torch.get_num_threads()

    def pairwise(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not started.is_set():
            started.set()
            time.sleep(0.3)  # let the other thread make its first call inside the blocks
        got.setdefault("blocks", torch.get_num_threads())
        return F.pairwise_euclidean(x, y)

    thread = threading.Thread(target=other)
    thread.start()
    dist = FixedDistance("euclidean", pairwise, F.euclidean_matrix, True)
    z = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    listed_pair_distances(z, [0, 1], [2, 3], [1, 0], dist)
    done.set()
    thread.join(30)
    assert got == {"during": 2, "after": 2, "blocks": 2}, got
    assert torch.get_num_threads() == 2


def test_the_count_comes_back_when_a_block_raises(two_threads):
    def pairwise(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    dist = FixedDistance("euclidean", pairwise, F.euclidean_matrix, True)
    with pytest.raises(RuntimeError, match="boom"):
        listed_pair_distances(torch.randn(4, 8), [0], [1], [1], dist)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("dim", [8, 384, 4544])
def test_sampled_pairs_equal_a_naive_per_pair_loop_exactly(two_threads, name, dim):
    g = torch.Generator().manual_seed(dim)
    n, max_pairs, seed = 120, 700, 3
    z = torch.randn(n, dim, generator=g)
    y = torch.randint(0, 4, (n,), generator=g).numpy()
    pd = sampled_pair_distances(z, y, name, max_pairs=max_pairs, seed=seed)
    # the same draw, then each pair alone on the default threads
    flat = np.sort(np.random.default_rng(seed).choice(n * (n - 1) // 2, max_pairs, replace=False))
    i, j = pair_index(flat, n)
    dist = get_distance(name)
    naive = np.array([dist.pairwise(z[a : a + 1], z[b : b + 1]).item() for a, b in zip(i, j)])
    naive = naive.astype(np.float32)
    same = y[i] == y[j]
    assert pd.genuine.tobytes() == naive[same].tobytes()
    assert pd.impostor.tobytes() == naive[~same].tobytes()


#: in a process whose only Python thread runs the pass (where the one-thread window is taken):
#: 40,000-wide embeddings, 14 and 27 listed pairs (blocks of 13, then one pair alone), against the
#: former route (the same blocks on the default 2 threads); the mismatching (metric, pairs, index)
_WIDE = """
import json, numpy as np, torch
from siamkit.distances import get_distance
from siamkit.evaluation.pairs import PAIR_BLOCK_ELEMENTS, listed_pair_distances
torch.set_num_threads(2)
z = torch.randn(40, 40_000, generator=torch.Generator().manual_seed(0))
rng = np.random.default_rng(1)
bad = []
for pairs in (14, 27):
    ia, ib = rng.integers(0, 40, pairs), rng.integers(0, 40, pairs)
    step = PAIR_BLOCK_ELEMENTS // z.shape[1]
    for name in ("euclidean", "sqeuclidean", "cosine", "manhattan"):
        dist = get_distance(name)
        former = np.concatenate([dist.pairwise(z[ia[s : s + step]], z[ib[s : s + step]]).numpy()
                                 for s in range(0, pairs, step)])
        got = listed_pair_distances(z, ia, ib, np.ones(pairs, bool), name).genuine
        bad += [[name, pairs, int(k)] for k in np.flatnonzero(got.view(np.int32) != former.view(np.int32))]
print(json.dumps([step, bad, torch.get_num_threads()]))
"""


def test_wide_embeddings_keep_the_former_routes_values_bit_for_bit():
    """A one-pair block of a row at least 32,768 wide had its sum split over torch's threads;
    on one thread it rounded differently (1 ulp, s57_r9 finding 2): such widths keep the threads."""
    src = Path(__file__).resolve().parents[2] / "src"  # the src next to this test
    env = {**os.environ, "PYTHONPATH": str(src)}
    run = subprocess.run(
        [sys.executable, "-c", _WIDE], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    step, bad, after = json.loads(run.stdout)
    assert step == 13 and after == 2, run.stdout
    assert bad == [], f"values differ from the former route at (metric, pairs, index) {bad}"


#: sha256 of the listed-pair distances by (metric, width, route, torch thread count): 384 and
#: 32,767 wide (the widest the window takes), a block count that leaves one pair alone at the end;
#: "former" is the same blocks on torch's threads, "today" is listed_pair_distances
_THREAD_COUNTS = """
import hashlib, json, numpy as np, torch
from siamkit.distances import get_distance
from siamkit.evaluation.pairs import PAIR_BLOCK_ELEMENTS, listed_pair_distances
got = {}
for dim in (384, 32_767):
    z = torch.randn(60, dim, generator=torch.Generator().manual_seed(dim))
    step = PAIR_BLOCK_ELEMENTS // dim
    rng = np.random.default_rng(dim)
    ia, ib = rng.integers(0, 60, step + 1), rng.integers(0, 60, step + 1)
    for name in ("euclidean", "sqeuclidean", "cosine", "manhattan"):
        dist = get_distance(name)
        for threads in (1, 2, 4):
            torch.set_num_threads(threads)
            with torch.no_grad():
                former = np.concatenate([dist.pairwise(z[ia[s : s + step]], z[ib[s : s + step]]).numpy()
                                         for s in range(0, ia.size, step)])
            today = listed_pair_distances(z, ia, ib, np.ones(ia.size, bool), name).genuine
            for route, v in (("former", former), ("today", today)):
                got[f"{name} {dim} {route} {threads}"] = hashlib.sha256(v.tobytes()).hexdigest()[:16]
print(json.dumps(got))
"""


def test_pair_distances_are_the_same_at_one_two_and_four_torch_threads():
    """The window's values were proven equal to the former route's at 2 threads (s57_c9); they
    do not depend on the thread count at all (elementwise ops, and row sums below torch's grain
    that one thread takes either way), so the former route and the window agree at 4 threads too.
    Unlike few-shot episodes (matrix products, s58_r6 finding 1), nothing here is split by MKL."""
    src = Path(__file__).resolve().parents[2] / "src"  # the src next to this test
    env = {**os.environ, "PYTHONPATH": str(src)}
    run = subprocess.run(
        [sys.executable, "-c", _THREAD_COUNTS], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    for name in ("euclidean", "sqeuclidean", "cosine", "manhattan"):
        for dim in (384, 32_767):
            hashes = {
                f"{route} {t}": got[f"{name} {dim} {route} {t}"]
                for route in ("former", "today")
                for t in (1, 2, 4)
            }
            assert len(set(hashes.values())) == 1, f"{name} {dim} wide: sha256 {hashes}"
