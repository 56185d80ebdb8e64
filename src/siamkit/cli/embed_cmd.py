"""``siamkit embed``: a thin shell over the library's encoding of images with a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from siamkit.clauses import counted
from siamkit.cli._enroll import checked_chunk
from siamkit.cli._eval_data import load_eval_data
from siamkit.cli._image_files import (
    ImageFiles,
    check_embeddings_out,
    collect_images,
    embedding_files,
    open_image_files,
    write_embeddings,
)
from siamkit.cli._image_model import DEVICE, load_siamese
from siamkit.cli._inputs import (
    PROGRESS,
    check_input,
    friendly_errors,
    given_on_command_line,
    model_image_shape,
    refuse_existing,
)
from siamkit.progress import progress_off

if TYPE_CHECKING:
    import numpy as np


@click.command("embed")
@click.argument("model", type=click.Path())
@click.argument("inputs", nargs=-1)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file: .npy or .parquet.",
)
@click.option(
    "--data",
    type=click.Choice(["fashion-mnist", "digits"]),
    help="Embed a built-in dataset instead of INPUTS.",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split of --data fashion-mnist (refused for digits, which have one set of images, and "
    "for INPUTS).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Images per forward pass.",
)
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace OUT (and its row ids, z.ids.txt for z.npy) if it exists (--overwrite is the "
    "same).",
)
@DEVICE
@PROGRESS
@friendly_errors
def embed(
    model: str,
    inputs: tuple[str, ...],
    out: str,
    data: str | None,
    split: str,
    batch_size: int,
    force: bool,
    device: str,
) -> None:
    """Embed images with MODEL and save the (N, D) embeddings to OUT (.npy or .parquet).

    INPUTS are image files or folders (searched recursively; an image's label is its folder
    name); a file named again (photos/** names it through its folders too) gives one row.
    .npy writes the float32 matrix plus the file naming each row (z.npy: z.ids.txt, one id a
    line); .parquet writes columns id, label and embedding. An existing OUT is only replaced
    with --force.

    \b
    Examples:
      siamkit embed runs/shoes/model img1.png img2.png --out z.npy
      siamkit embed runs/shoes/model photos/ --out z.parquet
      siamkit embed runs/shoes/model --data fashion-mnist --split test --out z.npy
    """
    from siamkit.encode import encode
    from siamkit.training.ddp import resolve_device

    if data and inputs:
        raise click.UsageError(
            f"give image files / folders or --data {data}, not both ({inputs[0]} would be ignored)"
        )
    if (
        given_on_command_line(click.get_current_context(), "split")
        and data != "fashion-mnist"
        and (data or inputs)
    ):
        what = "--data digits has one set of images" if data else "image files / folders have none"
        raise click.UsageError(
            f"--split picks a split of --data fashion-mnist, and {what}: leave --split out"
        )
    check_embeddings_out(Path(out))  # before any work: embedding many images takes minutes
    refuse_existing(embedding_files(Path(out)), force, "or choose another --out")
    dev = resolve_device(device)
    net = load_siamese(model, dev, "embed")
    shape = model_image_shape(net, model)
    if data:
        from siamkit.export.bundle import read_model_config

        meta = read_model_config(model).get("metadata", {})  # names its own data on a misfit
        ev = load_eval_data(data, meta, [str(c) for c in range(10)], split, None, shape)
        x, label_list = ev.x, [ev.names[int(c)] for c in ev.y]
        ids = [f"{data}:{split}:{i}" for i in range(len(label_list))]
        check_input(net, x)
        z = encode(net, x, batch_size, dev).numpy()
        # a NaN refused by its image's id, before anything is written
        z = checked_chunk([], z, [repr(i) for i in ids], False, _nothing_written(out), NO_USE)
    elif inputs:
        paths, label_list = collect_images(inputs, once=True)  # photos/** names files again
        files, ids = open_image_files(paths, shape), [str(p) for p in paths]
        z = _embed_files(net, files, batch_size, dev, _nothing_written(out))
    else:
        raise click.UsageError("give image files / folders, or --data NAME")
    written = write_embeddings(Path(out), z, ids, label_list)
    files_written = ", ".join(map(str, written))
    click.echo(f"embedded {counted(z.shape[0], 'image')} -> {z.shape[1]}-d; wrote {files_written}")


NO_USE = "nothing can rank or compare"
"""What NaN embeddings cannot be used for, in ``embed``'s refusal: it runs no search, so not the
gallery's "which no search can rank" (s57_FB Q5)."""


def _nothing_written(out: str) -> str:
    """What ends the refusal of NaN embeddings: no file was written (nor an earlier one
    replaced)."""
    return f"; nothing was written to {out}"


def _embed_files(
    net: Any, files: ImageFiles, batch_size: int, dev: Any, then: str = ""
) -> np.ndarray:
    """``(N, D)`` embeddings of image files, read and embedded a batch at a time (the
    pixels of one chunk in memory, not of every file), with one count of the images.

    Embeddings that hold NaN or infinite values are refused at the first chunk that holds one,
    by the files they were made of, counted against the images embedded so far and all of them
    (:func:`~siamkit.cli._enroll.checked_chunk`, as ``siamkit enroll`` refuses them); ``then``
    ends the sentence. They were written to OUT, with exit 0."""
    import numpy as np

    from siamkit.encode import encode
    from siamkit.progress import track

    n, chunk = len(files), batch_size
    names = [repr(str(p)) for p in files.paths]
    parts: list[np.ndarray] = []
    weight = lambda s: min(chunk, n - s)  # noqa: E731
    for start in track(range(0, n, chunk), "embedding", n, "images", weight):
        x = files[start : start + chunk]
        check_input(net, x)
        with progress_off():  # the chunk's batches are counted as its images
            z = encode(net, x, batch_size, dev).numpy()
        parts.append(checked_chunk(parts, z, names, False, then, NO_USE))
    return np.concatenate(parts)


COMMANDS = [embed]
__all__ = ["COMMANDS", "embed"]
