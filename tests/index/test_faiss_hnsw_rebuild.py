"""FaissIndex's HNSW rebuild runs behind the removal that crosses a quarter removed: searches
stay right meanwhile and after, and what is added or removed meanwhile is kept."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from _index_helpers import clustered

from siamkit.index import ExactIndex, FaissIndex, faiss_index, load_index

pytest.importorskip("faiss")


def held_build(
    index: FaissIndex, chunk_s: float = 0.0, overlaps: list[bool] | None = None
) -> tuple[threading.Event, threading.Event]:
    """Make the background build wait for ``release`` or for its stop flag (``started`` once
    it runs), then ``chunk_s`` more, as a chunk ends; a rebuild under the lock (save, past
    half removed) is not held, and ``overlaps`` gets, for each, whether a background build
    was still running when it began."""
    started, release = threading.Event(), threading.Event()
    build = index._build_hnsw
    behind: list[threading.Thread] = []

    def waiting(x, ids, stop=None):
        if threading.current_thread().name == "siamkit-hnsw-rebuild":
            behind.append(threading.current_thread())
            started.set()
            end = time.monotonic() + 30
            while not release.wait(0.01) and not (stop is not None and stop.is_set()):
                assert time.monotonic() < end
            time.sleep(chunk_s)
        elif overlaps is not None:
            overlaps.append(any(t.is_alive() for t in behind))
        return build(x, ids) if stop is None else build(x, ids, stop)

    index._build_hnsw = waiting  # type: ignore[method-assign]
    return started, release


def reference(x: np.ndarray, live: np.ndarray) -> ExactIndex:
    ref = ExactIndex(x.shape[1], "euclidean")
    ref.add(x[live], live)
    return ref


def test_the_removal_that_crosses_a_quarter_returns_before_the_rebuild_and_nothing_is_lost():
    x = clustered(600, 8, seed=11)
    index = FaissIndex(8, "hnsw", ef_search=600)  # a beam over all: exact on 600 items
    index.add(x[:500], np.arange(500))
    started, release = held_build(index)
    assert index.remove(np.arange(0, 140)) == 140  # > 500 // 4: the rebuild starts
    assert started.wait(10)  # it runs, held, while the removal has returned
    assert not index.wait_rebuilt(0)
    # meanwhile: searches are right, and more is added and removed
    live = np.arange(140, 500)
    np.testing.assert_array_equal(index.search(x, 5).ids, reference(x, live).search(x, 5).ids)
    index.add(x[500:], np.arange(500, 600))
    assert index.remove(np.r_[140:160, 550:560]) == 30
    live = np.r_[160:550, 560:600]
    assert len(index) == live.size
    release.set()
    assert index.wait_rebuilt(30)
    assert index._removed == set(range(140, 160)) | set(range(550, 560))  # only meanwhile's
    assert index._index.ntotal == live.size + 30
    assert len(index) == live.size
    got, want = index.search(x, 5), reference(x, live).search(x, 5)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.distances, want.distances, rtol=1e-5, atol=1e-5)


def test_rows_added_meanwhile_from_a_buffer_the_caller_reuses_are_found_after_the_takeover():
    """The rows added while the graph is rebuilt behind are kept for the new graph as they were
    at the add: a caller that refills its buffer afterwards (a float32 array goes into the
    index as it is) must not change what the new graph holds (s54_FA)."""
    x = clustered(600, 8, seed=12)
    index = FaissIndex(8, "hnsw", ef_search=600)
    index.add(x[:500], np.arange(500))
    started, release = held_build(index)
    assert index.remove(np.arange(0, 140)) == 140
    assert started.wait(10)
    buf = x[500:].copy()
    index.add(buf, np.arange(500, 600))
    buf[:] = 100.0  # the caller reuses its buffer
    release.set()
    assert index.wait_rebuilt(30)
    live = np.arange(140, 600)
    got, want = index.search(x[500:], 1), reference(x, live).search(x[500:], 1)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.distances, 0.0, atol=1e-5)


def test_a_save_while_the_rebuild_runs_takes_over_and_the_late_graph_is_dropped(tmp_path):
    x = clustered(400, 8, seed=12)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    started, release = held_build(index)
    index.remove(np.arange(120))
    assert started.wait(10)
    index.save(tmp_path / "g")  # rebuilds under the lock, without the removed items
    index.remove(np.arange(120, 130))  # a tombstone of the saved graph
    release.set()
    assert index.wait_rebuilt(30)
    live = np.arange(130, 400)
    assert len(index) == live.size and index._removed == set(range(120, 130))
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)
    again = load_index(tmp_path / "g")
    assert len(again) == 280
    again_ids = again.search(x, 3).ids
    np.testing.assert_array_equal(again_ids, reference(x, np.arange(120, 400)).search(x, 3).ids)


def test_past_half_removed_the_removal_rebuilds_before_it_returns():
    x = clustered(400, 8, seed=13)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    started, release = held_build(index)
    index.remove(np.arange(120))  # a quarter: behind
    assert started.wait(10)
    index.remove(np.arange(120, 260))  # past half of the graph: now, under the lock
    assert index._removed == set() and index._index.ntotal == 140
    release.set()
    assert index.wait_rebuilt(30)
    assert index._index.ntotal == 140 and len(index) == 140  # the late graph was dropped
    live = np.arange(260, 400)
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)


def test_len_waits_for_a_takeover_that_swaps_the_graph_and_its_tombstones():
    """len read the graph's size and the tombstones without the lock, so a takeover swapping
    the two in between gave the old graph's size less the new tombstones (5,000 too many at
    20,000 items). It now waits for the lock, under which the takeover runs."""
    x = clustered(400, 8, seed=14)
    index = FaissIndex(8, "hnsw")
    index.add(x, np.arange(400))
    started, release = held_build(index)
    index.remove(np.arange(110))
    assert started.wait(10)
    index.remove(np.arange(110, 120))  # tombstones of the old graph the new one keeps
    # the takeover's moment between its two stores, as the rebuild thread holds the lock
    taking_over, resume = threading.Event(), threading.Event()

    def take_over_slowly() -> None:
        with index._lock:
            taking_over.set()
            assert resume.wait(10)
            release.set()  # the build ends while the lock is held ...
            time.sleep(0.05)

    holder = threading.Thread(target=take_over_slowly)
    holder.start()
    assert taking_over.wait(10)
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.append(len(index)))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive(), "len did not wait for the index's lock"
    resume.set()
    holder.join(10)
    reader.join(10)
    assert got == [280]
    assert index.wait_rebuilt(30) and len(index) == 280


def test_a_save_while_the_rebuild_runs_stops_it_rather_than_building_twice(tmp_path):
    """save rebuilt the graph under the lock while the rebuild behind went on building one
    that would be dropped: two builds at once, twice the memory (+333 MB against +176 MB at
    100,000 x 256). The save now stops the rebuild behind and waits for it first."""
    x = clustered(400, 8, seed=15)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    overlaps: list[bool] = []
    started, _release = held_build(index, 0.3, overlaps)  # only a stop ends the hold
    index.remove(np.arange(120))
    assert started.wait(10)
    job = index._rebuilding
    assert job is not None and job.thread is not None
    index.save(tmp_path / "g")
    assert overlaps == [False]  # stopped and waited for, before the save's own build
    assert not job.thread.is_alive()
    assert index._rebuilding is None and len(index) == 280 and index._index.ntotal == 280
    live = np.arange(120, 400)
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)
    np.testing.assert_array_equal(
        load_index(tmp_path / "g").search(x, 3).ids, reference(x, live).search(x, 3).ids
    )


@pytest.mark.parametrize("replace", ["save", "re-add"])
def test_after_a_rebuild_under_the_lock_the_next_quarter_removed_starts_a_rebuild(
    tmp_path, replace
):
    """After save (or a re-add, or a removal past half) rebuilt the graph while a rebuild ran
    behind, the stale rebuild still counted as running, so a removal past a quarter of the
    new graph started none, and the stale one ended without looking: the graph stayed over a
    quarter tombstoned (80 of 280) until some later removal."""
    x = clustered(400, 8, seed=16)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    started, release = held_build(index)
    index.remove(np.arange(120))
    assert started.wait(10)
    stale = index._rebuilding
    if replace == "save":
        index.save(tmp_path / "g")  # rebuilds now: 280 items
    else:
        index.add(x[:1], np.array([0]))  # an id added again rebuilds now: 281 items
    started.clear()
    index.remove(np.arange(120, 200))  # 80 > max(64, 281 // 4): a new rebuild
    assert started.wait(10) and index._rebuilding is not stale
    release.set()
    assert index.wait_rebuilt(30)
    live = np.arange(200, 400) if replace == "save" else np.r_[0, 200:400]
    assert index._removed == set() and index._index.ntotal == live.size
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)


def test_the_exit_hook_stops_a_running_rebuild_between_two_chunks_and_waits_for_it():
    """The hook atexit runs before Python finalises: a rebuild thread still inside FAISS then
    aborted the process (SIGABRT). It stops the rebuild after its chunk and waits for it; the
    index keeps its tombstones, which answer right, and starts no other rebuild."""
    x = clustered(400, 8, seed=17)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    started, _release = held_build(index)
    index.remove(np.arange(120))
    assert started.wait(10)
    job = index._rebuilding
    assert job is not None and job.thread is not None
    try:
        faiss_index._stop_rebuilds()
        assert not job.thread.is_alive()
        index.remove(np.arange(120, 150))
        other = FaissIndex(8, "hnsw")
        other.add(x, np.arange(400))
        other.remove(np.arange(120))  # past a quarter while exiting: no thread starts
        assert other._rebuilding is None and len(other) == 280
    finally:
        faiss_index._exiting.clear()
    live = np.arange(150, 400)
    assert len(index) == live.size
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)


@pytest.mark.timeout(60)
def test_an_exit_hook_that_runs_while_a_rebuild_is_set_up_leaves_no_thread_to_start_after_it():
    """The job was registered for the exit hook before its thread was set: a hook that ran in
    between (the process exiting while another thread's removal copied the live vectors) found
    a job with no thread, let go of it and returned, and the thread then started as Python
    finalised, the SIGABRT the hook is there to prevent (s54_FA). Now the job is registered and
    its thread started in one step, after which an exiting process starts none."""
    x = clustered(400, 8, seed=18)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    copy = index._live_vectors
    hooked: list[bool] = []

    def exit_meanwhile():
        hook = threading.Thread(target=faiss_index._stop_rebuilds)
        hook.start()
        hook.join(10)
        hooked.append(not hook.is_alive())
        return copy()

    index._live_vectors = exit_meanwhile  # type: ignore[method-assign]
    started: list[threading.Thread] = []
    behind = index._rebuild_behind

    def recorded(*args):
        started.append(threading.current_thread())
        return behind(*args)

    index._rebuild_behind = recorded  # type: ignore[method-assign]
    try:
        assert index.remove(np.arange(120)) == 120
    finally:
        faiss_index._exiting.clear()
    assert hooked == [True]
    assert started == [] and index._rebuilding is None  # no thread outlives the hook
    assert index.wait_rebuilt(0)
    live = np.arange(120, 400)
    assert len(index) == live.size
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)


def _in_a_child(work, timeout: float = 15.0) -> dict:
    """Run ``work()`` in a forked child and return the dict it returns; the child is killed
    (and the test fails) past ``timeout`` seconds, as a hang in C code ignores Python."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 1
        try:
            os.close(r)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # not pytest-timeout's handler
            signal.alarm(int(timeout))
            os.write(w, json.dumps(work()).encode())
            code = 0
        except BaseException as err:
            os.write(w, json.dumps({"error": repr(err)}).encode())
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + timeout + 5
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            done = os.waitpid(pid, 0)
            break
        time.sleep(0.05)
    with os.fdopen(r) as out:
        said = out.read()
    status = os.waitstatus_to_exitcode(done[1])
    assert status == 0 and said, f"the child ended with {status}: {said or 'no answer'}"
    return json.loads(said)


@pytest.mark.timeout(90)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="a forked child")
def test_a_child_forked_while_the_rebuild_runs_searches_adds_and_rebuilds_on_its_own():
    """A process forked (a DataLoader worker, a prefork server) while a rebuild ran behind,
    and a takeover held the index's lock: the child's first search waited forever, for the
    lock of a thread it does not have and for GNU OpenMP's pool threads (faiss-cpu's libgomp);
    stepped past those, it kept every add for a graph that never came and started no rebuild
    of its own. Now the fork waits for the takeover, and the child lets go of the job and runs
    FAISS on one thread."""
    x = clustered(700, 8, seed=19)
    index = FaissIndex(8, "hnsw", ef_search=700)
    index.add(x[:500], np.arange(500))
    index.search(x[:50], 3)  # the parent's OpenMP pool
    started, release = held_build(index)
    assert index.remove(np.arange(140)) == 140
    assert started.wait(10)
    holding = threading.Event()

    def take_over() -> None:  # the takeover's moment, as the fork comes
        with index._lock:
            holding.set()
            time.sleep(0.3)

    holder = threading.Thread(target=take_over)
    holder.start()
    assert holding.wait(10)
    before = reference(x, np.arange(140, 500)).search(x, 5).ids
    after = reference(x, np.r_[340:700]).search(x, 5).ids

    def child() -> dict:
        del index._build_hnsw  # not held here
        seen = {"first": index.search(x, 5).ids.tolist() == before.tolist()}
        index.add(x[500:], np.arange(500, 700))
        index.remove(np.arange(140, 340))  # 340 of 700: past a quarter, not half
        seen["rebuilt"] = index.wait_rebuilt(20) and not index._removed
        seen["after"] = index.search(x, 5).ids.tolist() == after.tolist()
        return seen

    try:
        seen = _in_a_child(child)
    finally:
        release.set()
        holder.join(10)
    assert seen == {"first": True, "rebuilt": True, "after": True}
    assert index.wait_rebuilt(30)  # the parent's own rebuild goes on
    live = np.arange(140, 500)
    assert not index._removed and len(index) == live.size
    np.testing.assert_array_equal(index.search(x, 5).ids, before)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fails", ["copy", "thread", "past half"])
