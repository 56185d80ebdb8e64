"""Shared pieces of the train / evaluate / embed / demo commands: errors, data, tables, files."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

F = TypeVar("F", bound=Callable[..., Any])

DATASET_NAMES = ("fashion-mnist", "digits")


def friendly_errors(fn: F) -> F:
    """Turn a user's mistake (missing file, bad config key, wrong image size) into ``Error: ...``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (FileNotFoundError, ValueError, TypeError, ImportError) as err:
            raise click.ClickException(str(err).strip() or type(err).__name__) from None

    return wrapper  # type: ignore[return-value]


def check_input(net: Any, x: Tensor) -> None:
    """Raise a clear ``ValueError`` if images of this shape / channel count do not fit the model."""
    import torch

    first = x[:1].float() / 255.0 if x.dtype == torch.uint8 else x[:1]
    net.preprocess.check(first)


def parse_classes(text: str | None) -> tuple[int, ...] | None:
    """``"0,1,2"`` -> ``(0, 1, 2)``; ``None`` stays ``None``."""
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of class numbers"
        ) from None
    if not values:
        raise click.BadParameter("give at least one class number, e.g. 0,1,2")
    return values


def load_eval_data(
    data: str,
    model_meta: dict[str, Any],
    classes: tuple[int, ...] | None,
    split: str,
    data_dir: str | None,
    channels: int,
    size: int,
) -> tuple[Tensor, Tensor, tuple[str, ...], tuple[int, ...]]:
    """Images ``(N, C, H, W)`` and labels to evaluate a model on.

    ``data`` is a built-in name or an image folder (one sub-folder per class). For built-in data
    the default classes are those the model did not train on (from its metadata), else 6-9.
    """
    if data not in DATASET_NAMES:
        from siamkit.data.folders import ImageFolderDataset

        folder = Path(data)
        if not folder.exists():
            raise FileNotFoundError(
                f"--data {data}: no such dataset name or folder (names: {', '.join(DATASET_NAMES)})"
            )
        ds = ImageFolderDataset(folder, (channels, size, size))
        x, y = ds.load_all()
        names = tuple(ds.classes)
        chosen = classes or tuple(range(len(names)))
        return *_subset(x, y, chosen), names, chosen
    run = model_meta.get("run", {})
    if classes is None and run.get("dataset") == data and run.get("test_classes"):
        classes = tuple(run["test_classes"])
    if data == "fashion-mnist":
        from siamkit.data.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist

        x, y = load_fashion_mnist(split, root=data_dir)
        x, names = x.unsqueeze(1), FASHION_MNIST_CLASSES
        classes = classes or (6, 7, 8, 9)
    else:
        from siamkit.data.builtin import load_digits_dataset

        x, y = load_digits_dataset()
        names = tuple(str(i) for i in range(10))
        classes = classes or (6, 7, 8, 9)
    bad = [c for c in classes if not 0 <= c < len(names)]
    if bad:
        raise ValueError(f"--classes {bad}: {data} has classes 0..{len(names) - 1}")
    return *_subset(x, y, classes), tuple(names), classes


def _subset(x: Tensor, y: Tensor, classes: Sequence[int]) -> tuple[Tensor, Tensor]:
    import torch

    mask = torch.isin(y, torch.tensor(list(classes), dtype=y.dtype))
    return x[mask], y[mask]


def collect_images(inputs: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Image files named directly or found (recursively, sorted) in folders; label = parent folder."""
    from siamkit.data.folders import IMAGE_EXTENSIONS, find_images

    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += find_images(p)
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {', '.join(inputs)}")
    return paths, [p.parent.name for p in paths]


def write_embeddings(
    path: Path, z: np.ndarray, ids: Sequence[str], labels: Sequence[Any] | None
) -> list[Path]:
    """``.npy``: the ``(N, D)`` float32 matrix plus ``<name>.ids.txt`` (one id per row);
    ``.parquet``: columns ``id``, ``label`` (if known) and ``embedding`` (list of float32)."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, z.astype(np.float32), allow_pickle=False)
        ids_path = path.with_suffix(".ids.txt")
        ids_path.write_text("".join(f"{i}\n" for i in ids))
        return [path, ids_path]
    if suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError(
                "writing .parquet needs pyarrow: pip install pyarrow (or write .npy)"
            ) from None
        cols: dict[str, Any] = {"id": pa.array([str(i) for i in ids])}
        if labels is not None:
            cols["label"] = pa.array([str(v) for v in labels])
        flat = pa.array(z.astype(np.float32).reshape(-1))
        cols["embedding"] = pa.FixedSizeListArray.from_arrays(flat, z.shape[1])
        pq.write_table(pa.table(cols), path)
        return [path]
    raise ValueError(f"--out {path}: write embeddings to a .npy or .parquet file")


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(name, value) of the headline metrics in a ``metrics.json`` dict."""
    fs = metrics.get("few_shot", {})
    ver, ret = metrics.get("verification", {}), metrics.get("retrieval", {})
    rows: list[tuple[str, float | None]] = [
        (f"{k.replace('way', '-way ').replace('shot', '-shot')}", v["accuracy"])
        for k, v in fs.items()
    ]
    rows += [
        ("EER", ver.get("eer")),
        ("ROC AUC", ver.get("roc_auc")),
        ("TAR@FAR=1e-3", ver.get("tar_at_far", {}).get("0.001")),
        ("P@1", ret.get("precision_at_1")),
        ("MAP@R", ret.get("map_at_r")),
    ]
    return rows
