"""The images a self-supervised run learns from, with no labels, and an optional labeled monitor.

* A labeled dataset (Fashion-MNIST, digits) with ``data.labels: none``: the training images of
  ``train_classes`` without their labels; a seeded per-class share of them is held out as a small
  labeled validation set for the kNN monitor (never trained on).
* ``dataset: image-folder``: every image anywhere under ``root`` (sub-folder names ignored,
  hidden files and folders skipped); no labels, so no kNN monitor unless ``val_root`` names a
  folder of labelled images (one sub-folder per class) for it.

>>> d = load_ssl_data(SSLDataConfig(dataset="digits"))
>>> d.train_x.shape[1:], d.val_y is not None
(torch.Size([1, 8, 8]), True)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from siamkit.applications.ssl.config import SSLDataConfig
from siamkit.data.folders import ImageFolderDataset, images_under
from siamkit.data.image_io import load_images
from siamkit.progress import human_bytes
from siamkit.training.config import DataConfig
from siamkit.training.data import SPLIT_SEED, load_run_data, seeded_sample

#: the most bytes of float64 images :meth:`SSLData.channel_stats` holds at once
STATS_CHUNK_BYTES = 32 * 2**20


class SSLData(NamedTuple):
    """Training images ``(N, C, H, W)`` (uint8 or float in [0, 1]); labeled validation images
    for the monitor (``None`` without labels)."""

    train_x: Tensor
    val_x: Tensor | None
    val_y: Tensor | None
    source: str
    train_classes: tuple[int, ...] | None = None
    test_classes: tuple[int, ...] | None = None
    val_source: str | None = None  # the validation images, when not a share of the training data
    images_id: str | None = None  # an image folder's: :func:`folder_id` of its training files

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the training images."""
        c, h, w = self.train_x.shape[1:]
        return (int(c), int(h), int(w))

    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std of (up to 20,000) training images, rounded to 4 places.

        Summed in float64 over chunks of at most :data:`STATS_CHUNK_BYTES`, not over one float32
        copy of them all: that copy is 4 times the uint8 images :func:`check_images_fit` counts
        (20,000 photos at 224 px in colour: 11 GiB more), and a run the check let through died
        of PyTorch's allocator error after reading every photo."""
        x = self.train_x[:20000]
        n, c, h, w = x.shape
        per_chunk = max(1, STATS_CHUNK_BYTES // max(1, c * h * w * 8))
        total = torch.zeros(c, dtype=torch.float64)
        squares = torch.zeros(c, dtype=torch.float64)
        for start in range(0, n, per_chunk):
            part = _float64(x[start : start + per_chunk])
            total += part.sum(dim=(0, 2, 3))
            squares += part.square_().sum(dim=(0, 2, 3))
        count = n * h * w
        mean = total / count
        # the unbiased variance, as Tensor.std gives it
        var = (squares - count * mean.square()).clamp_min(0) / max(count - 1, 1)
        std = var.sqrt().clamp_min(1e-3)
        return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)


def _float64(x: Tensor) -> Tensor:
    """Images as float64 in [0, 1] (uint8 scaled as :func:`~siamkit.training.data.to_float`
    scales them)."""
    part = x.to(torch.float64, copy=True)  # a copy: channel_stats squares it in place
    return part.div_(255.0) if x.dtype == torch.uint8 else part


def folder_id(root: str | os.PathLike[str], paths: list[Path]) -> str:
    """A SHA-256 of the names (relative to ``root``) and sizes of an image folder's files: what a
    resumed run compares, so that it does not go on silently with other images."""
    digest = hashlib.sha256()
    for p in paths:
        name = os.fsencode(p.relative_to(root))
        digest.update(name + b"\0" + str(p.stat().st_size).encode() + b"\n")
    return digest.hexdigest()


def folder_images(root: str, image_size: int, grayscale: bool) -> Tensor:
    """Every image under ``root`` (:func:`~siamkit.data.folders.images_under`), resized to
    ``image_size`` squares: ``(N, C, S, S)`` uint8 (a quarter of float32's memory for a folder
    of thousands of photos; each batch, the monitors and the channel statistics scale them to
    ``[0, 1]``).

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: it holds no images.
    """
    return folder_images_and_id(root, image_size, grayscale)[0]


#: where :func:`available_memory` reads the machine's memory and this process's cgroups
#: (module names, so that a test can point them at files of its own)
MEMINFO = "/proc/meminfo"
PROC_CGROUP = "/proc/self/cgroup"
CGROUP_ROOT = "/sys/fs/cgroup"
_NO_LIMIT = 2**60  # cgroup v1 writes "no limit" as the largest page-aligned int64