def test_a_rebuild_that_cannot_start_warns_and_the_removal_it_follows_is_done(
    fails, monkeypatch, caplog
):
    """The copy of the live vectors for a rebuild behind, its thread's start, or the rebuild
    past half (no memory, no thread) raised out of the removal, after its items were removed
    and a gallery's store had committed their deletion: the caller was told a removal failed
    that was done. The removal now returns, a warning says the graph keeps its tombstones, and
    the removal that reaches the count it names tries again."""
    x = clustered(400, 8, seed=20)
    index = FaissIndex(8, "hnsw", ef_search=400)
    index.add(x, np.arange(400))
    once = [True]

    def failing_once(real):
        def call(*args, **kwargs):
            if once[0] and (fails != "thread" or args[0].name == "siamkit-hnsw-rebuild"):
                once[0] = False
                raise (
                    RuntimeError("can't start new thread") if fails == "thread" else MemoryError()
                )
            return real(*args, **kwargs)

        return call

    if fails == "copy":
        index._live_vectors = failing_once(index._live_vectors)  # type: ignore[method-assign]
    elif fails == "thread":
        monkeypatch.setattr(threading.Thread, "start", failing_once(threading.Thread.start))
    else:
        index._build_hnsw = failing_once(index._build_hnsw)  # type: ignore[method-assign]
    n = 250 if fails == "past half" else 120
    with caplog.at_level("WARNING", logger=faiss_index.__name__):
        assert index.remove(np.arange(n)) == n
    assert not once[0] and index._rebuilding is None
    assert all(job.index() is not index for job in faiss_index._running)
    assert f"could not be rebuilt without its {n} removed items" in caplog.text
    live = np.arange(n, 400)
    assert len(index) == live.size
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)
    retry = 240 if fails != "past half" else 325  # twice as many, or half of those left
    assert f"tried again once {retry} are removed" in caplog.text
    assert index.remove([n]) == 1 and index._removed  # not yet
    assert index.remove(np.arange(n + 1, retry)) == retry - n - 1  # tries again
    live = np.arange(retry, 400)
    assert index.wait_rebuilt(30) and not index._removed and index._index.ntotal == live.size
    np.testing.assert_array_equal(index.search(x, 3).ids, reference(x, live).search(x, 3).ids)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("where", ["behind", "past half"])
