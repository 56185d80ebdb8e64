"""Few-shot episodes: the blocks of a named distance run on one intra-op thread (their small
multi-threaded ops waited on a loaded machine's scheduler: 45 s against 2 s for 1,000 5-way
episodes of 4,544-wide embeddings), with the former route's distances and accuracies, bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

#: in a process whose only Python thread runs the episodes (where the one-thread window is taken):
#: the threads each block saw, by distance, the count after, and whether the accuracies and every
#: block's distances equal those of the former route (the same blocks on the default 2 threads)
_EPISODES = """
import contextlib, json, torch
import siamkit.evaluation.few_shot as fs
from siamkit.distances import MLPMetric
torch.set_num_threads(2)
z = torch.randn(400, 384, generator=torch.Generator().manual_seed(0))
ep = fs.sample_episodes(torch.arange(400) % 20, 5, 1, 15, 300, 0)
plain, window = fs.prototype_distances, getattr(fs, "one_thread", None)
got = {}
for name, dist in (("euclidean", "euclidean"), ("cosine", "cosine"), ("mlp", MLPMetric(384))):
    seen, dists = [], []
    def spy(d, q, p):
        seen.append(torch.get_num_threads())
        out = plain(d, q, p)
        dists.append(out)
        return out
    fs.prototype_distances = spy
    acc = fs.episode_accuracies(z, ep, dist)
    today, threads = (acc.tobytes(), torch.cat(dists).numpy().tobytes()), sorted(set(seen))
    if window is not None:
        fs.one_thread = lambda on=True: contextlib.nullcontext()
    dists[:] = []
    acc = fs.episode_accuracies(z, ep, dist)
    if window is not None:
        fs.one_thread = window
    former = (acc.tobytes(), torch.cat(dists).numpy().tobytes())
    got[name] = [threads, today == former]
got["after"] = torch.get_num_threads()
print(json.dumps(got))
"""


def test_episode_blocks_of_a_named_distance_run_on_one_thread_with_the_same_values():
    """A learned distance (here an MLP head: matrix products) keeps its threads."""
    src = Path(__file__).resolve().parents[2] / "src"  # the src next to this test
    env = {**os.environ, "PYTHONPATH": str(src)}
    run = subprocess.run(
        [sys.executable, "-c", _EPISODES], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["after"] == 2, got
    threads = {name: got[name][0] for name in ("euclidean", "cosine", "mlp")}
    assert threads == {"euclidean": [1], "cosine": [1], "mlp": [2]}, (
        f"episode blocks ran on {threads} threads"
    )
    assert all(got[name][1] for name in ("euclidean", "cosine", "mlp")), got