def available_memory() -> int | None:
    """Bytes of memory this machine can still give a process (Linux's ``MemAvailable``, else
    the free physical pages), or less where this process's cgroup (a container's memory limit)
    leaves it less (:func:`cgroup_memory_left`): a container limited to 4 GiB on a 64 GiB
    machine is killed at 4 GiB, whatever the machine has free. ``None`` where neither can be
    told."""
    machine: int | None = None
    try:
        with open(MEMINFO, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    machine = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if machine is None:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            machine = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limited = cgroup_memory_left()
    if machine is None or limited is None:
        return limited if machine is None else machine
    return min(machine, limited)


def cgroup_memory_left() -> int | None:
    """Bytes this process's memory cgroup can still take: over its cgroup and each one above it
    with a limit (cgroup v2's ``memory.max``, v1's ``memory.limit_in_bytes``), the least limit
    less usage (``memory.current``, ``memory.usage_in_bytes``), the inactive file cache left out
    of the usage (the kernel takes those pages back before it kills the process). ``None``
    where no limit is set or none can be read."""
    try:
        with open(PROC_CGROUP, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    v1 = v2 = None
    for line in lines:  # "0::/path" (v2), "4:memory:/path" (v1)
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1] == "":
            v2 = parts[2]
        elif len(parts) == 3 and "memory" in parts[1].split(","):
            v1 = parts[2]
    root = Path(CGROUP_ROOT)
    kinds = (
        (root, v2, "memory.max", "memory.current", "inactive_file"),
        (
            root / "memory",
            v1,
            "memory.limit_in_bytes",
            "memory.usage_in_bytes",
            "total_inactive_file",
        ),
    )
    left: int | None = None
    for mount, path, limit, usage, inactive in kinds:
        if path is None:
            continue
        folder = mount / path.strip("/")
        # the cgroup and those above it, up to the mount (inside a container the mount is often
        # the container's own cgroup, and the path below it absent)
        for where in (folder, *[p for p in folder.parents if p.is_relative_to(mount)]):
            room = _cgroup_room(where, limit, usage, inactive)
            if room is not None:
                left = room if left is None else min(left, room)
    return left


def _cgroup_room(folder: Path, limit: str, usage: str, inactive: str) -> int | None:
    """``folder``'s limit less its usage (less its inactive file cache), or ``None`` where it
    sets no limit or cannot be read."""
    try:
        cap = (folder / limit).read_text(encoding="ascii").strip()
        if cap == "max" or int(cap) >= _NO_LIMIT:
            return None
        used = int((folder / usage).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    cache = 0
    try:
        for line in (folder / "memory.stat").read_text(encoding="ascii").splitlines():
            key, _, value = line.partition(" ")
            if key == inactive:
                cache = int(value)
                break
    except (OSError, ValueError):
        pass
    return max(0, int(cap) - max(0, used - cache))


def check_images_fit(
    n: int,
    shape: tuple[int, int, int],
    root: str,
    monitor: int = 0,
    val_root: str | None = None,
) -> None:
    """Refuse, before any file is read, a folder whose ``n`` images at ``shape`` (uint8, held in
    memory for the whole run), with the kNN monitor's ``monitor`` labelled images of
    ``val_root`` (read at the same size and held as long), take more than the memory the machine
    has free. The images' tensor is allocated before they are read: 50,000 photos at
    ``data.image_size`` 512 in colour (36.6 GiB), beyond the machine's memory and swap (here
    23 GiB), failed at once with PyTorch's "DefaultCPUAllocator: can't allocate memory"; within
    them but above what is free (Linux overcommits), the pages fill as the photos are read
    (~0.05 s each) until the process is killed partway.

    Under ``torchrun`` every process of the machine (``LOCAL_WORLD_SIZE``) reads and holds
    the whole folder, so their sum is what must fit.

    >>> check_images_fit(10, (3, 64, 64), "photos")  # 120 KiB
    """
    image = shape[0] * shape[1] * shape[2]
    procs = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))  # torchrun sets it
    need = (n + monitor) * image * procs
    free = available_memory()
    if free is None or need <= free:
        return
    fits = free // (image * procs) - monitor
    colour = "grayscale" if shape[0] == 1 else "colour"
    held = (
        "held in memory"
        if procs == 1
        else f"held in memory by the {procs} processes on this machine (each holds them all)"
    )
    what = f"the {n:,} images to train on"
    if monitor:
        what += f" and the {monitor:,} labelled images of data.val_root {val_root}"
    if monitor and fits < 1:
        fix = (
            f"lower data.image_size, or give data.val_root fewer labelled images (the "
            f"{monitor:,} alone fill it)"
        )
    else:
        fix = (
            f"lower data.image_size, or keep a sample with data.limit well below "
            f"{max(1, fits):,} (which would fill it all)"
        )
    raise ValueError(
        f"data.root {root}: {what} take {human_bytes(need)} {held} at data.image_size "
        f"{shape[1]} in {colour}, more than the {human_bytes(free)} this machine has free: {fix}"
    )


def training_files(root: str, limit: int | None = None) -> tuple[list[Path], str]:
    """The image files of ``root`` a run reads (with ``limit``, ``data.limit``, a seeded
    ``limit`` of them: the images the whole folder's read would keep, in its order) and the whole
    folder's :func:`folder_id`."""
    paths = images_under(root, "data.root", "; a self-supervised run needs a folder of images")
    images_id = folder_id(root, paths)
    if limit is not None and limit < len(paths):  # not 50,000 photos read for 1,000 kept
        paths = [paths[i] for i in seeded_sample(len(paths), limit, SPLIT_SEED).tolist()]
    return paths, images_id