def test_a_build_that_always_fails_is_not_tried_at_every_removal(where, caplog):
    """A build that fails every time (a graph too large for the memory left) was tried again,
    with a full copy of the vectors and a logged traceback, at every removal past a quarter:
    650 builds over 900 removals one by one. Now a failure puts the next try off until twice
    as many items are removed, or half of those left (4 tries here), says so once, and the
    searches stay right on the old graph and its tombstones meanwhile."""
    x = clustered(1000, 8, seed=23)
    index = FaissIndex(8, "hnsw", ef_search=1000)
    index.add(x, np.arange(1000))
    tries: list[int] = []

    def failing(x, ids, stop=None):
        tries.append(ids.size)
        raise MemoryError()

    index._build_hnsw = failing  # type: ignore[method-assign]
    with caplog.at_level("DEBUG", logger=faiss_index.__name__):
        if where == "past half":
            assert index.remove(np.arange(501)) == 501  # the first try, under the lock
        for i in range(len(index._removed), 900):
            assert index.remove([i]) == 1
            assert index.wait_rebuilt(30)
            if i in (300, 600, 899):
                live = np.arange(i + 1, 1000)
                got, want = index.search(x, 3).ids, reference(x, live).search(x, 3).ids
                np.testing.assert_array_equal(got, want)
    # tried at 251 (behind), 502, 751, 875 removed; past half at 501, 750, 875
    assert len(tries) == (4 if where == "behind" else 3), len(tries)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "could not be rebuilt" in warnings[0].getMessage()
    assert len(index) == 100 and index._rebuilding is None


