"""How much memory the images of a run take, and what the machine has free for them.

A run reads an image folder into one uint8 tensor held for the whole run: :func:`check_images_fit`
refuses, before any file is read, a folder that does not fit in :func:`available_memory` (the
self-supervised run's folder and its labelled monitor; the supervised run's folder, whose splits
are copies of it); :func:`channel_stats` sums their statistics in float64 chunks rather than over a
float32 copy of them all (4 times the uint8 bytes).

>>> check_images_fit(10, (3, 64, 64), "photos")  # 120 KiB
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch
from torch import Tensor

from siamkit.launch_env import env_local_world
from siamkit.progress import human_bytes

#: the most bytes of float64 images :func:`channel_stats` holds at once
STATS_CHUNK_BYTES = 32 * 2**20


#: the most images :func:`channel_stats` reads, drawn by :func:`stats_sample`
STATS_IMAGES = 20_000

#: the seed of :func:`stats_sample`'s draw: the same images give the same statistics
STATS_SEED = 0


def stats_sample(
    n: int, labels: Tensor | None = None, most: int = STATS_IMAGES, seed: int = STATS_SEED
) -> Tensor:
    """``min(n, most)`` distinct indices of ``range(n)``, ascending, drawn with ``seed``: each
    class of ``labels`` ``(n,)`` gets its share of them (``most`` times its share of the
    images, the largest remainders rounded up), drawn at random within it; without labels, a
    plain seeded draw.

    The images a run's normalisation is measured on: the first 20,000 of an image folder are
    its first classes (its images are in class order), so a folder whose later classes are
    darker or of other colours was normalised by the first classes' statistics alone.

    >>> stats_sample(6, torch.tensor([0, 0, 0, 0, 1, 1]), most=3).tolist()[-1] >= 4
    True
    """
    if n <= most:
        return torch.arange(n)
    keys = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    order = keys.argsort()  # a random order of all the images
    if labels is None:
        return order[:most].sort().values
    _, cls, counts = labels.reshape(-1).unique(return_inverse=True, return_counts=True)
    exact = counts.to(torch.float64) * most / n
    quota = exact.floor().to(torch.int64)
    short = most - int(quota.sum())
    quota[(exact - quota).argsort(descending=True, stable=True)[:short]] += 1
    order = order[cls[order].argsort(stable=True)]  # grouped by class, at random within each
    rank = torch.arange(n) - (counts.cumsum(0) - counts)[cls[order]]
    return order[rank < quota[cls[order]]].sort().values


def channel_stats(
    x: Tensor, labels: Tensor | None = None, most: int | None = None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of images ``(N, C, H, W)`` (uint8 or float in [0, 1]; uint8
    scaled to [0, 1]), rounded to 4 places; with ``most``, of at most that many of them, a
    seeded draw in which each class of ``labels`` has its share (:func:`stats_sample`).

    Summed in float64 over chunks of at most :data:`STATS_CHUNK_BYTES`, not over one float32
    copy of them all: that copy is 4 times the uint8 images :func:`check_images_fit` counts
    (20,000 photos at 224 px in colour: 11 GiB more), and a run the check let through died
    of PyTorch's allocator error after reading every photo. The drawn images are gathered a
    chunk at a time too, not copied out first."""
    n, c, h, w = x.shape
    pick = stats_sample(n, labels, most) if most is not None and n > most else None
    used = n if pick is None else len(pick)
    per_chunk = max(1, STATS_CHUNK_BYTES // max(1, c * h * w * 8))
    total = torch.zeros(c, dtype=torch.float64)
    squares = torch.zeros(c, dtype=torch.float64)
    for start in range(0, used, per_chunk):
        rows = slice(start, start + per_chunk)
        part = _float64(x[rows] if pick is None else x[pick[rows]])
        total += part.sum(dim=(0, 2, 3))
        squares += part.square_().sum(dim=(0, 2, 3))
    count = used * h * w
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
    copies: int = 1,
) -> None:
    """Refuse, before any file is read, a folder whose ``n`` images at ``shape`` (uint8, held in
    memory for the whole run), with the kNN monitor's ``monitor`` labelled images of
    ``val_root`` (read at the same size and held as long), take more than the memory the machine
    has free. The images' tensor is allocated before they are read: 50,000 photos at
    ``data.image_size`` 512 in colour (36.6 GiB), beyond the machine's memory and swap (here
    23 GiB), failed at once with PyTorch's "DefaultCPUAllocator: can't allocate memory"; within
    them but above what is free (Linux overcommits), the pages fill as the photos are read
    (~0.05 s each) until the process is killed partway.

    Under ``torchrun`` every process of the machine (``LOCAL_WORLD_SIZE``, read by
    :func:`siamkit.launch_env.env_local_world`: a bare value outside a launch is one process)
    reads and holds the whole folder, so their sum is what must fit.

    ``copies``: how many times the images are held at the peak. A supervised run
    (:func:`~siamkit.training.data.load_run_data`) copies its splits out of the folder's
    images (``x[keep]``, ``x[held]``: indexing with indices copies) while those are still held,
    so it holds them twice; ``data.limit`` samples only after that, so it does not help there.

    >>> check_images_fit(10, (3, 64, 64), "photos")  # 120 KiB
    """
    image = shape[0] * shape[1] * shape[2]
    procs = env_local_world()  # torchrun sets LOCAL_WORLD_SIZE
    need = (n * copies + monitor) * image * procs
    free = available_memory()
    if free is None or need <= free:
        return
    fits = (free // (image * procs) - monitor) // copies
    colour = "grayscale" if shape[0] == 1 else "colour"
    held = (
        "held in memory"
        if procs == 1
        else f"held in memory by the {procs} processes on this machine (each holds them all)"
    )
    what = f"the {n:,} images to train on" if copies == 1 else f"the {n:,} labelled images"
    if copies > 1:
        held = f"{held} (the run's splits are copied out of them: {copies} copies at once)"
    if monitor:
        what += f" and the {monitor:,} labelled images of data.val_root {val_root}"
    if monitor and fits < 1:
        fix = (
            f"lower data.image_size, or give data.val_root fewer labelled images (the "
            f"{monitor:,} alone fill it)"
        )
    elif copies > 1:  # data.limit samples the training split after the whole folder is read
        fix = (
            f"lower data.image_size, or give data.root well below {max(1, fits):,} images (which "
            "would fill it all)"
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