def folder_images_and_id(
    root: str, image_size: int, grayscale: bool, limit: int | None = None
) -> tuple[Tensor, str]:
    """:func:`folder_images`, and the files' :func:`folder_id`, from one walk of ``root``; with
    ``limit`` (``data.limit``) only a seeded ``limit`` of the files are read (the images the
    whole folder's read would keep, in its order; the id is the whole folder's)."""
    paths, images_id = training_files(root, limit)
    shape = (1 if grayscale else 3, image_size, image_size)
    check_images_fit(len(paths), shape, root)  # not 40 minutes of reading, then killed
    return load_images(paths, shape, folder="data.root", dtype=torch.uint8), images_id


def monitor_folder(root: str, shape: tuple[int, int, int]) -> ImageFolderDataset:
    """The files of the kNN monitor's ``data.val_root`` (one sub-folder per class), listed and
    checked; no image is read.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: it is not one sub-folder of images per class, of two classes or more.
    """
    from siamkit.data.folders import loose_images

    layout = "a folder with one sub-folder of labelled images per class (e.g. labeled/cat/1.png)"
    if not Path(root).is_dir():
        raise FileNotFoundError(f"data.val_root {root!r} is not a folder: give {layout}")
    if loose_images(root):
        raise ValueError(
            f"data.val_root {root!r} holds images and no class sub-folders: give {layout}"
        )
    try:
        ds = ImageFolderDataset(root, shape)
    except ValueError as err:
        raise ValueError(f"data.val_root: {err}") from None
    if len(ds.classes) < 2:
        raise ValueError(
            f"data.val_root {root!r} holds one class ({ds.classes[0]}); the kNN monitor tells "
            f"classes apart, so give {layout}, of two classes or more"
        )
    return ds


def _monitor_images(ds: ImageFolderDataset, root: str) -> tuple[Tensor, Tensor, str]:
    x, y = ds.load_all(folder="data.val_root", dtype=torch.uint8)
    n, k = len(y), len(ds.classes)
    return x, y, f"{n:,} labelled image{'s' * (n != 1)} of {k} classes under {root}"


def monitor_folder_images(
    root: str, image_size: int, grayscale: bool
) -> tuple[Tensor, Tensor, str]:
    """The kNN monitor's labelled images of ``data.val_root`` (:func:`monitor_folder`):
    ``(N, C, S, S)`` uint8 (:func:`~siamkit.encode.encode` scales them to ``[0, 1]``), ``(N,)``
    labels, and what they are in words.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: it is not one sub-folder of images per class, of two classes or more.
    """
    ds = monitor_folder(root, (1 if grayscale else 3, image_size, image_size))
    return _monitor_images(ds, root)


def load_ssl_data(cfg: SSLDataConfig) -> SSLData:
    """Load the images of ``cfg`` (see the module docstring)."""
    if cfg.dataset == "image-folder":
        if cfg.root is None:
            raise ValueError("data.dataset = image-folder needs data.root: a folder of images")
        size = 64 if cfg.image_size is None else cfg.image_size  # unset: image-folder's own
        shape = (1 if cfg.grayscale else 3, size, size)
        paths, images_id = training_files(cfg.root, cfg.limit)
        monitor = None if cfg.val_root is None else monitor_folder(cfg.val_root, shape)
        # the monitor's images are held beside the training images: both counted before reading
        check_images_fit(
            len(paths), shape, cfg.root, 0 if monitor is None else len(monitor), cfg.val_root
        )
        x = load_images(paths, shape, folder="data.root", dtype=torch.uint8)
        source = f"{x.shape[0]} images under {cfg.root}"
        if monitor is None or cfg.val_root is None:
            return SSLData(x, None, None, source, images_id=images_id)
        vx, vy, val_source = _monitor_images(monitor, cfg.val_root)
        return SSLData(x, vx, vy, source, val_source=val_source, images_id=images_id)
    run = load_run_data(
        DataConfig(
            dataset=cfg.dataset, root=cfg.root, train_classes=cfg.train_classes,
            val_fraction=cfg.val_fraction, limit=cfg.limit,
            image_size=cfg.image_size, grayscale=cfg.grayscale,  # refused as a supervised run's
        )
    )  # fmt: skip
    has_val = run.val_y.numel() > 1
    # named as the supervised run's first line names them
    from siamkit.evaluation.report_sections import class_list

    n, k = len(run.train_y), len(run.train_classes)
    source = (
        f"{n:,} {cfg.dataset} image{'s' * (n != 1)} of {k} class{'es' * (k != 1)} "
        f"({class_list(run.class_names, run.train_classes)})"
    )
    return SSLData(
        run.train_x, run.val_x if has_val else None, run.val_y if has_val else None, source,
        run.train_classes, run.test_classes,
    )  # fmt: skip