@pytest.mark.timeout(60)
def test_a_takeover_that_fails_keeps_the_old_graph_and_says_so_in_the_log(monkeypatch, caplog):
    """An error while the new graph took the rows added meanwhile (no memory for them) went out
    of the rebuild's thread to ``threading.excepthook``: printed on stderr, never in siamkit's
    log. It is now logged with what was kept (the old graph and its tombstones), which answers
    right, and the next try waits as after a failed build."""
    x = clustered(500, 8, seed=24)
    index = FaissIndex(8, "hnsw", ef_search=500)
    index.add(x[:400], np.arange(400))
    old_graph = index._index
    went_to_hook: list[type] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: went_to_hook.append(args.exc_type))
    started, release = held_build(index)
    build = index._build_hnsw

    class NoRoom:  # the new graph, out of memory for the rows added meanwhile
        def __init__(self, graph):
            self.graph = graph

        def add_with_ids(self, *args):
            raise MemoryError("no room for the rows added meanwhile")

    def built(x, ids, stop=None):
        graph = build(x, ids, stop)
        return NoRoom(graph) if stop is not None else graph

    index._build_hnsw = built  # type: ignore[method-assign]
    with caplog.at_level("WARNING", logger=faiss_index.__name__):
        assert index.remove(np.arange(120)) == 120
        assert started.wait(10)
        index.add(x[400:], np.arange(400, 500))
        release.set()
        assert index.wait_rebuilt(30)
    assert went_to_hook == []
    said = [r for r in caplog.records if r.name == faiss_index.__name__]
    assert len(said) == 1 and said[0].levelname == "WARNING", [r.getMessage() for r in said]
    assert "MemoryError: no room for the rows added meanwhile" in said[0].getMessage()
    assert "the current graph keeps them" in said[0].getMessage()
    assert said[0].exc_info is not None  # the traceback, in the log
    assert index._index is old_graph and len(index._removed) == 120 and index._rebuilding is None
    live = np.arange(120, 500)
    assert len(index) == live.size
    np.testing.assert_array_equal(index.search(x, 5).ids, reference(x, live).search(x, 5).ids)


