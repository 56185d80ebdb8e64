"""``siamkit text similarity``: score two texts (or two text files) and say whether they are
the same."""

from __future__ import annotations

import json
from pathlib import Path

import click

from siamkit.clauses import counted
from siamkit.cli import _text_common  # _text_common._model: a test can replace it
from siamkit.cli._inputs import friendly_errors
from siamkit.cli._text_common import (
    _DIM,
    _JSON,
    _MODEL,
    _TORCH_DEVICE,
    _check_dim,
    _device,
    _threshold_option,
    chunk_note,
)

_THRESHOLD = _threshold_option(
    "Cosine similarity at or above which (within float32 rounding) texts count as the same, "
    "or 'auto': the model's calibrated threshold, else all-MiniLM-L6-v2's default (the output "
    "says which)."
)


def _text_or_file(value: str, name: str) -> tuple[bool, str]:
    """``(True, its text)`` when ``value`` names an existing file (an .html page: the text it
    shows), said on stderr; else ``(False, value)``. `text similarity a.txt b.txt` compared the
    two file names and answered 'same'. A folder is refused only when written as a path
    (:func:`written_as_a_path`: ``sources/``): a word that merely names a folder here (``.``,
    ``data``) is a text, and refusing it left no way to compare that text."""
    from siamkit.applications.text.documents import read_document, written_as_a_path
    from siamkit.applications.text.text_checks import is_blank

    try:
        maybe_path = "\n" not in value and len(value) < 4096
        is_file = maybe_path and Path(value).is_file()
        is_dir = maybe_path and not is_file and written_as_a_path(value) and Path(value).is_dir()
    except (OSError, ValueError):  # a text too long for a path, or holding a NUL
        is_file = is_dir = False
    if is_dir:  # its name was compared as a text, without a word
        raise click.UsageError(
            f"{name} names the folder {value}; text similarity compares two texts or two text "
            f"files: to compare a folder's texts with each other use `siamkit text dedup "
            f"{value} --out groups.jsonl`, or with one text `siamkit text plagiarism TEXT_FILE "
            f"--corpus {value}`"
        )
    if not is_file:
        return False, value
    if Path(value).suffix.lower() in (".jsonl", ".csv", ".json"):  # many texts, not one
        raise click.UsageError(
            f"{name} names the corpus file {value}, which holds many texts; text similarity "
            "compares two texts or two text files: for a corpus use `siamkit text dedup "
            f"{value} --out groups.jsonl`"
        )
    text = read_document(value)
    if is_blank(text):
        raise click.UsageError(
            f"{name} names the file {value}, which holds no visible character; give a file "
            "with the text to compare, or the text itself"
        )
    size = counted(len(text), "character")  # a one-character file: "(1 character)"
    click.echo(f"{name}: the text of the file {value} ({size})", err=True)
    return True, text


@click.command("similarity")
@click.argument("a")
@click.argument("b")
@_MODEL
@_THRESHOLD
@_DIM
@_TORCH_DEVICE
@_JSON
@friendly_errors
def similarity(
    a: str,
    b: str,
    model_path: str | None,
    threshold: float | None,
    dim: int | None,
    device: str,
    as_json: bool,
) -> None:
    """Score two texts and say whether they are the same at the threshold.

    A and B are texts, or files to compare whole: an argument naming an existing file is read
    (UTF-8; an .html or .htm page as the text it shows), and the line on stderr says so. Two
    files, or files and texts of several sentences each (two pasted tickets), are documents,
    held, as `text dedup` holds them, to the model's calibrated threshold, else
    all-MiniLM-L6-v2's document default 0.88; otherwise (a sentence) the sentence default 0.72
    applies.

    --json: similarity, distance (1 - similarity), min_similarity (the threshold, as
    --threshold takes it) and max_distance (the same threshold as a distance), threshold_source,
    same, chunked and score (on the fine-tuning scores' scale; null without a score map).

    \b
    Example:
      siamkit text similarity "A man is playing guitar." "Someone plays a guitar." --json
    """
    from siamkit.applications.text.similarity import compare_texts, pair_level

    a_file, a = _text_or_file(a, "A")
    b_file, b = _text_or_file(b, "B")
    # two pasted tickets of several sentences each are documents as two files are: at the
    # sentence default, two tickets sharing one sentence's story were 'same' (0.76) though
    # text dedup, and the same texts as files, held them apart (the service's /verify decides
    # with the same pair_level)
    level = pair_level(a, b, (a_file, b_file))
    if level == "document" and not (a_file and b_file):
        click.echo(
            "A and B hold several sentences each: compared as documents, as text dedup "
            "compares them",
            err=True,
        )
    model = _text_common._model(model_path, _device(device))
    _check_dim(model, dim)
    r = compare_texts(model, a, b, threshold, "--threshold", dim=dim, level=level)
    if as_json:
        doc = {
            "similarity": r.similarity,
            "distance": r.distance,
            "min_similarity": 1 - r.threshold,
            "max_distance": r.threshold,
            "threshold_source": r.threshold_source,
            "same": r.same,
            "chunked": r.chunked,
            "score": r.score,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    verdict = "same" if r.same else "different"
    click.echo(
        f"similarity {r.similarity:.4f}: {verdict} (threshold: similarity >= "
        f"{1 - r.threshold:.4f}, {r.threshold_source})"
    )
    if r.score is not None:
        click.echo(f"score {r.score:.4f} (on the fine-tuning scores' scale, the model's score map)")
    click.echo(chunk_note(r.chunked), nl=False)
