"""FAISS search (optional extra ``siamkit[faiss]``): exact flat, IVF and HNSW behind one class.

FAISS returns squared L2 distances for its L2 metric and inner products for its IP metric; this
wrapper converts both into siamkit distances (``euclidean``, ``sqeuclidean``, ``cosine``), so
results are interchangeable with :class:`~siamkit.index.exact.ExactIndex`.

Two details make the approximate indexes usable under a live gallery:

* IVF needs training data. Until ``train_size`` vectors have been added it answers exactly from
  a flat index; at that point it trains its coarse quantiser and moves everything over.
* HNSW cannot delete. Removed ids are filtered out at search time (an ``IDSelector``) and the
  graph is rebuilt once a quarter of its items are removed. That rebuild takes as long as adding
  the items left (22 s at 73,000 x 64 on two cores), so it runs in a thread behind the removal
  that crossed the quarter: searches, adds and removals go on meanwhile on the old graph and its
  tombstones, and the new graph takes over, with what changed meanwhile, once built. Past half
  removed (a removal that large, or many more while a rebuild runs) the removal rebuilds before
  it returns, so a search does not filter out most of the graph (unless rebuilds keep failing:
  see ``_rebuild_failed``). The thread builds in chunks and stops between two when the process
  exits (an exit hook waits for it): a thread still inside FAISS when Python finalises aborted
  the process (SIGABRT) in about one exit of five.
  A process forked meanwhile waits for a takeover under way; the child lets go of the rebuild
  (its thread is not there) and starts its own at its next removal past a quarter.

A fork waits for the call under way on every FaissIndex of the process (a search, an add, a
takeover, in another thread), those created while it waits included, as their locks are held
across it: a child forked while another thread held one found it held by a thread it does not
have, and waited forever. A fork can thus wait as long as that call (an add of a million
vectors, a rebuild past half removed). A thread that forks from inside a call on an index
(foreign code run under its lock: a logging handler, a progress bar) goes first, as it cannot
let go of that lock before its fork, and waits at most 2 s for the calls under way on the other
indexes (one may wait for the index it is inside); it forks without the locks of those still
under way, and of another such thread forking at once, and its child must not use those
indexes.
In a forked child, the thread that forked runs FAISS on one thread: GNU OpenMP's thread pool does
not survive a fork, and the child's first search waited forever for the parent's pool threads.
Threads the child starts later get a pool of their own.

What stays: Ctrl-C while a fork waits for an index is lost. CPython prints an at-fork handler's
``KeyboardInterrupt`` as "Exception ignored" and forks regardless (the handler lets go of what it
took first); sending it again from the parent's handler raised inside that handler or the next
module's, and was lost too. And only FaissIndex's own locks are held, nothing around it: not a
:class:`~siamkit.index.gallery.Gallery`'s (its own lock, its store's, its thumbnails'), nor an
:class:`~siamkit.index.exact.ExactIndex`'s or an :class:`~siamkit.index.lsh.LSHIndex`'s, nor a
lock of the caller's, of FAISS or of another library. One held by another thread at a fork (a
Gallery's, while that thread identifies or enrolls) hangs a child that takes it, as with any
threads and ``fork``, and SQLite forbids using in the child a connection opened before the fork.
Open the Gallery in the child (``Gallery.open``), not before the fork, or use a ``spawn`` or
``forkserver`` start method, which has none of it.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from siamkit.clauses import listing
from siamkit.distances import Distance, get_distance
from siamkit.index.base import (
    ArrayLike,
    SearchResult,
    as_float32_matrix,
    as_ids,
    check_k,
    empty_result,
    pad_result,
    read_config,
    write_config,
)
from siamkit.progress import track

_log = logging.getLogger(__name__)

FAISS_KINDS = ("flat", "ivf", "hnsw")
ADD_CHUNK = 20_000  # vectors added at once (progress of long builds)
# vectors a background rebuild adds at once: it checks between two whether to stop, so an exit
# or a save waits for one chunk at most (a few seconds at 64-D: 73,000 took 43 s on two busy
# cores)
REBUILD_CHUNK = 5_000
_FAISS_DISTANCES = ("euclidean", "sqeuclidean", "cosine")


class _Rebuild:
    """One HNSW rebuild running behind removals: its thread, the flag that stops it between two
    chunks (an exit, a save, or a graph replaced meanwhile), the adds made meanwhile, which the
    new graph takes before it replaces the old, and the generation of the graph it replaces."""

    def __init__(self, index: FaissIndex, generation: int) -> None:
        self.stop = threading.Event()
        self.added: list[tuple[np.ndarray, np.ndarray]] = []
        self.generation = generation
        self.thread: threading.Thread | None = None
        self.index = weakref.ref(index)  # for a forked child, which lets go of the job


# the rebuilds running in this process, and whether it exits: Python finalising while a thread
# is inside FAISS aborts the process (the thread's return from the SWIG call hits
# std::terminate), so at exit every rebuild is stopped between two chunks and waited for
_running: set[_Rebuild] = set()
_running_lock = threading.Lock()
_exiting = threading.Event()


@atexit.register
def _stop_rebuilds() -> None:
    """Stop every background rebuild and wait for it, before Python finalises."""
    _exiting.set()
    while True:
        with _running_lock:
            jobs = list(_running)
        if not jobs:
            return
        for job in jobs:
            job.stop.set()
        for job in jobs:
            if job.thread is not None and job.thread is not threading.current_thread():
                job.thread.join()
            with _running_lock:
                _running.discard(job)


# The fork handler (from here to os.register_at_fork) and why it is this size. Its simplest
# form, holding only the locks of indexes being rebuilt (_fork_lock, those locks, _running_lock,
# let go on error: a before-handler of 21 lines for these 128) with spawn or forkserver
# documented for a fork during a call, was run against the fork tests of
# tests/index/test_faiss_hnsw_rebuild.py (stop 57): it fails six of the eleven.
# Each part, the case it keeps safe (its test), and who meets it:
# - every index's lock, not the rebuilding ones' only: a fork while another thread is inside a
#   search or an add (a Pool(fork) worker replaced, or DataLoader workers started, while a thread
#   searches): the child hung at its first call (_no_rebuild_does_not_hang). Users meet it, and
#   spawn does not help one who does not know that another thread is inside a call.
# - looking again for indexes created while the fork waits: a Gallery opened meanwhile
#   (_created_while_a_fork_waits_). Rare; a few lines.
# - _fork_lock and a thread-local `held`: two threads forking at once (a Pool's handler thread
#   and a Process start) left a lock held for good or waited for each other (two_threads_,
#   _different_orders_). Let go on error: Ctrl-C while a fork waits (ctrl_c_). Users can meet both.
# - _owned_by_forks, the "late" let-go with its growing look, the 2 s wait of a fork from inside
#   a call: foreign code run under an index's lock (a logging handler, a progress bar, a GC
#   finalizer) that forks or calls another index (_from_inside_a_call_, _each_from_inside_,
#   _lets_a_call_, _stops_waiting_, _long_calls_follow_). Rare (a plain subprocess.run does not
#   run at-fork handlers; one with preexec_fn, os.fork or multiprocessing does), but a handler
#   that waits for locks makes each a deadlock of the parent, every thread waiting for good: the
#   simple form deadlocks the first one too once that index is rebuilding (checked by hand).
# Not needed by: gunicorn, whose arbiter forks its workers with no call on an index under way in
# another thread (unless the preloaded app starts one; the child's OpenMP reset is what matters
# there), and uvicorn --workers, which spawns.

# one fork at a time takes the indexes' locks: two threads forking at once each took their
# snapshot's locks and let go of the other's (a lock left held by a thread that had ended), or
# waited for each other's (two snapshots in different orders)
_fork_lock = threading.Lock()
# every FaissIndex of this process (added under _running_lock): a fork holds all their locks
_indexes: weakref.WeakSet[FaissIndex] = weakref.WeakSet()
# what this thread's fork holds across it (the indexes' locks, then _running_lock), set only
# once _before_fork took all of it: a handler's exception is printed and the fork goes on, and
# the after-handlers then release only what this fork took
_this_fork = threading.local()
# the forks in _before_fork whose thread was already inside a call on an index (a logging
# handler or a progress bar that forks, under the index's lock): thread id -> the index locks
# it holds. Such a fork cannot let go of them until it is through, so the fork taking the
# locks must not wait for them (it waited forever, and they for its _fork_lock). Its lock is
# held for a look or a change only, never while waiting.
_owned_by_forks: dict[int, list[Any]] = {}
_owned_lock = threading.Lock()
# how long a fork waits for one index's lock before it looks whether a fork holds it
_FORK_LOOK_S = 0.05
# how long a fork from inside a call on an index waits for the calls under way on the others
_OWNER_WAIT_S = 2.0


def _before_fork() -> None:
    """Wait for the calls under way on every index (a takeover, a search, an add in another
    thread) and hold the indexes' locks across the fork: a child forked while another thread
    held an index's lock found it held by a thread it does not have, and its first search, add
    or removal on that index waited forever. The fork waits for those calls to end (a search
    takes milliseconds, an add of a million vectors or a rebuild past half removed minutes).

    Lock order: _fork_lock, then the indexes' locks, then _running_lock, as index code takes
    an index's lock, then _running_lock (held for a look or a change only), and never two
    indexes' locks. Foreign code run under an index's lock (a logging handler, a progress bar)
    breaks it two ways. It may use another index: so a lock that does not come within a while
    is waited for with no index lock held (those taken are let go of and taken again after;
    the while grows each time, from _FORK_LOOK_S, so calls under way on two indexes one after
    the other cannot keep the fork going back and forth). Or it may fork, holding that index's
    lock before _fork_lock, and cannot let go of it before its fork is through. Such a fork
    says which locks it holds (_owned_by_forks) before it waits for _fork_lock, and a fork that
    waits for a lock looks there every _FORK_LOOK_S: one holding no index lock of its own then
    lets go of all it took, _fork_lock included, and tries again once that fork is through.
    The fork from inside a call skips the locks such forks hold (two at once), and waits for
    the other calls under way at most _OWNER_WAIT_S (one may wait for the index it is inside:
    foreign code under another index's lock using this one), then skips the locks still held:
    its child finds those indexes locked (see the module docstring).

    Interrupted (Ctrl-C while it waits for a lock), it lets go of what it took: CPython prints
    the interrupt as ignored and forks regardless, and an index it left locked waited forever."""
    _this_fork.held = None
    me = threading.get_ident()
    with _running_lock:
        indexes = list(_indexes)
    owned = [index._lock for index in indexes if _owns(index._lock)]
    until = time.monotonic() + _OWNER_WAIT_S if owned else None
    if owned:
        with _owned_lock:
            _owned_by_forks[me] = owned
    try:
        while (held := _take_fork_locks(indexes, until)) is None:
            time.sleep(_FORK_LOOK_S)  # a fork from inside a call goes first
            with _running_lock:
                indexes = list(_indexes)
        _this_fork.held = held
    finally:
        if owned:
            with _owned_lock:
                del _owned_by_forks[me]


def _owns(lock: Any) -> bool:
    """Whether this thread holds the RLock ``lock``."""
    return bool(lock._is_owned())


def _take_fork_locks(indexes: list[FaissIndex], until: float | None) -> list[Any] | None:
    """Take _fork_lock, the lock of each index (those created meanwhile too), then
    _running_lock, and return the locks to let go of after the fork; or None, having let go of
    all it took, to let a fork from inside a call waiting in _before_fork through first. With
    ``until`` (this fork is from inside a call), it skips the locks such forks hold instead,
    and those it would wait for past ``until``.

    A lock that does not come within ``look`` seconds (a call under way) is waited for holding
    no index lock: the others taken are let go of first and taken again after, so a call that
    waits for one of them (foreign code under its index's lock using another index) ends.
    ``look`` starts at _FORK_LOOK_S, doubles at each such wait, and becomes at least twice the
    last one: long calls coming one after the other on two indexes made a fork with a fixed
    look let go of one to wait for the other, and back, for seconds."""
    held: list[Any] = []
    _fork_lock.acquire()
    try:
        met = list(indexes)  # kept alive: an id is not reused while this fork looks at ids
        met_ids = {id(index) for index in met}
        todo = [index._lock for index in indexes]
        look = _FORK_LOOK_S
        while True:
            while todo:
                lock = todo.pop(0)  # in the order met
                start = time.monotonic()
                got = _wait_for(lock, None if not held else look, until)
                if got == "taken":
                    if not held:  # waited for alone: look as long for the others
                        look = max(look, 2 * (time.monotonic() - start))
                    held.append(lock)
                elif got == "late":  # wait for it alone, then take the others again
                    look *= 2
                    todo[:0] = [lock, *held]
                    while held:
                        held.pop().release()
                elif until is None:  # "yield": let the fork from inside a call through
                    while held:
                        held.pop().release()
                    _fork_lock.release()
                    return None
            # an index created while this fork waited (by a Gallery opened meanwhile, whose
            # first call adds every item to it) was not met above, and its lock could be held:
            # under _running_lock no index is created, as FaissIndex.__init__ registers under it
            _running_lock.acquire()
            held.append(_running_lock)
            indexes = [index for index in _indexes if id(index) not in met_ids]
            if not indexes:
                return held
            held.pop().release()
            met += indexes
            met_ids.update(id(index) for index in indexes)
            todo = [index._lock for index in indexes]
    except BaseException:
        while held:
            held.pop().release()
        _fork_lock.release()
        raise


def _wait_for(lock: Any, look: float | None, until: float | None) -> str:
    """Take an index's ``lock``: "taken"; "late" if it did not come within ``look`` seconds
    (None: no bound); "yield", without it, if a fork from inside a call waits in _before_fork
    (any, for a fork not from inside a call; with ``until``, one that holds ``lock``) or, with
    ``until``, past it."""
    me = threading.get_ident()
    late = None if look is None else time.monotonic() + look
    while not lock.acquire(timeout=_FORK_LOOK_S):
        with _owned_lock:
            forks = [locks for thread, locks in _owned_by_forks.items() if thread != me]
        if until is None and forks:
            return "yield"
        if until is not None and (
            time.monotonic() > until or any(lock is other for ls in forks for other in ls)
        ):
            return "yield"
        if late is not None and time.monotonic() >= late:
            return "late"
    return "taken"


def _after_fork_in_parent() -> None:
    held = getattr(_this_fork, "held", None)
    _this_fork.held = None
    if held is not None:
        while held:
            held.pop().release()
        _fork_lock.release()


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's threads: it lets go of the rebuilds running
    behind (their graphs would never come, and each add was kept for them meanwhile), so its
    next removal past a quarter starts one of its own, and the thread that forked runs FAISS on
    one thread: GNU OpenMP's thread pool does not survive a fork, and a child's first search or
    add waited forever for the parent's pool threads (faiss-cpu ships libgomp). Threads the
    child starts get a pool of their own."""
    global _running_lock, _fork_lock, _owned_lock
    held = getattr(_this_fork, "held", None)
    _this_fork.held = None
    _running_lock = threading.Lock()
    _fork_lock = threading.Lock()
    _owned_lock = threading.Lock()  # another thread's fork may have held it
    _owned_by_forks.clear()  # those forks' threads are not here
    for job in _running:
        index = job.index()
        if index is not None and index._rebuilding is job:
            index._rebuilding = None
    _running.clear()
    if held is not None:
        held.pop()  # the parent's _running_lock, replaced above
        while held:
            held.pop().release()
    faiss = sys.modules.get("faiss")
    if faiss is not None:
        faiss.omp_set_num_threads(1)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def import_faiss() -> Any:
    """Import ``faiss`` or explain which extra provides it.

    The faiss-cpu wheel ships its own OpenMP runtime next to torch's; two runtimes whose idle
    threads spin for CPU slow each other down many times over on small machines. Unless the user
    chose otherwise, faiss's threads are made to sleep when idle (``OMP_WAIT_POLICY=PASSIVE``,
    read once when faiss's runtime loads).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "FAISS search needs the optional faiss-cpu package: pip install 'siamkit[faiss]' "
            "(or use index='exact')"
        ) from err
    return faiss


class FaissIndex:
    """A FAISS index with siamkit distances and int64 ids.

    Args:
        dim: embedding dimension ``D``.
        kind: ``"flat"`` (exact), ``"ivf"`` (inverted lists) or ``"hnsw"`` (graph).
        distance: ``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"``.
        nlist: IVF lists; default ``4 * sqrt(N)`` at training time (at most ``N / 39``).
        nprobe: IVF lists visited per query; default ``max(8, nlist // 128)`` (at most nlist):
            recall@1 0.991 at 1M items with nlist 4096 (``benchmarks/bench_search.py``).
        train_size: IVF trains once this many vectors were added (default 10,000).
        M: HNSW neighbours per node.
        ef_construction, ef_search: HNSW beam widths when building and searching.
        seed: seed of the IVF training sample.

    >>> index = FaissIndex(dim=2, kind="hnsw", distance="euclidean")
    >>> index.add(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([7, 8]))
    >>> index.search(np.array([[3.0, 4.0]]), k=1).ids
    array([[8]])
    """

    def __init__(
        self,
        dim: int,
        kind: str = "flat",
        distance: str | Distance = "euclidean",
        *,
        nlist: int | None = None,
        nprobe: int | None = None,
        train_size: int = 10_000,
        M: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        seed: int = 0,
    ) -> None:
        self._faiss = import_faiss()
        if kind not in FAISS_KINDS:
            raise ValueError(f"unknown FAISS index kind {kind!r}; choose one of {FAISS_KINDS}")
        name = get_distance(distance).name
        if name not in _FAISS_DISTANCES:
            raise ValueError(
                f"FAISS indexes support {', '.join(_FAISS_DISTANCES)} distances, not {name!r}; "
                "use index='exact' for this model"
            )
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim, self.kind, self.distance_name = dim, kind, name
        self.nlist, self.nprobe, self.train_size = nlist, nprobe, int(train_size)
        self.M, self.ef_construction, self.ef_search, self.seed = (
            M,
            ef_construction,
            ef_search,
            seed,
        )
        self._metric = (
            self._faiss.METRIC_INNER_PRODUCT if name == "cosine" else self._faiss.METRIC_L2
        )
        self._removed: set[int] = set()  # HNSW tombstones
        # the HNSW rebuild running behind removals; _generation counts replaced graphs, so a
        # rebuild of a graph replaced while it ran (save, an id added again) is dropped
        self._rebuilding: _Rebuild | None = None
        self._generation = 0
        # after a failed rebuild, the removed count the next try waits for (0: none failed):
        # a build that fails every time (a graph too large for the memory left) was tried
        # again, with a full copy of the vectors, at every removal past a quarter
        self._retry_at = 0
        self._max_id: int | None = -1  # largest id ever added; None: not known (loaded)
        self._trained = kind != "ivf"
        self._lock = threading.RLock()
        self._index = self._new_index("flat" if kind == "ivf" else kind)
        with _running_lock:
            _indexes.add(self)

    def __len__(self) -> int:
        with self._lock:  # a rebuild's takeover swaps the graph and its tombstones under it
            return int(self._index.ntotal) - len(self._removed)

    def __repr__(self) -> str:
        return f"FaissIndex(dim={self.dim}, kind={self.kind!r}, distance={self.distance_name!r}, n={len(self)})"

    @property
    def is_trained(self) -> bool:
        """False while an IVF index still answers exactly from its flat staging index."""
        return self._trained

    def _new_index(self, kind: str, nlist: int = 1) -> Any:
        f = self._faiss
        if kind == "flat":
            return f.IndexIDMap2(f.IndexFlat(self.dim, self._metric))
        if kind == "hnsw":
            inner = f.IndexHNSWFlat(self.dim, self.M, self._metric)
            inner.hnsw.efConstruction = self.ef_construction
            return f.IndexIDMap2(inner)
        quantizer = f.IndexFlat(self.dim, self._metric)
        return f.IndexIVFFlat(quantizer, self.dim, nlist, self._metric)

    def _prepare(self, x: ArrayLike, what: str = "embeddings") -> np.ndarray:
        arr = as_float32_matrix(x, self.dim, what)
        if self.distance_name == "cosine":
            arr = arr / np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(arr, dtype=np.float32)

    def add(self, embeddings: ArrayLike, ids: ArrayLike) -> None:
        """Add ``(N, D)`` embeddings under new ``(N,)`` int64 ids.

        An id removed from an HNSW index and added again rebuilds the whole graph, as its
        tombstone would hide the new vector (about 15 s at 50,000 x 64 against 1 ms for a new
        id), so update an item under a new id where you can."""
        x = self._prepare(embeddings)
        new_ids = as_ids(ids, x.shape[0])
        if x.shape[0] == 0:
            return
        with self._lock:
            self._check_new_ids(new_ids)
            if not self._trained and self._index.ntotal + x.shape[0] >= self.train_size:
                staged_x, staged_ids = self._all_vectors()
                x = np.concatenate([staged_x, x]) if staged_ids.size else x
                new_ids = np.concatenate([staged_ids, new_ids]) if staged_ids.size else new_ids
                self._train_ivf(x)
            step = ADD_CHUNK
            chunks = range(0, x.shape[0], step)
            weight = lambda s: min(step, x.shape[0] - s)  # noqa: E731
            for s in track(chunks, f"FAISS {self.kind} index", x.shape[0], "vectors", weight):
                self._index.add_with_ids(x[s : s + step], new_ids[s : s + step])
            if self._rebuilding is not None:
                # copies: FAISS copied the vectors into the old graph, but ``x`` may be the
                # caller's own buffer (a float32 array passes through as it is), refilled
                # before the new graph takes these rows over
                self._rebuilding.added.append((x.copy(), new_ids.copy()))

    def _check_new_ids(self, new_ids: np.ndarray) -> None:
        """Refuse ids the index holds, as :class:`~siamkit.index.exact.ExactIndex` does (FAISS
        stored a second vector under the id, and a search gave the id twice); an id removed
        from an HNSW graph is purged first, else its tombstone hid the new vector from search."""
        if self._max_id is None:
            stored = self._stored_ids()
            self._max_id = int(stored.max()) if stored.size else -1
        if new_ids.min() > self._max_id:  # the common case: ids only grow
            self._max_id = int(new_ids.max())
            return
        live = self._stored_ids()
        removed = np.fromiter(self._removed, dtype=np.int64, count=len(self._removed))
        clash = np.intersect1d(np.setdiff1d(live, removed), new_ids)
        if clash.size:
            raise ValueError(f"ids already in the index: {listing(clash.tolist(), 5)}")
        if np.intersect1d(removed, new_ids).size:
            self._rebuild_hnsw()
        self._max_id = max(self._max_id, int(new_ids.max()))

    def _stored_ids(self) -> np.ndarray:
        """Every id the FAISS index holds (an HNSW graph's tombstones included)."""
        if not isinstance(self._index, self._faiss.IndexIVF):
            return self._faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = self._index.invlists
        parts = [
            self._faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(lists.nlist)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)

    def _train_ivf(self, x: np.ndarray) -> None:
        """Train the IVF quantiser on (a sample of) ``x`` and switch to it (empty)."""
        n = x.shape[0]
        nlist = self.nlist or int(np.clip(4 * np.sqrt(n), 1, max(1, n // 39)))
        sample_size = min(n, 64 * nlist)
        rng = np.random.default_rng(self.seed)
        sample = x[np.sort(rng.choice(n, sample_size, replace=False))] if sample_size < n else x
        ivf = self._new_index("ivf", nlist)
        ivf.cp.seed = self.seed
        ivf.train(sample)
        ivf.nprobe = min(nlist, self.nprobe or max(8, nlist // 128))
        ivf.set_direct_map_type(self._faiss.DirectMap.Hashtable)  # remove + reconstruct by id
        self._index, self._trained, self.nlist = ivf, True, nlist
        self.nprobe = int(ivf.nprobe)

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every ``(N, D)`` vector and id of a flat / HNSW index (tombstones included)."""
        n = int(self._index.ntotal)
        if n == 0:
            return np.empty((0, self.dim), np.float32), np.empty(0, np.int64)
        ids = self._faiss.vector_to_array(self._index.id_map).astype(np.int64)
        return self._index.index.reconstruct_n(0, n), ids

    def remove(self, ids: ArrayLike) -> int:
        """Remove the given ids (unknown ones are ignored); returns how many were removed."""
        drop = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        with self._lock:
            if isinstance(self._index, self._faiss.IndexIVF):  # its hashtable direct map
                sel = self._faiss.IDSelectorArray(drop.size, self._faiss.swig_ptr(drop))
                return int(self._index.remove_ids(sel))  # looks each id up: needs an array
            if self.kind != "hnsw":  # a flat scan asks the selector about every stored id:
                # hashed (an IDSelectorArray's linear scan of ``drop`` took 4.4 s for 25,000
                # ids among 100,000)
                sel = self._faiss.IDSelectorBatch(drop.size, self._faiss.swig_ptr(drop))
                return int(self._index.remove_ids(sel))
            stored = self._faiss.vector_to_array(self._index.id_map)
            hit = set(np.intersect1d(stored, drop).tolist()) - self._removed
            self._removed |= hit
            self._after_removal()
            return len(hit)

    def _after_removal(self) -> None:
        """Past a quarter of the graph removed, start its rebuild behind the caller; past half,
        rebuild now (under the lock, as before).

        A rebuild that cannot start or be built here (no memory for the copy or the graph, no
        thread) is said in a warning, not raised: the removal is done, and its tombstones keep
        removed items out of searches. Raised, it told the caller that a removal failed whose
        items were gone (and a gallery's store had committed their deletion). After a failure
        the next try waits for more removals (see :meth:`_rebuild_failed`)."""
        n = int(self._index.ntotal)
        if len(self._removed) < self._retry_at:
            return
        try:
            if len(self._removed) > max(64, n // 2):
                self._rebuild_hnsw()
            elif len(self._removed) > max(64, n // 4) and self._rebuilding is None:
                self._start_rebuild()
        except Exception as err:
            self._rebuild_failed(err, len(self._removed))

    def _rebuild_failed(self, err: BaseException, removed: int, traceback: bool = False) -> None:
        """Put off the next rebuild after one failed with ``removed`` items removed (the caller
        holds the lock): it waits until twice as many are removed, or half of the items left
        when that comes first, so a build that fails every time is tried a few times over a
        graph's removals (12 over 1,000 removed one by one), not at each. Said in a warning
        once; the failures after it, until a rebuild succeeds, at debug level.

        Meanwhile no removed item is returned, but the graph's recall falls as the share of
        its tombstones grows past half: recall@10 0.993 at 50% removed, 0.966 at 90%, 0.851 at
        97% (HNSW of 20,000 x 16, every build failing, against an exact search of the rest)."""
        n = int(self._index.ntotal)
        first = self._retry_at == 0
        self._retry_at = removed + max(1, min(removed, (n - removed) // 2))
        _log.log(
            logging.WARNING if first else logging.DEBUG,
            "the HNSW graph could not be rebuilt without its %d removed items (%s); the current "
            "graph keeps them, filtered out of searches, and the rebuild is tried again once %d "
            "are removed",
            removed,
            f"{type(err).__name__}: {err}" if str(err) else type(err).__name__,
            self._retry_at,
            exc_info=err if traceback and first else None,
        )

    def _live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        x, ids = self._all_vectors()
        keep = ~np.isin(ids, np.fromiter(self._removed, dtype=np.int64))
        return np.ascontiguousarray(x[keep]), ids[keep]

    def _rebuild_hnsw(self) -> None:
        """Rebuild the graph without its tombstones now (the caller holds the lock); a rebuild
        running behind is stopped, as its graph would be dropped, and the next removal past a
        quarter of the new graph starts another."""
        self._stop_behind()
        x, ids = self._live_vectors()
        self._index, self._removed = self._build_hnsw(x, ids), set()
        self._generation += 1
        self._retry_at = 0

    def _stop_behind(self) -> _Rebuild | None:
        """Tell the rebuild running behind, if any, to stop after its chunk, and let go of it
        (the caller holds the lock); returns it, for a caller that waits for it."""
        job, self._rebuilding = self._rebuilding, None
        if job is not None:
            job.stop.set()
        return job

    def _build_hnsw(
        self, x: np.ndarray, ids: np.ndarray, stop: threading.Event | None = None
    ) -> Any:
        """The graph of ``x``, or None where ``stop`` was set between two chunks."""
        graph = self._new_index("hnsw")
        step = REBUILD_CHUNK if stop is not None else max(1, ids.size)
        for s in range(0, ids.size, step):
            if stop is not None and stop.is_set():
                return None
            graph.add_with_ids(x[s : s + step], ids[s : s + step])
        return graph

    def _start_rebuild(self) -> None:
        """Copy the live vectors (the caller holds the lock) and build their graph in a thread;
        not once the process exits (the tombstones keep searches right)."""
        job = _Rebuild(self, self._generation)
        x, ids = self._live_vectors()
        gone = set(self._removed)
        job.thread = threading.Thread(
            target=self._rebuild_behind,
            args=(job, x, ids, gone),
            name="siamkit-hnsw-rebuild",
            daemon=True,
        )
        # registered and started in one step under the exit hook's lock: a job registered
        # first, its thread set and started after, was let go by a hook that ran in between
        # (a job with no thread to wait for), and its thread then started as Python finalised
        with _running_lock:
            if _exiting.is_set():
                return
            job.thread.start()  # first: a thread that cannot start leaves nothing registered
            _running.add(job)
            self._rebuilding = job
        _log.info(
            "rebuilding the HNSW graph without its %d removed items (%d left) behind searches",
            len(gone),
            ids.size,
        )

    def _rebuild_behind(
        self, job: _Rebuild, x: np.ndarray, ids: np.ndarray, gone: set[int]
    ) -> None:
        """Build the graph of ``x`` without the lock (FAISS lets go of the GIL), then, under
        it, add what was added meanwhile and take over; the items removed meanwhile stay
        tombstones. A failed build or takeover leaves the old graph and its tombstones, which
        keep removed items out of searches, and is said in siamkit's log (an exception out of
        the thread went to ``threading.excepthook``, on stderr only); a later removal tries
        again. A stopped one just ends."""
        try:
            self._build_and_take_over(job, x, ids, gone)
        finally:
            with _running_lock:
                _running.discard(job)

    def _build_and_take_over(
        self, job: _Rebuild, x: np.ndarray, ids: np.ndarray, gone: set[int]
    ) -> None:
        start = time.perf_counter()
        error: Exception | None = None
        try:
            graph = self._build_hnsw(x, ids, job.stop)
        except Exception as err:  # a thread has no caller to raise to
            graph, error = None, err
        if job.stop.is_set():  # whoever stopped it let go of it
            return
        with self._lock:
            if job.stop.is_set() or self._rebuilding is not job:
                return
            self._rebuilding = None
            if error is not None:
                self._rebuild_failed(error, len(gone), traceback=True)
                return
            if graph is None:
                return
            if job.generation != self._generation:  # replaced meanwhile: the new graph's
                self._after_removal()  # tombstones may be past a quarter, with none running
                return
            try:  # the old graph stays until the new one has every row added meanwhile
                for ax, aid in job.added:
                    graph.add_with_ids(ax, aid)
            except Exception as err:
                self._rebuild_failed(err, len(gone), traceback=True)
                return
            self._index, self._removed = graph, self._removed - gone
            self._generation += 1
            self._retry_at = 0
            _log.info("the HNSW graph was rebuilt in %.1f s", time.perf_counter() - start)
            self._after_removal()  # many more removed meanwhile

    def wait_rebuilt(self, timeout: float | None = None) -> bool:
        """Wait for the HNSW rebuilds running behind removals (one may start another); False if
        one is still running after ``timeout`` seconds. Searches need no wait: they are right
        meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self._rebuilding
            if job is None or job.thread is None:
                return True
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            job.thread.join(left)
            if job.thread.is_alive():
                return False
            if self._rebuilding is job:  # ended without letting go (stopped at exit)
                return True

    def search(self, queries: ArrayLike, k: int) -> SearchResult:
        """The ``k`` nearest items of each ``(Q, D)`` query; see :class:`SearchResult`."""
        q = self._prepare(queries, "queries")
        k = check_k(k)
        with self._lock:
            if self._index.ntotal == 0 or q.shape[0] == 0:
                return empty_result(q.shape[0], k)
            kk = min(k, int(self._index.ntotal))
            # faiss.contrib.torch_utils (imported by e.g. pytorch-metric-learning) replaces
            # Index.search with a torch-aware version that drops `params`; the numpy original
            # is kept as `search_numpy`.
            search = getattr(self._index, "search_numpy", self._index.search)
            raw_d, ids = search(q, kk, params=self._search_params())
        ids = ids.astype(np.int64)
        missing = ids < 0
        if self.distance_name == "cosine":
            dist = np.clip(1.0 - raw_d, 0.0, 2.0)  # an identical vector's cosine: 1 + 1e-7
        elif self.distance_name == "euclidean":
            dist = np.sqrt(np.maximum(raw_d, 0))
        else:
            dist = np.maximum(raw_d, 0)
        dist = np.where(missing, np.inf, dist).astype(np.float32)
        return pad_result(dist, ids, k)

    def _search_params(self) -> Any:
        f = self._faiss
        sel = f.IDSelectorBatch(np.fromiter(self._removed, np.int64)) if self._removed else None
        if self.kind == "hnsw":
            inner = f.SearchParametersHNSW(efSearch=self.ef_search)
            if sel is not None:
                inner.sel = f.IDSelectorNot(sel)
                inner.keep = (sel,)  # keep the wrapped selector alive during the search
            return inner
        if self._trained and self.kind == "ivf":
            return f.SearchParametersIVF(nprobe=int(self.nprobe or 1))
        return None

    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable), as saved in ``index.json``."""
        return {
            "type": "faiss",
            "dim": self.dim,
            "kind": self.kind,
            "distance": self.distance_name,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "train_size": self.train_size,
            "M": self.M,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "seed": self.seed,
        }

    def save(self, path: str | Path) -> None:
        """Write ``index.json`` + ``index.faiss`` (FAISS's own format, no pickle) into ``path``.

        A rebuild running behind is stopped, and waited for, before the graph is rebuilt here
        without its tombstones: two builds at once took twice the memory and the cores."""
        with self._lock:
            job = self._stop_behind()
        if job is not None and job.thread is not None:
            job.thread.join()  # without the lock: it stops after its chunk
        with self._lock:
            if self._removed:
                self._rebuild_hnsw()
            folder = write_config(path, {**self.config(), "trained": self._trained})
            self._faiss.write_index(self._index, str(folder / "index.faiss"))

    @classmethod
    def load(cls, path: str | Path) -> FaissIndex:
        """Read an index written by :meth:`save`."""
        config = read_config(path, "faiss")
        trained = bool(config.pop("trained"))
        config.pop("type")
        dim, kind, distance = config.pop("dim"), config.pop("kind"), config.pop("distance")
        index = cls(int(dim), kind, distance, **config)
        index._index = index._faiss.read_index(str(Path(path) / "index.faiss"))
        index._trained, index._max_id = trained, None
        return index