_EXIT_MID_BUILD = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from siamkit.index import FaissIndex

    runs, n = int(sys.argv[1]), 30_000
    x = np.random.default_rng(0).normal(size=(n, 32)).astype(np.float32)

    def child(nap):
        # a forked child (one import for every exit; it finalises as any process) builds the
        # graph and removes past a quarter, which starts the rebuild behind; it naps `nap` s and
        # exits (3: the rebuild still runs), or (nap None) waits for the rebuild and says how
        # long it took; its exit code and what it said
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            index = FaissIndex(32, "hnsw", M=8, ef_construction=16)
            index.add(x, np.arange(n))
            index.remove(np.arange(n // 4 + 1))
            if nap is None:
                start = time.monotonic()
                assert index.wait_rebuilt(300)
                os.write(write, repr(time.monotonic() - start).encode())
                sys.exit(0)
            time.sleep(nap)
            sys.exit(3 if index._rebuilding is not None else 0)
        os.close(write)
        with os.fdopen(read) as said:
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), said.read()

    # the naps are sized to the rebuild's time on this machine now, timed as the exits run it:
    # fixed naps of 0-0.6 s outlasted most rebuilds on an idle machine (4 exits of 20 came
    # mid-build). They go up to half of it: one rebuild took 0.4 to 0.9 s in five in a row on
    # two busy cores
    code, took = child(None)
    assert code == 0 and took, ("the timed rebuild", code)
    build = float(took)
    naps = np.random.default_rng(1).uniform(0.0, build / 2, runs)
    print(f"rebuild {build:.3f} s")
    print([child(nap)[0] for nap in naps])
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the exits are forked children")
def test_a_process_exiting_while_the_rebuild_runs_exits_cleanly():
    """A process that exited mid-rebuild aborted (SIGABRT, rc 134) in about 1 exit of 4 to 8:
    the daemon thread came back from FAISS while Python finalised. 20 exits, each after a nap
    drawn up to half the rebuild's time measured here, must end by their own sys.exit (3 while
    the rebuild runs, 0 after), never by a signal."""
    res = subprocess.run(
        [sys.executable, "-c", _EXIT_MID_BUILD, "20"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    *_, timed, last = res.stdout.strip().splitlines()
    codes = ast.literal_eval(last)
    assert len(codes) == 20 and set(codes) <= {0, 3}, (codes, res.stderr[-2000:])
    assert codes.count(3) >= 5, (codes, timed)  # most exits came while the rebuild ran


# The fork scenarios below run outside pytest's process under a timeout: a lock left held by a
# thread that ended, in pytest's own process, would hang its exit hook (which joins the rebuild
# threads waiting for that lock), and a fork in a thread of pytest's process is no place for a
# test. Each runs in a child forked from one scene server (a fresh interpreter that imported
# numpy, torch, FAISS and siamkit once, and makes no index and starts no thread of its own), not
# in a fresh interpreter of its own: the ten interpreters each spent their first seconds on the
# same imports. The child starts as a fresh process would: no index, no Python thread but its
# own, and FAISS's OpenMP thread count a fresh interpreter's. The server's fork ran siamkit's
# child handler, which sets that count to one on the thread that forked (the child's main
# thread); the child sets it back, or a scene's index would be built and searched on one
# thread, with no OpenMP pool for its own fork to leave behind, and the no-rebuild scene would
# no longer check that handler's reset. Its stdout and stderr go to a file the server reads
# back, and it ends with os._exit.
_FORK_SCENE = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    import numpy as np
    from siamkit.index import FaissIndex, faiss_index

    release = threading.Event()
    unraisable = []
    sys.unraisablehook = lambda u: unraisable.append(type(u.exc_value).__name__)

    def held_index(seed):
        # an HNSW index of 400 whose rebuild behind waits for `release`
        x = np.random.default_rng(seed).standard_normal((400, 8)).astype(np.float32)
        index = FaissIndex(8, "hnsw", ef_search=400)
        index.add(x, np.arange(400))
        build = index._build_hnsw

        def held(x, ids, stop=None):
            if threading.current_thread().name == "siamkit-hnsw-rebuild":
                release.wait(60)
            return build(x, ids) if stop is None else build(x, ids, stop)

        index._build_hnsw = held
        return index

    def free(lock):
        # whether another thread can take `lock`
        got = []

        def take():
            if lock.acquire(timeout=5):
                got.append(True)
                lock.release()

        taker = threading.Thread(target=take, daemon=True)
        taker.start()
        taker.join(10)
        return bool(got)

    def reaped(pid):
        end = time.monotonic() + 20
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "hung"

    def forking(name, children, child=None, then=lambda: None):
        # a thread `name` that forks a child ending at once, or once `child()` returned (a
        # hang ends it with SIGALRM); the child's pid goes to `children`, and the thread calls
        # `then()` as the fork returns
        def fork():
            pid = os.fork()
            if pid == 0:
                if child is not None:
                    signal.alarm(10)
                    child()
                os._exit(0)
            then()
            children.append(pid)

        thread = threading.Thread(target=fork, name=name, daemon=True)
        thread.start()
        return thread

    def fork_again():
        # whether a later fork goes through (and its child ends)
        children = []
        forking("again", children).join(20)
        return len(children) == 1 and reaped(children[0]) == 0

    def holding(lock):
        # another thread's call holding `lock` (a takeover, a search) until `go` is set
        held, go = threading.Event(), threading.Event()

        def hold():
            with lock:
                held.set()
                go.wait(30)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        held.wait(10)
        return holder, go

    class Watched:
        # an index's lock that calls `before` and `after` (with the thread's name) around each
        # acquire
        def __init__(self, lock, before=lambda me: None, after=lambda me: None):
            self.lock, self.before, self.after = lock, before, after

        def acquire(self, *args, **kwargs):
            me = threading.current_thread().name
            self.before(me)
            got = self.lock.acquire(*args, **kwargs)
            self.after(me)
            return got

        def release(self):
            self.lock.release()

        def _is_owned(self):
            return self.lock._is_owned()

        def __enter__(self):
            self.acquire()

        def __exit__(self, *exc):
            self.release()

    def met_in_order(key):
        # the at-fork handler meets the indexes sorted by key(index), in the thread that forks
        class Ordered(set):
            def __iter__(self):
                return iter(sorted(set.__iter__(self), key=key))

        faiss_index._indexes = Ordered(faiss_index._indexes)

    def done(seen, locks, indexes=()):
        # whether `locks` are free, then the held rebuilds of `indexes` end and a fork goes on
        seen["free"] = [free(lock) for lock in locks]
        release.set()
        seen["rebuilt"] = all(seen["free"]) and all(i.wait_rebuilt(30) for i in indexes)
        seen["again"] = all(seen["free"]) and fork_again()
        seen["unraisable"] = unraisable
        print(json.dumps(seen), flush=True)
        os._exit(0)  # no exit hook: a rebuild left waiting would hang it
    """
)


_SCENE_SERVER = textwrap.dedent(
    """
    import json, os, signal, sys, tempfile, time, traceback
    import numpy as np
    from siamkit.index import FaissIndex, faiss_index  # once, for every scene (torch too)

    faiss = faiss_index.import_faiss()  # as an index does (no OpenMP thread starts before a search)
    threads = faiss.omp_get_max_threads()  # a fresh interpreter's, before any fork

    for line in sys.stdin:
        n, script = json.loads(line)
        with tempfile.TemporaryFile() as out:
            pid = os.fork()
            if pid == 0:  # the scene, with its own stdout and stderr
                faiss.omp_set_num_threads(threads)  # undo this fork's reset to one thread
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                try:
                    exec(compile(script, "<scene>", "exec"), {"__name__": "__main__"})
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(1)  # a scene that goes through ends in done(), with 0
            deadline = time.monotonic() + 120
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    done = os.waitpid(pid, 0)
                    break
                time.sleep(0.02)
            out.seek(0)
            said = out.read().decode(errors="replace")
        code = os.waitstatus_to_exitcode(done[1])
        print(json.dumps({"n": n, "code": code, "said": said}), flush=True)
    """
)


@pytest.fixture(scope="module")
def fork_scene():
    """Run a scene (code after _FORK_SCENE) in a child of the scene server and return what its
    done() printed; the scene fails the test if it ends otherwise (an error, a hang killed)."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SCENE_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    sent = []

    def run(script: str) -> dict:
        sent.append(script)
        server.stdin.write(json.dumps([len(sent), _FORK_SCENE + textwrap.dedent(script)]) + "\n")
        server.stdin.flush()
        res = {"n": 0}
        while res["n"] != len(sent):  # past the answer to a scene whose test timed out
            line = server.stdout.readline()
            assert line, "the scene server ended"
            res = json.loads(line)
        assert res["code"] == 0, f"the scene ended with {res['code']}: {res['said'][-3000:]}"
        return json.loads(res["said"].strip().splitlines()[-1])

    yield run
    server.kill()  # between two scenes: nothing of its own to end
    server.wait()
    server.stdin.close()
    server.stdout.close()


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_a_child_forked_while_a_thread_searches_an_index_with_no_rebuild_does_not_hang(fork_scene):
    """A child forked while another thread was inside a call on an index (a search, an add)
    with no rebuild running found that index's lock held by a thread it does not have, and its
    first search waited forever (the fork held only the locks of indexes that rebuild). The
    fork now holds every index's lock: it waits for that call, and the child's search runs."""
    seen = fork_scene(
        """
        index = held_index(1)  # no removal: no rebuild
        holder, go = holding(index._lock)  # another thread's search or add, as the fork comes
        threading.Timer(0.5, go.set).start()  # the call ends
        pid = os.fork()
        waited = go.is_set()  # the fork returned once the call had ended
        if pid == 0:
            signal.alarm(10)  # a hang ends the child with SIGALRM
            os._exit(0 if index.search(np.zeros((1, 8), np.float32), 1).ids[0, 0] >= 0 else 1)
        seen = {"child": reaped(pid), "waited": waited}
        holder.join(20)
        done(seen, [index._lock, faiss_index._running_lock])
        """
    )
    assert seen == {
        "child": 0,
        "waited": True,
        "free": [True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_two_threads_forking_at_once_leave_every_index_lock_free(fork_scene):
    """Two threads forked at once (a Pool's handler thread starting workers while another
    thread starts a Process): thread A waited in the at-fork handler for one index's lock (a
    takeover, a long call), a rebuild started on a second index, and thread B, forking too,
    took that second index's lock and waited for the first. The handlers shared one list of
    the locks held: A's let go of B's lock ('cannot release un-acquired lock', printed as
    ignored, its child's handler stopped short too), and B's no longer found it, so the second
    index stayed locked by a thread that had ended, and every call on it waited forever. Now
    one fork at a time goes through the handlers."""
    seen = fork_scene(
        """
        i1, i2 = held_index(1), held_index(2)
        waits = {"A": threading.Event(), "B": threading.Event()}  # for i1's lock
        tell = lambda me: waits[me].set() if me in waits else None  # noqa: E731
        watched = i1._lock = Watched(i1._lock, before=tell)
        met_in_order(lambda index: index is i1)  # the handlers meet i2 before i1
        i1.remove(np.arange(120))  # a rebuild runs behind, held
        i2.remove(np.arange(120))  # and on i2
        holder, go = holding(i1._lock)  # a takeover or a long call on i1, as A forks
        children = []
        a = forking("A", children)
        seen = {"A waits": waits["A"].wait(10)}  # holding i2's lock
        b = forking("B", children)
        waits["B"].wait(2)  # B waits for i1, or for A's fork to end
        go.set()
        for thread in (holder, a, b):
            thread.join(20)
        seen["forked"] = not a.is_alive() and not b.is_alive()
        seen["children"] = [reaped(pid) for pid in children]
        done(seen, [watched.lock, i2._lock, faiss_index._running_lock], [i1, i2])
        """
    )
    assert seen == {
        "A waits": True,
        "forked": True,
        "children": [0, 0],
        "free": [True, True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_ctrl_c_while_a_fork_waits_for_an_index_leaves_every_lock_free(fork_scene):
    """Ctrl-C while os.fork() waited in the at-fork handler for a second index's lock: CPython
    prints the handler's KeyboardInterrupt as ignored and forks regardless. The first index's
    lock stayed taken, and the parent's handler raised at once ('release unlocked lock', of a
    lock the fork never took) before letting go of it: that index's takeover, and every call
    on it after, waited forever. Now an interrupted handler lets go of what it took, and the
    after-fork handlers release only what their fork took."""
    seen = fork_scene(
        """
        first, second = held_index(1), held_index(2)
        first.remove(np.arange(120))
        second.remove(np.arange(120))
        first, second = list(faiss_index._indexes)  # as the handler meets them
        holder, go = holding(second._lock)  # another thread's long call, as the fork comes
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        pid = os.fork()  # waits for the second index's lock: Ctrl-C comes
        if pid == 0:
            os._exit(0)
        seen = {"child": reaped(pid)}
        go.set()
        holder.join(20)
        done(seen, [first._lock, second._lock, faiss_index._running_lock], [first, second])
        """
    )
    assert seen == {
        "child": 0,
        "free": [True, True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": ["KeyboardInterrupt"],  # CPython's, of the interrupted handler
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_two_forks_meeting_two_indexes_in_different_orders_both_go_through(fork_scene):
    """Two threads forking at once, whose at-fork handlers met two rebuilding indexes in
    different orders (the set of running rebuilds changed between their two looks): A took
    the first index's lock and waited for the second's, B took the second's and waited for the
    first's, and both forks waited forever. One fork at a time goes through the handlers."""
    seen = fork_scene(
        """
        i1, i2 = held_index(1), held_index(2)
        b_holds_i2 = threading.Event()  # A waits before i2's lock until B holds it
        i1._lock = Watched(i1._lock)
        i2._lock = Watched(
            i2._lock,
            before=lambda me: b_holds_i2.wait(3) if me == "A" else None,
            after=lambda me: b_holds_i2.set() if me == "B" else None,
        )
        # A meets i1 first, B meets i2 first
        met_in_order(lambda index: (index is i1) == (threading.current_thread().name == "B"))
        i1.remove(np.arange(120))
        i2.remove(np.arange(120))  # two rebuilds run behind, held
        children = []
        a = forking("A", children)
        time.sleep(0.2)
        b = forking("B", children)
        a.join(20)
        b.join(20)
        seen = {"forked": not a.is_alive() and not b.is_alive()}
        seen["children"] = [reaped(pid) for pid in children]
        done(seen, [i1._lock.lock, i2._lock.lock], [i1, i2])
        """
    )
    assert seen == {
        "forked": True,
        "children": [0, 0],
        "free": [True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_a_fork_from_inside_a_call_on_an_index_and_a_fork_beside_it_both_go_through(fork_scene):
    """Thread T forked from inside a call on an index (foreign code under its lock: a logging
    handler, a progress bar) while thread M forked too: M's handler held the fork lock and
    waited for the index's lock, which T holds until its fork is through, and T's handler
    waited for the fork lock; both waited forever. M now lets T's fork through first."""
    seen = fork_scene(
        """
        index = held_index(1)  # no removal: no rebuild
        m_waits = threading.Event()  # M's handler waits for the index's lock
        index._lock = Watched(index._lock, before=lambda me: m_waits.set() if me == "M" else None)
        search = lambda: index.search(np.zeros((1, 8), np.float32), 1)  # noqa: E731
        children, inside, seen = [], threading.Event(), {}

        def call_that_forks():
            with index._lock:  # T's call on the index, whose callback forks
                inside.set()
                seen["M waits"] = m_waits.wait(10)
                time.sleep(0.2)
                pid = os.fork()
                if pid == 0:
                    signal.alarm(10)
                    search()
                    os._exit(0)
                children.append(pid)

        t = threading.Thread(target=call_that_forks, name="T", daemon=True)
        t.start()
        inside.wait(10)
        m = forking("M", children, search)
        t.join(20)
        m.join(20)
        seen["forked"] = not t.is_alive() and not m.is_alive()
        seen["children"] = [reaped(pid) for pid in children]
        done(seen, [index._lock.lock, faiss_index._running_lock])
        """
    )
    assert seen == {
        "M waits": True,
        "forked": True,
        "children": [0, 0],
        "free": [True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_two_forks_each_from_inside_a_call_on_its_own_index_both_go_through(fork_scene):
    """Threads T1 and T2 each forked from inside a call on an index of its own: T1's handler
    held the fork lock and waited for T2's index, T2's waited for the fork lock, both forever.
    Neither can let go of its own index before its fork, so the first forks without the
    other's index's lock (its child must not use that index), and each child uses its own."""
    seen = fork_scene(
        """
        i1, i2 = held_index(1), held_index(2)
        t1_waits = threading.Event()  # T1's handler waits for i2's lock
        i2._lock = Watched(i2._lock, before=lambda me: t1_waits.set() if me == "T1" else None)
        children, seen = [], {}
        inside = {"T1": threading.Event(), "T2": threading.Event()}

        def call_that_forks(index, name):
            with index._lock:  # a call on the index, whose callback forks
                inside[name].set()
                if name == "T1":
                    inside["T2"].wait(10)
                else:
                    seen["T1 waits"] = t1_waits.wait(10)
                    time.sleep(0.2)
                pid = os.fork()
                if pid == 0:
                    signal.alarm(10)
                    index.search(np.zeros((1, 8), np.float32), 1)
                    os._exit(0)
                children.append(pid)

        threads = [
            threading.Thread(target=call_that_forks, args=(i, n), name=n, daemon=True)
            for i, n in ((i2, "T2"), (i1, "T1"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        seen["forked"] = not any(thread.is_alive() for thread in threads)
        seen["children"] = [reaped(pid) for pid in children]
        done(seen, [i1._lock, i2._lock.lock, faiss_index._running_lock])
        """
    )
    assert seen == {
        "T1 waits": True,
        "forked": True,
        "children": [0, 0],
        "free": [True, True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_an_index_created_while_a_fork_waits_is_held_across_the_fork_too(fork_scene):
    """The at-fork handler took the indexes it met as it began, then waited for their locks
    (a call under way, possibly minutes): an index created meanwhile (a Gallery's sync_index
    builds one and adds every item) was not held, and a child forked while a thread was inside
    a call on it found its lock held by a thread it does not have and waited forever. The
    handler now looks again once it holds the locks it met, and waits for the new ones too."""
    seen = fork_scene(
        """
        a = held_index(1)
        f_waits = threading.Event()  # F's handler waits for a's lock
        a._lock = Watched(a._lock, before=lambda me: f_waits.set() if me == "F" else None)
        holder, go = holding(a._lock)  # a call on a, as the fork comes
        box, children = {}, []
        f = forking(
            "F",
            children,
            lambda: box["b"].search(np.zeros((1, 8), np.float32), 1),
            then=lambda: box.setdefault("waited", box["go b"].is_set()),
        )
        seen = {"F waits": f_waits.wait(10)}
        box["b"] = b = held_index(2)  # created while the fork waits
        holder_b, box["go b"] = holding(b._lock)  # a long add on it, as the fork comes
        go.set()  # the call on a ends
        threading.Timer(0.5, box["go b"].set).start()  # and the one on b half a second later
        f.join(20)
        seen["forked"] = not f.is_alive()
        seen["waited"] = box.get("waited")  # the fork returned once the call on b had ended
        seen["children"] = [reaped(pid) for pid in children]
        holder.join(20)
        holder_b.join(20)
        done(seen, [a._lock.lock, b._lock, faiss_index._running_lock])
        """
    )
    assert seen == {
        "F waits": True,
        "forked": True,
        "waited": True,
        "children": [0],
        "free": [True, True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_a_fork_lets_a_call_that_uses_another_index_through_before_it_holds_both(fork_scene):
    """Foreign code run under one index's lock (a logging handler, a progress bar) that
    searched a second index, while another thread forked: the fork held the second index's lock
    and waited for the first's, and the call waited for the second's, both forever. A lock that
    does not come at once is now waited for with no index lock held."""
    seen = fork_scene(
        """
        x, y = held_index(1), held_index(2)
        f_waits = threading.Event()  # F's handler waits for x's lock
        x._lock = Watched(x._lock, before=lambda me: f_waits.set() if me == "F" else None)
        met_in_order(lambda index: index is x)  # the fork meets y, then x
        q = np.zeros((1, 8), np.float32)
        inside = threading.Event()

        def call_using_another():
            with x._lock:  # a call on x whose callback searches y
                inside.set()
                f_waits.wait(10)
                time.sleep(0.2)
                y.search(q, 1)

        t = threading.Thread(target=call_using_another, name="T", daemon=True)
        t.start()
        inside.wait(10)
        children = []
        f = forking("F", children, lambda: (x.search(q, 1), y.search(q, 1)))
        t.join(20)
        f.join(20)
        seen = {"F waits": f_waits.is_set(), "forked": not t.is_alive() and not f.is_alive()}
        seen["children"] = [reaped(pid) for pid in children]
        done(seen, [x._lock.lock, y._lock, faiss_index._running_lock])
        """
    )
    assert seen == {
        "F waits": True,
        "forked": True,
        "children": [0],
        "free": [True, True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_a_fork_from_inside_a_call_stops_waiting_for_a_call_that_waits_for_its_index(fork_scene):
    """Thread T forked from inside a call on index a while thread U's call on index b, from a
    callback under b's lock, waited for a: T's fork waited for b's lock and U for a's, both
    forever (T cannot let go of a before its fork). A fork from inside a call waits for the
    other calls under way a bounded time, then forks without their locks (its child uses a)."""
    seen = fork_scene(
        """
        a, b = held_index(1), held_index(2)
        t_waits = threading.Event()  # T's handler waits for b's lock
        b._lock = Watched(b._lock, before=lambda me: t_waits.set() if me == "T" else None)
        q = np.zeros((1, 8), np.float32)
        children, seen = [], {}
        inside = {"T": threading.Event(), "U": threading.Event()}

        def call_that_forks():
            with a._lock:  # T's call on a, whose callback forks
                inside["T"].set()
                inside["U"].wait(10)
                pid = os.fork()
                if pid == 0:
                    signal.alarm(10)
                    a.search(q, 1)
                    os._exit(0)
                children.append(pid)

        def call_using_a():
            with b._lock:  # U's call on b, whose callback searches a
                inside["U"].set()
                seen["T waits"] = t_waits.wait(10)
                a.search(q, 1)

        t = threading.Thread(target=call_that_forks, name="T", daemon=True)
        u = threading.Thread(target=call_using_a, name="U", daemon=True)
        t.start()
        inside["T"].wait(10)
        u.start()
        t.join(20)
        u.join(20)
        seen["forked"] = not t.is_alive() and not u.is_alive()
        seen["children"] = [reaped(pid) for pid in children]
        done(seen, [a._lock, b._lock.lock, faiss_index._running_lock])
        """
    )
    assert seen == {
        "T waits": True,
        "forked": True,
        "children": [0],
        "free": [True, True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="forks")
def test_a_fork_goes_through_while_long_calls_follow_each_other_on_two_indexes(fork_scene):
    """A fork lets go of the locks it took to wait for a call under way alone; with a fixed
    wait before it did, long calls following each other on two indexes (two threads adding
    large batches) kept it letting go of one to wait for the other: calls of 1 s held a fork
    16 to 28 s. It now looks as long as its last wait took, and goes through in about one."""
    seen = fork_scene(
        """
        indexes = [held_index(1), held_index(2)]
        stop = threading.Event()

        def busy(index, seconds):
            while not stop.is_set():
                with index._lock:  # a long call (an add of a large batch), then the next
                    time.sleep(seconds)
                time.sleep(0.001)

        for index, seconds in zip(indexes, (1.0, 1.23)):
            threading.Thread(target=busy, args=(index, seconds), daemon=True).start()
        time.sleep(0.3)
        start, children, took = time.monotonic(), [], []
        f = forking("F", children, then=lambda: took.append(time.monotonic() - start))
        f.join(30)
        stop.set()
        seen = {"forked within 6 s": bool(took) and took[0] < 6, "took": took}
        seen["children"] = [reaped(pid) for pid in children]
        time.sleep(1.5)  # the busy threads end
        done(seen, [index._lock for index in indexes] + [faiss_index._running_lock])
        """
    )
    took = seen.pop("took")
    assert seen == {
        "forked within 6 s": True,
        "children": [0],
        "free": [True, True, True],
        "rebuilt": True,
        "again": True,
        "unraisable": [],
    }, took
