"""What ``siamkit text enroll``, ``identify`` and ``verify`` share: their gallery and model
options, the model a gallery recorded, opening a gallery and reading the queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siamkit.cli._inputs import text_model_folder
from siamkit.cli._text_common import _load, _threshold_option

_GALLERY_MODEL = click.option(
    "--model",
    "model_path",
    default=None,
    callback=text_model_folder,
    help="A siamkit text model folder, a local Hugging Face folder, or a named model "
    "(all-MiniLM-L6-v2, all-mpnet-base-v2). Default: the model folder the gallery recorded "
    "(`text enroll --model` records it), else all-MiniLM-L6-v2; a gallery refuses another "
    "model than the one that enrolled it.",
)


def _gallery_model(model_path: str | None, gallery_path: str) -> Any:
    """The model a command on ``gallery_path`` uses
    (:func:`~siamkit.cli.text_identify.gallery_model`: --model, else the folder the gallery
    recorded, else the default), named on stderr when --model was not given and the gallery
    exists; before the model loads.

    A gallery that holds no item and recorded a model folder that no longer exists gets the
    default model, said so, as one that recorded an image model does: it holds nothing that
    the missing model made (a gallery that holds no item takes any model), where
    ``gallery_model`` refused it as another model's gallery."""
    from siamkit.cli._model_record import empty_with_gone_model
    from siamkit.cli.text_identify import DEFAULT_MODEL_NAME, GalleryModel, gallery_model

    gone = None if model_path is not None else empty_with_gone_model(gallery_path)
    if gone is not None:
        used = GalleryModel(
            None,
            "default",
            f"model: {DEFAULT_MODEL_NAME}, the default ({gallery_path} holds no item of the "
            f"model {gone} it recorded, which no longer exists)",
        )
    else:
        used = gallery_model(model_path, gallery_path)
    if used.note is not None:
        click.echo(used.note, err=True)
    return used


def _open_gallery(gallery_path: str, model: Any, model_path: str | None, **kw: Any) -> Any:
    """The existing gallery at ``gallery_path`` opened for ``model`` (``model_path``: --model,
    None for the default; ``kw``: more of ``Gallery.open``'s arguments, e.g. ``threshold``). A
    gallery of images is refused naming the command that searches it
    (:func:`~siamkit.cli.text_identify.image_gallery_refusal`); another model's refusal names
    the model folder the gallery recorded (enroll --model records it:
    :func:`~siamkit.cli._model_record.other_models_refusal`), or that it recorded none, where
    the gallery's own sentence said only 'Use the original model'."""
    from siamkit.cli._model_record import other_models_refusal
    from siamkit.cli.text_identify import image_gallery_refusal
    from siamkit.encoders.text import default_text_model_path
    from siamkit.index import Gallery
    from siamkit.index.results import GalleryMismatchError

    try:
        return Gallery.open(gallery_path, model, create=False, **kw)
    except GalleryMismatchError:
        images = image_gallery_refusal(gallery_path)
        if images is not None:
            raise images from None
        used = model_path or str(default_text_model_path())
        given = model_path or "the default all-MiniLM-L6-v2 (no --model)"
        use_it = "pass --model {recorded}, or enroll into a new gallery file"
        refusal = other_models_refusal(gallery_path, given, used, use_it, things="texts")
        if refusal is not None:
            raise refusal from None
        how = (
            "leave out --model if it was enrolled without one, else"
            if model_path is not None
            else "it was enrolled from Python or an older siamkit:"
        )
        raise GalleryMismatchError(
            f"{gallery_path} was enrolled with another model than {given} and records no "
            f"model folder ({how} pass the model that enrolled it with --model), or enroll "
            "into a new gallery file."
        ) from None


_GALLERY_IN = click.option(
    "--gallery",
    "gallery_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Gallery file (SQLite) that `siamkit text enroll` filled, e.g. tickets.db.",
)
_GALLERY_THRESHOLD = _threshold_option(
    "Cosine similarity at or above which (within float32 rounding) a query is taken to be an "
    "enrolled label, or 'auto': the model's calibrated threshold, else all-MiniLM-L6-v2's "
    "sentence default, as `siamkit text similarity` and `siamkit serve` decide (the output "
    "says which)."
)


def _gallery_threshold(model: Any, threshold: float | None) -> tuple[float, str]:
    """The distance threshold of ``--threshold`` (``None``: auto) and where it comes from."""
    from siamkit.applications.text.similarity import resolve_threshold

    return resolve_threshold(model, threshold, threshold_option="--threshold")


def _queries(queries: tuple[str, ...], query_file: str | None, *fields: Any) -> list[Any]:
    """The queries: the QUERY arguments, or the texts of --file (read as `text enroll` reads
    its CORPUS; ``fields``: --text-field, --id-field). Exactly one of the two is given."""
    from siamkit.cli.text_identify import command_line_queries

    if bool(queries) == (query_file is not None):
        raise click.UsageError(
            "give the queries as QUERY arguments or with --file F, not both"
            if queries
            else "give a QUERY text, or --file F: a .jsonl or .csv (a query per line or row), a "
            "folder of text files (a query per file) or a text file (one query)"
        )
    if query_file is None:
        return command_line_queries(queries)
    path = Path(query_file)
    if path.is_file() and path.suffix.lower() not in (".jsonl", ".csv"):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if sum(1 for ln in lines if ln.strip()) > 1:
            click.echo(
                f"note: {query_file} is read as one query, whatever its lines (a file other "
                "than .jsonl or .csv is one text, as `text enroll` reads it); for one query "
                "per line give a .jsonl or .csv",
                err=True,
            )
    return list(_load(query_file, *fields, unique_ids=False).docs)
