"""A dataset of labelled image pairs listed in a CSV file.

The file has the header ``path_a,path_b,same`` (extra columns are ignored) and one pair per row;
``same`` is 1 for a similar pair and 0 for a dissimilar one. Relative paths are resolved against
``root`` (default: the CSV's folder).

Example:
    >>> ds = PairsCSVDataset("pairs.csv", input_shape=(1, 28, 28))  # doctest: +SKIP
    >>> image_a, image_b, same = ds[0]  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.utils.data import Dataset

from siamkit.atomic import read_utf8
from siamkit.data.image_io import load_images

__all__ = ["PairsCSVDataset", "PathPair", "read_pairs_csv", "read_pairs_csv_lines"]

REQUIRED_COLUMNS = ("path_a", "path_b", "same")

Transform = Callable[[torch.Tensor], torch.Tensor]


class PathPair(NamedTuple):
    """One labelled pair of image files (``same`` = 1 for a similar pair)."""

    path_a: Path
    path_b: Path
    same: int


def _parse_row(row: dict[Any, Any], line: int, name: str, base: Path) -> PathPair:
    extra = row.get(None)  # csv.DictReader's place for values beyond the header's columns
    if extra:
        raise ValueError(
            f"{name} line {line}: {len(row) - 1 + len(extra)} values where the header names "
            f"{len(row) - 1} columns; put a path that holds a comma in double quotes."
        )
    values = {}
    for col in REQUIRED_COLUMNS:
        value = (row.get(col) or "").strip()
        if not value:
            raise ValueError(f"{name} line {line}: column '{col}' is empty.")
        values[col] = value
    if values["same"] not in ("0", "1"):
        raise ValueError(f"{name} line {line}: 'same' must be 0 or 1, got {values['same']!r}.")
    paths = []
    for col in ("path_a", "path_b"):
        path = Path(values[col])
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise FileNotFoundError(f"{name} line {line}: {col} file '{path}' does not exist.")
        paths.append(path)
    return PathPair(paths[0], paths[1], int(values["same"]))


def read_pairs_csv(
    csv_path: str | os.PathLike, root: str | os.PathLike | None = None
) -> list[PathPair]:
    """Parse and validate a ``path_a,path_b,same`` CSV.

    Raises:
        FileNotFoundError: the CSV or an image file it names is missing (with the line number).
        ValueError: a bad header (or an empty file), an empty column, ``same`` not 0/1, or no rows.

    Example:
        >>> read_pairs_csv("pairs.csv")[0]  # doctest: +SKIP
        PathPair(path_a=PosixPath('a.png'), path_b=PosixPath('b.png'), same=1)
    """
    return [pair for _, pair in read_pairs_csv_lines(csv_path, root)]


def read_pairs_csv_lines(
    csv_path: str | os.PathLike, root: str | os.PathLike | None = None
) -> list[tuple[int, PathPair]]:
    """:func:`read_pairs_csv` with each pair's line number in the file (for messages that
    name the line of a pair, e.g. one whose file is not an image)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"Pairs CSV '{csv_path}' does not exist.")
    base = Path(root) if root is not None else csv_path.parent
    name = f"'{csv_path}'"
    with io.StringIO(read_utf8(csv_path), newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{name} line 1: the header must contain {','.join(REQUIRED_COLUMNS)}; got "
                f"{','.join(header) or 'nothing'} (missing {', '.join(missing)})."
            )
        reader.fieldnames = header
        pairs = [(reader.line_num, _parse_row(row, reader.line_num, name, base)) for row in reader]
    if not pairs:
        raise ValueError(f"{name} has a header but no pairs.")
    return pairs


class FilePairDataset(Dataset):
    """Base for datasets of labelled pairs of image files: items ``(image_a, image_b, same)``.

    Subclasses set ``pairs`` (records with a ``same`` field), ``input_shape`` and ``transform``
    (through :meth:`_set_pairs`) and say which two paths a record names (:meth:`_paths`).
    """

    pairs: Sequence[Any]
    input_shape: tuple[int, ...]
    transform: Transform | None

    def _set_pairs(
        self, pairs: Sequence[Any], input_shape: Sequence[int], transform: Transform | None
    ) -> None:
        self.pairs = pairs
        self.input_shape = tuple(int(s) for s in input_shape)
        self.same = torch.tensor([p.same for p in pairs], dtype=torch.int64)
        self.transform = transform

    @staticmethod
    def _paths(pair: Any) -> tuple[Path, Path]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        pair = self.pairs[index]
        a, b = load_images(list(self._paths(pair)), self.input_shape)
        if self.transform is not None:
            a, b = self.transform(a), self.transform(b)
        return a, b, pair.same


class PairsCSVDataset(FilePairDataset):
    """Image pairs from a CSV: items are ``(image_a (C, H, W), image_b (C, H, W), same)``.

    Args:
        csv_path: the CSV file (header ``path_a,path_b,same``).
        input_shape: ``(C, H, W)``; images are converted and resized to it.
        root: folder for relative paths (default: the CSV's folder).
        transform: optional callable on each float ``(C, H, W)`` image.

    Attributes:
        pairs: the validated :class:`PathPair` rows.
        same: ``(N,)`` int64 tensor of the pair labels.

    Example:
        >>> ds = PairsCSVDataset("pairs.csv", (3, 64, 64), root="images/")  # doctest: +SKIP
        >>> int(ds.same.sum())  # doctest: +SKIP
        120
    """

    def __init__(
        self,
        csv_path: str | os.PathLike,
        input_shape: Sequence[int],
        root: str | os.PathLike | None = None,
        transform: Transform | None = None,
    ) -> None:
        self._set_pairs(read_pairs_csv(csv_path, root), input_shape, transform)

    @staticmethod
    def _paths(pair: PathPair) -> tuple[Path, Path]:
        return pair.path_a, pair.path_b
