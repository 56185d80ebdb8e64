"""Image files in and embedding files out: reading the images the commands are given (every
unreadable one named in one sentence), and writing ``siamkit embed``'s .npy or .parquet."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

T = TypeVar("T")


def torch_labels(samples: Sequence[tuple[Any, int]]) -> Tensor:
    """``(N,)`` int64 labels of ``(path, label)`` samples."""
    import torch

    return torch.tensor([label for _, label in samples], dtype=torch.int64)


def read_image_files(
    paths: Sequence[Any], shape: Sequence[int], folder: str | None = None
) -> Tensor:
    """``(N, C, H, W)`` images in ``[0, 1]`` read from files, with progress for long lists.

    Every file is read before any unreadable one is refused, in one sentence naming each
    (:func:`read_each_image`), not as item i of a chunk of the list. ``folder``: the option and
    folder the paths were found in (``"--data photos/"``), which the sentence names
    (:func:`~siamkit.data.image_io.load_images`); without it, the images given (files named and
    files found in the folders named, as ``siamkit embed`` and ``siamkit enroll`` take them)."""
    import torch

    from siamkit.data.image_io import load_images

    if not paths:
        raise ValueError("no image files to read")
    if folder is not None:
        return load_images(list(paths), shape, folder=folder)
    c, h, w = (int(s) for s in shape)
    return torch.stack(read_each_image(paths, lambda p: read_sized(p, (c, h, w))))


def read_sized(path: Any, shape: tuple[int, int, int]) -> Tensor:
    """The ``(C, H, W)`` image in ``[0, 1]`` of the file ``path``, read with ``C`` channels and
    resized to ``H x W`` (``shape``), a big JPEG shrunk as it decodes, as training reads it
    (:func:`~siamkit.data.image_io.read_image_resized`)."""
    from siamkit.data.image_io import read_image_resized

    return read_image_resized(path, shape)


class ImageFiles:
    """The ``(N, C, H, W)`` images in ``[0, 1]`` of image files, read a slice at a time
    (``files[s : s + chunk]``), so that embedding or enrolling tens of thousands of photos holds
    one chunk of pixels, not all of them (20,000 RGB images at 224 x 224 are 12 GB as floats).
    Made by :func:`open_image_files`, which has read every file once."""

    def __init__(self, paths: Sequence[Any], shape: Sequence[int]) -> None:
        self.paths = list(paths)
        c, h, w = (int(s) for s in shape)
        self.shape = (c, h, w)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: slice) -> Tensor:
        import torch

        return torch.stack([read_sized(p, self.shape) for p in self.paths[index]])


def open_image_files(paths: Sequence[Any], shape: Sequence[int]) -> ImageFiles:
    """:class:`ImageFiles` of ``paths``, after every file was read once (:func:`check_readable`),
    keeping none of its pixels, so that the unreadable ones are refused before any work, in one
    sentence naming each (:func:`read_each_image`), as :func:`read_image_files` refuses them."""
    if not paths:
        raise ValueError("no image files to read")
    channels = int(shape[0])
    read_each_image(paths, lambda p: check_readable(p, channels))
    return ImageFiles(paths, shape)


class PhotoFiles:
    """The photos of image files for a face model (``input_kind == "photo"``), each a
    ``(3, H, W)`` image in ``[0, 1]`` at its own size, read a slice at a time (``photos[s : s +
    chunk]`` is a list), as :class:`ImageFiles` reads images for other models: a list of every
    photo held 10,000 12-MP photos at once (1.4 TB as floats), where a slice holds one chunk. Photos are never shrunk here: the detector finds small faces in them.
    Made by :func:`open_photo_files`, which has checked every file."""

    def __init__(self, paths: Sequence[Any]) -> None:
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: slice) -> list[Any]:
        from siamkit.data.image_io import read_image

        return [read_image(p, channels=3) for p in self.paths[index]]


def open_photo_files(paths: Sequence[Any]) -> PhotoFiles:
    """:class:`PhotoFiles` of ``paths``, after every file was checked as cheaply as the read
    allows (:func:`check_readable`), keeping none of its pixels, so that the unreadable ones
    are refused before any work, in one sentence naming each, as :func:`open_image_files`
    refuses them (and an empty list, as it does)."""
    if not paths:
        raise ValueError("no image files to read")
    read_each_image(paths, lambda p: check_readable(p, 3))
    return PhotoFiles(paths)


def check_readable(path: Any, channels: int) -> None:
    """Read the image file ``path`` as cheaply as a read that refuses what the work's read
    (:func:`read_sized`) refuses can be: a JPEG is decoded at libjpeg's smallest scale (1/8 of
    each side; :func:`~siamkit.image_decode.draft_jpeg`), any other image in full, then turned
    upright and converted to ``channels``, and nothing kept. Every scale reads the whole of the
    compressed data, which is where a truncated or corrupt JPEG fails, so the check refuses the
    files the work would, by the same sentence. A full-size decode made the check of 50,000
    12-MP photos take hours before the first was embedded (about 0.5 s a photo on a loaded
    2-core machine, against 0.05 so).

    Raises:
        ImageReadError: the file is missing, empty, not an image, truncated, corrupt or too large.
    """
    from siamkit.image_decode import decode_image

    decode_image(path, channels, draft=(1, 1))


def read_each_image(paths: Sequence[Any], read: Callable[[Any], T]) -> list[T]:
    """``read(path)`` of every path, with progress; then an unreadable file is refused in its
    own sentence, and several in one sentence naming each, so that a folder holding two bad
    files is not refused once for each (nothing is written before: the caller reads first)."""
    from siamkit.data.image_io import ImageReadError, unreadable_list
    from siamkit.progress import track

    out: list[T] = []
    bad: list[tuple[str, ImageReadError]] = []
    for path in track(list(paths), "reading images", unit="images"):
        try:
            out.append(read(path))
        except ImageReadError as err:
            bad.append((os.fspath(path), err))
    if len(bad) == 1:
        raise bad[0][1]
    if bad:
        raise ImageReadError(
            f"{len(bad):,} of the {len(paths):,} images given cannot be read, "
            f"{unreadable_list(bad)}: remove or fix them"
        )
    return out


def collect_images(inputs: Sequence[str], once: bool = False) -> tuple[list[Path], list[str]]:
    """Image files named directly or found (recursively, sorted) in folders; label = parent folder.

    ``once``: each file where it is first met, for ``siamkit embed``: ``photos/**`` (zsh, or
    bash with globstar) names the folder, its sub-folders and every file in them, which gave
    each image three rows (enroll takes every one and reports the repeats it skips). A file is
    the same by its absolute path with ``.`` and ``..`` taken out (:func:`os.path.abspath`),
    not by where its symbolic links lead: ``ds/b/1.png -> ../a/1.png`` is a row of label ``b``
    beside ``ds/a/1.png``'s of label ``a``, as the data set means it.

    The files of the folders that are not images by their extension are left out, and said so
    in one ``warning:`` line (:func:`~siamkit.data.folders.left_out_note`); a file named
    directly is read whatever its name.
    """
    from siamkit.data.folders import IMAGE_EXTENSIONS, sort_files

    paths: list[Path] = []
    seen: set[Path] = set()
    left_out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found, others = sort_files(p)
            left_out += others
        elif p.is_file():
            found = [p]
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
        for path in found:
            key = Path(os.path.abspath(path))
            if once and key in seen:
                continue
            seen.add(key)  # every file taken: a folder's file also named directly is not left out
            paths.append(path)
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {', '.join(inputs)}")
    if left_out:  # one also named directly (photos/** names every file) is read, not left out
        say_left_out([f for f in left_out if Path(os.path.abspath(f)) not in seen])
    return paths, [p.parent.name for p in paths]


def say_left_out(files: Sequence[Path]) -> None:
    """One ``warning:`` line on stderr naming a few of the ``files`` of folder inputs left out
    as not images by their extension (:func:`~siamkit.data.folders.left_out_note`), if any."""
    import click

    from siamkit.data.folders import left_out_note

    if files:
        click.echo(f"warning: {left_out_note(sorted(set(files)))}", err=True)


def embedding_files(path: Path) -> list[Path]:
    """The files :func:`write_embeddings` writes for ``path``: ``.npy`` and its ``.ids.txt``, or
    the one ``.parquet``."""
    return [path, path.with_suffix(".ids.txt")] if path.suffix.lower() == ".npy" else [path]


def check_embeddings_out(path: Path) -> None:
    """Refuse, before any image is read, an ``--out`` that :func:`write_embeddings` could not
    write: not ``.npy`` / ``.parquet``, a folder, or a path below a file (``notes.txt/z.npy``).

    Raises:
        ValueError: one sentence naming the problem and what to do.
    """
    from siamkit.atomic import check_writable_file

    if path.suffix.lower() not in (".npy", ".parquet"):
        raise ValueError(f"--out {path}: write embeddings to a .npy or .parquet file")
    for file in embedding_files(path):
        what = f"--out {path}" if file == path else f"{file} (the row ids of --out {path})"
        check_writable_file(file, what)


def write_embeddings(
    path: Path, z: np.ndarray, ids: Sequence[str], labels: Sequence[Any] | None
) -> list[Path]:
    """``.npy``: the ``(N, D)`` float32 matrix plus ``<name>.ids.txt`` (one id per row);
    ``.parquet``: columns ``id``, ``label`` (if known) and ``embedding`` (list of float32).

    Each file is written beside its name and renamed over it only when complete (the two files
    of ``.npy`` together, once both are written), so an interrupted write (Ctrl-C, an error)
    leaves earlier files as they were and no partial file under the name."""
    import numpy as np

    from siamkit.atomic import atomic_path
    from siamkit.index.store import storable

    # a file name that is not UTF-8 (Latin-1 bytes on Linux) reaches Python with surrogates,
    # which no text file or parquet column can hold: its bytes are written as \xe9 escapes, as
    # the gallery keeps an enrolled file's source (an id of embed is then that source)
    texts = [storable(str(i)) or "" for i in ids]
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".parquet"):  # before a missing folder of --out is made
        raise ValueError(f"--out {path}: write embeddings to a .npy or .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        ids_path = embedding_files(path)[1]
        with atomic_path(path) as tmp, atomic_path(ids_path) as ids_tmp:
            with tmp.open("wb") as f:  # np.save(path) writes "z.NPY" as "z.NPY.npy"
                np.save(f, z.astype(np.float32), allow_pickle=False)
            ids_tmp.write_text("".join(f"{i}\n" for i in texts), encoding="utf-8")
        return [path, ids_path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "writing .parquet needs pyarrow: pip install pyarrow (or write .npy)"
        ) from None
    cols: dict[str, Any] = {"id": pa.array(texts)}
    if labels is not None:
        cols["label"] = pa.array([storable(str(v)) or "" for v in labels])
    flat = pa.array(z.astype(np.float32).reshape(-1))
    cols["embedding"] = pa.FixedSizeListArray.from_arrays(flat, z.shape[1])
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(pa.table(cols), tmp)
    return [path]
