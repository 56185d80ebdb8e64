"""Reading a folder of 12-MP phone photos for a small model input: siamkit against the naive way.

Issue 17: a folder of 50,000 phone photos (12-MP JPEGs) took hours to read before the first step
(a full decode of each, then a resize to the model's tiny input), and was held as float32. This
benchmark writes ``--n`` synthetic 12-MP JPEGs (skimage's astronaut upscaled to 4032×3024 with
seeded noise; every other one stored sideways with EXIF orientation 6, as a phone held upright
saves it) into a temporary ``root/<class>/`` folder and reads them three ways, interleaved in
each round so that machine noise hits all alike:

- ``naive``: ``Image.open``, ``ImageOps.exif_transpose``, ``convert("RGB")``,
  ``resize((S, S), BILINEAR)``, stacked as float32 in [0, 1];
- ``siamkit full decode``: siamkit's folder reading with JPEG draft mode switched off (Pillow's
  ``JpegImageFile.draft`` patched to do nothing): what it did before draft mode;
- ``siamkit``: ``ImageFolderDataset(root, (3, S, S)).load_all(dtype=torch.uint8)``, the read that
  ``data.dataset: image-folder`` does, libjpeg shrinking each photo as it decodes.

It prints seconds per photo (median over ``--rounds``), the ratios, how far siamkit's images are
from its full-decode ones, and the bytes of the held array as float32 and uint8 (measured on the
arrays read, and scaled to ``--photos`` photos).

Run:  nice python benchmarks/bench_folder_read.py [--n 40] [--size 64] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import skimage.data
import torch
from PIL import Image, ImageOps, JpegImagePlugin

from siamkit.data.folders import ImageFolderDataset, find_images

PHOTO = (4032, 3024)  # (width, height): 12 MP, a phone's 4:3 photo


def write_photos(root: Path, n: int, seed: int) -> None:
    """``n`` 12-MP JPEGs under ``root/a`` and ``root/b``, seeded noise on an upscaled photo;
    odd ones stored sideways with EXIF orientation 6."""
    base = np.asarray(Image.fromarray(skimage.data.astronaut()).resize(PHOTO, Image.BICUBIC))
    rng = np.random.default_rng(seed)
    for i in range(n):
        folder = root / "ab"[i % 2]
        folder.mkdir(parents=True, exist_ok=True)
        noisy = base + rng.integers(-8, 9, size=base.shape, dtype=np.int16)
        img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        exif = Image.Exif()
        if i % 2:
            img = img.transpose(Image.Transpose.ROTATE_90)  # stored sideways
            exif[0x0112] = 6  # "turn 90° clockwise to view"
        img.save(folder / f"IMG_{i:04d}.jpg", quality=92, exif=exif)


def naive(paths: list[Path], size: int) -> np.ndarray:
    """The way a user would write it: ``(N, 3, S, S)`` float32 in [0, 1]."""
    out = np.empty((len(paths), 3, size, size), np.float32)
    for i, p in enumerate(paths):
        with Image.open(p) as img:
            small = ImageOps.exif_transpose(img).convert("RGB").resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(small, np.float32).transpose(2, 0, 1) / 255.0
    return out


@contextmanager
def no_draft() -> Iterator[None]:
    """Pillow's JPEG draft mode off: every JPEG decoded at full size."""
    real = JpegImagePlugin.JpegImageFile.draft
    JpegImagePlugin.JpegImageFile.draft = lambda self, mode, size: None  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        JpegImagePlugin.JpegImageFile.draft = real  # type: ignore[method-assign]


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40, help="photos written and read (default 40)")
    ap.add_argument("--size", type=int, default=64, help="model input side S (default 64)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    ap.add_argument("--photos", type=int, default=50_000, help="folder size to scale figures to")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shape = (3, args.size, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t_write, _ = timed(lambda: write_photos(root, args.n, args.seed))
        paths = find_images(root)
        ds = ImageFolderDataset(root, shape)
        assert [p for p, _ in ds.samples] == paths  # the same files, in the same order
        print(
            f"{args.n} JPEGs of {PHOTO[0]}x{PHOTO[1]} written in {t_write:.1f} s; read to {shape}"
        )
        times: dict[str, list[float]] = {"naive": [], "full": [], "siamkit": []}
        for _ in range(args.rounds):
            t, ref = timed(lambda: naive(paths, args.size))
            times["naive"].append(t)
            with no_draft():
                t, full = timed(lambda: ds.load_all(folder="data.root")[0])
            times["full"].append(t)
            t, x8 = timed(lambda: ds.load_all(folder="data.root", dtype=torch.uint8)[0])
            times["siamkit"].append(t)
    per = {k: statistics.median(v) / args.n for k, v in times.items()}
    assert isinstance(full, torch.Tensor) and isinstance(x8, torch.Tensor)
    assert isinstance(ref, np.ndarray)
    diff = (x8.float() / 255 - full).abs()
    naive_diff = np.abs(ref - full.numpy())
    b32 = full.untyped_storage().nbytes()
    b8 = x8.untyped_storage().nbytes()
    hours = args.photos / 3600
    print()
    print(f"| read | s per photo | vs siamkit | {args.photos:,} photos |")
    print("| --- | --- | --- | --- |")
    names = {
        "naive": "naive (PIL open, exif_transpose, convert, resize)",
        "full": "siamkit, full decode (draft off)",
        "siamkit": "siamkit (JPEG draft + resize, uint8)",
    }
    for k, name in names.items():
        ratio = per[k] / per["siamkit"]
        print(f"| {name} | {per[k]:.3f} | {ratio:.1f}x | {per[k] * hours:.2f} h |")
    print()
    print(
        f"siamkit vs its full decode: mean |diff| {diff.mean().item() * 255:.2f}/255, "
        f"max {diff.max().item() * 255:.1f}/255 (uint8 rounding included); "
        f"naive vs siamkit full decode: mean {naive_diff.mean() * 255:.2f}/255"
    )
    print()
    print(f"| held array | {args.n} photos at {shape} | {args.photos:,} photos |")
    print("| --- | --- | --- |")
    for name, b in (("float32", b32), ("uint8", b8)):
        print(f"| {name} | {b / 2**20:.2f} MiB | {b / args.n * args.photos / 2**30:.2f} GiB |")
    rounds = {k: [round(t, 2) for t in v] for k, v in times.items()}
    print(f"rounds: {args.rounds}; torch threads: {args.threads}; seconds per round: {rounds}")


if __name__ == "__main__":
    main()
