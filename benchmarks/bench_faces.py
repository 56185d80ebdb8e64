"""Faces: `siamkit face verify` on one photo pair, and 1:N identification over 100,000 identities.

Side by side in one run (ratios hold on a busy machine, absolute times do not):

* verify one pair (read both photos, HOG detection with upsample 1, 5-point alignment, two 128-d
  descriptors, distance): siamkit's :class:`FacePipeline` in process, against the same work done
  with dlib's own calls; and the whole ``siamkit face verify`` command as a user runs it
  (a new process: Python, torch and dlib imports, loading the networks). Target: <= 1 s.
* enrollment + 1:N: a **synthetic** gallery of ``--identities`` identities, one random 128-d unit
  vector each (stored faces), enrolled through :class:`siamkit.index.Gallery` (SQLite store, one
  transaction per identity), then single queries (a new "photo" = an enrolled vector plus noise,
  renormalised) answered with exact search by ``Gallery.identify_embeddings``; beside it a numpy
  brute-force scan and FAISS ``IndexFlatL2`` on the same vectors. Target: <= 50 ms a query.

    nice python benchmarks/bench_faces.py                       # 100,000 identities
    nice python benchmarks/bench_faces.py --identities 10000    # quick
    nice python benchmarks/bench_faces.py --only verify         # the verify rows alone

The command row runs ``siamkit face verify A B --json`` as a new process ``--repeats // 3`` times
(median wall and CPU); beside it, a new process that only imports torch, which the command no
longer does (dlib's HOG detector comes from a cached copy, the photos are decoded with Pillow).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import skimage.data
from PIL import Image

from siamkit.applications.faces import FacePipeline, read_rgb
from siamkit.applications.faces.resources import model_file
from siamkit.index import Gallery

MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")


def _median_ms(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock ms and median CPU ms of this process (all threads) over ``repeats``."""
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def bench_verify(folder: Path, repeats: int) -> list[tuple[str, float]]:
    import dlib

    a, b = folder / "astronaut.png", folder / "messi.png"  # PNG: both decoders agree exactly
    Image.fromarray(skimage.data.astronaut()).save(a)
    Image.open(MESSI).convert("RGB").save(b)
    pipe = FacePipeline()

    def ours() -> float:
        fa, _ = pipe.largest_face(read_rgb(a))
        fb, _ = pipe.largest_face(read_rgb(b))
        return float(np.linalg.norm(fa.embedding - fb.embedding))

    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(model_file("landmarks5")))
    rec = dlib.face_recognition_model_v1(str(model_file("recognition")))

    def peer() -> float:
        zs = []
        for path in (a, b):
            img = dlib.load_rgb_image(str(path))
            rect = max(det(img, 1), key=lambda r: r.area())
            zs.append(np.asarray(rec.compute_face_descriptor(img, sp(img, rect))))
        return float(np.linalg.norm(zs[0] - zs[1]))

    assert abs(ours() - peer()) < 1e-5
    rows = [("verify, in process: siamkit FacePipeline", _median_ms(ours, repeats))]
    rows.append(("verify, in process: dlib's own calls (peer)", _median_ms(peer, repeats)))
    cmd = [sys.executable, "-m", "siamkit", "face", "verify", str(a), str(b), "--json"]
    subprocess.run(cmd, check=True, capture_output=True)  # writes the detector cache if missing
    rows.append(("`siamkit face verify` command (new process)", _process_ms(cmd, repeats)))
    torch_only = [sys.executable, "-c", "import torch"]
    rows.append(
        ("for scale: a new process that imports torch only", _process_ms(torch_only, repeats))
    )
    return rows


def _process_ms(cmd: list[str], repeats: int) -> tuple[float, float]:
    """Median wall ms and median CPU ms (user + system of the child) of running ``cmd``."""
    wall, cpu = [], []
    for _ in range(max(3, repeats // 3)):
        t, c = time.perf_counter(), os.times()
        subprocess.run(cmd, check=True, capture_output=True)
        c2 = os.times()
        wall.append(time.perf_counter() - t)
        cpu.append(c2.children_user + c2.children_system - c.children_user - c.children_system)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def bench_identify(folder: Path, n: int, queries: int, seed: int) -> list[tuple[str, float]]:
    import faiss

    rng = np.random.default_rng(seed)
    x = _unit(rng.normal(size=(n, 128)))  # (n, 128) synthetic stored faces
    truth = rng.integers(0, n, queries)
    q = _unit(x[truth] + 0.03 * rng.normal(size=(queries, 128)))  # (Q, 128)
    path = folder / "gallery.db"
    t = time.perf_counter()
    with Gallery.open(path, embedding_dim=128, distance="euclidean", synchronous="NORMAL") as g:
        for i in range(n):
            g.enroll_embeddings(f"id{i:06d}", x[i : i + 1])
    enroll_s = time.perf_counter() - t
    rows = [(f"enroll {n:,} identities, one transaction each (total)", (enroll_s * 1000, -1.0))]
    with Gallery.open(path, threshold=0.6) as g:
        t = time.perf_counter()
        g.identify_embeddings(q[:1], k=5)  # first query builds the index from the store
        rows.append(
            (
                "first query: load the gallery into the index",
                (1000 * (time.perf_counter() - t), -1.0),
            )
        )
        hits = [
            g.identify_embeddings(q[i : i + 1], k=5)[0].matches[0].label for i in range(queries)
        ]
        assert hits == [f"id{i:06d}" for i in truth], "exact search missed an enrolled identity"
        it = iter(range(10**9))
        rows.append(
            (
                "1:N query, siamkit Gallery exact (ms)",
                _median_ms(
                    lambda: g.identify_embeddings(q[next(it) % queries][None], k=5), queries
                ),
            )
        )
    it2 = iter(range(10**9))
    rows.append(
        (
            "1:N query, numpy brute force (peer, ms)",
            _median_ms(lambda: np.argmin(((x - q[next(it2) % queries]) ** 2).sum(1)), queries),
        )
    )
    index = faiss.IndexFlatL2(128)
    index.add(x)
    it3 = iter(range(10**9))
    rows.append(
        (
            "1:N query, faiss IndexFlatL2 (peer, ms)",
            _median_ms(lambda: index.search(q[next(it3) % queries][None], 5), queries),
        )
    )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--identities", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["verify", "identify"], default=None)
    args = p.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  load: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [] if args.only == "identify" else bench_verify(Path(tmp), args.repeats)
        if args.only != "verify":
            rows += bench_identify(Path(tmp), args.identities, args.queries, args.seed)
    width = max(len(r[0]) for r in rows)
    print(f"| {'what'.ljust(width)} | wall ms (median) | CPU ms (median) |")
    print(f"|{'-' * (width + 2)}|------------------|-----------------|")
    for name, (wall, cpu) in rows:
        cpu_text = "-" if cpu < 0 else f"{cpu:.1f}"
        print(f"| {name.ljust(width)} | {wall:16.1f} | {cpu_text:>15} |")


if __name__ == "__main__":
    main()
