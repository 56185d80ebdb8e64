"""``siamkit text plagiarism``: the spans of a suspect text that match its sources, in a
side-by-side report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from siamkit.atomic import same_file
from siamkit.clauses import counted
from siamkit.cli import _text_common  # _text_common._model: a test can replace it
from siamkit.cli._inputs import PROGRESS, friendly_errors
from siamkit.cli._text_common import (
    _DEVICE,
    _DIM,
    _ID_DEFAULT,
    _INT8_NOTE,
    _JSON,
    _MODEL,
    _ONNX_DIR,
    _TEXT_FIELD,
    _check_dim,
    _device,
    _load,
    _refuse_overwriting,
    _runtime,
    _runtime_option,
    _threshold_option,
    _write_atomic,
    chunk_note,
)

# 0.72: 1 - model.PASSAGE_THRESHOLD (a test checks)
_PLAGIARISM_THRESHOLD = _threshold_option(
    "Cosine similarity at or above which (within float32 rounding) a sentence of SUSPECT "
    "matches a source sentence, or 'auto': the model's calibrated threshold, else "
    "all-MiniLM-L6-v2's sentence default 0.72. "
    "The output and the report say the threshold used and where it came from."
)


@click.command("plagiarism")
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
    from siamkit.applications.text.corpus_folder import text_name
    from siamkit.applications.text.documents import Document, read_document
    from siamkit.applications.text.plagiarism import NEAR_MISS_NOTE, find_plagiarism
    from siamkit.applications.text.report_html import render_report
    from siamkit.applications.text.similarity import at_dim, resolve_threshold
    from siamkit.applications.text.text_checks import is_blank

    if Path(suspect).is_dir():  # a teacher's folder of essays: click said only "is a directory"
        raise click.UsageError(
            f"SUSPECT {suspect} is a folder; the command checks one essay at a time: run it for "
            f'each file, e.g. for f in {suspect.rstrip("/")}/*; do siamkit text plagiarism "$f" '
            f'--corpus {corpus} --out "reports/${{f##*/}}.html"; done'
        )
    # an .html: its words; a name that is not UTF-8 as \xe9 escapes (its surrogates failed the
    # report at the end, after every text was embedded)
    doc = Document(text_name(Path(suspect).name), read_document(suspect), text_name(suspect))
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
    model = _text_common._model(model_path, _device(device, runtime))
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
        f"{doc.id}: {counted(len(report.spans), 'matched span')}; threshold: similarity >= "
        f"{1 - dist:.4f} ({source})"
    )
    for s in report.scores:
        click.echo(
            f"  {s.source}: {s.coverage:.1%} of {doc.id}, mean similarity {s.mean_similarity:.3f}"
        )
    if report.near_misses:  # as the report and --json list them: apart, counted in no score
        click.echo(
            f"{counted(len(report.near_misses), 'near miss', 'near misses')} {NEAR_MISS_NOTE}"
        )
        for m in report.near_misses:
            said = " ".join(doc.text[m.suspect_start : m.suspect_end].split())
            said = said if len(said) <= 80 else f"{said[:77]}..."
            click.echo(f'  {m.source}: similarity {m.similarity:.3f}, "{said}"')
    click.echo(chunk_note(report.chunked, "sentence"), nl=False)  # it embeds sentences
    if out:
        click.echo(f"report -> {out}")
