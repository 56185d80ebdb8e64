"""``siamkit text enroll / identify / verify``: a gallery of texts, and queries against it."""

from __future__ import annotations

import contextlib
import json

import click

from siamkit.clauses import counted
from siamkit.cli import _text_common  # _text_common._model: a test can replace it
from siamkit.cli._inputs import PROGRESS, OnceOption, store_errors
from siamkit.cli._text_common import (
    _BATCH_SIZE,
    _DEVICE,
    _ID_DEFAULT,
    _INT8_NOTE,
    _JSON,
    _ONNX_DIR,
    _TEXT_FIELD,
    _device,
    _load,
    _refuse_overwriting,
    _runtime,
    _runtime_option,
    chunk_note,
)
from siamkit.cli._text_gallery import (
    _GALLERY_IN,
    _GALLERY_MODEL,
    _GALLERY_THRESHOLD,
    _gallery_model,
    _gallery_threshold,
    _open_gallery,
    _queries,
)


@click.command("enroll")
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
    kept beside the gallery so the service can show what matched, and where it came from (its
    source, which `text identify` and the service's /identify show): its file (a text file as
    given, a folder's file under the folder as given), or FILE:LINE for a .jsonl or .csv record
    (the line it starts on; a CSV's header is line 1). A text its label already
    holds (enrolled before, or given twice) is skipped, so enrolling a corpus again adds only
    what is new, and embeds only that (and texts over 1,000 characters, told by their
    embedding). Every id is checked as a label before the gallery is created; a missing
    --gallery folder is created. Stopped (Ctrl-C, SIGTERM, an error), it keeps the labels
    already stored, each whole; a gallery file it created is removed again when no label was
    stored in it yet.

    \b
    Example:
      siamkit text enroll tickets.jsonl --gallery tickets.db --model runs/tickets/model
    """
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.gallery import (
        EnrolledTexts,
        check_labels,
        document_sources,
        enroll_documents,
        known_texts,
    )
    from siamkit.cli._new_gallery import new_gallery_removed_if_unused
    from siamkit.index import Gallery

    loaded = _load(corpus, text_field, id_field, unique_ids=False)
    docs = loaded.docs
    check_labels(docs)  # before any gallery file is made
    # each item keeps where its text came from (a file, or path:line of a JSONL/CSV), so that
    # a match in identify can be traced back to its ticket, as siamkit enroll keeps image paths
    sources = document_sources(corpus, docs)
    _refuse_overwriting(gallery_path, "--gallery", loaded.files)
    used = _gallery_model(model_path, gallery_path)  # an existing gallery's recorded model
    model_path = used.path
    model = _text_common._model(model_path, _device(device, runtime))
    onnx = _runtime(model, model_path, runtime, onnx_dir)
    from siamkit.index.store import existing_store_problem

    existed = existing_store_problem(gallery_path) is None  # a 0-byte file (touch) counts as new
    # an existing gallery is opened first (another model's is refused before embedding); a new
    # one is created only once the texts are embedded, so a failure leaves no file behind, and
    # one stopped before its first label was stored is removed again (the gallery closed first)
    with contextlib.ExitStack() as stack:
        stack.enter_context(new_gallery_removed_if_unused(gallery_path))
        gallery = (
            stack.enter_context(_open_gallery(gallery_path, model, model_path)) if existed else None
        )
        # a text its label holds already is not embedded again (enroll_documents would skip it)
        known = known_texts(gallery, gallery_path, docs)
        new = [d for d, k in zip(docs, known) if not k]
        new_sources = [s for s, k in zip(sources, known) if not k]
        if len(new) < len(docs):
            rest = f"embedding the other {len(new):,}" if new else "nothing to embed"
            repeat = "repeats a text its" if len(docs) - len(new) == 1 else "repeat a text their"
            click.echo(
                f"{len(docs) - len(new):,} of {counted(len(docs), 'text')} {repeat} label already "
                f"holds (enrolled before, or given earlier): {rest}",
                err=True,
            )
        emb = (
            embed_texts(  # a half-twin's passages go through its document tower
                model if onnx is None else onnx,
                [d.text for d in new],
                role="document",
                batch_size=batch_size,
                # a NaN refused by where the text is (a file, path:line): not every text is new,
                # and an id is a label that several texts share (s55_R2 finding 3)
                names=[repr(s) for s in new_sources],
            )
            if new
            else None
        )
        if gallery is None:  # (its folder too, if missing)
            gallery = stack.enter_context(Gallery.open(gallery_path, model, create=True))
        done = (
            enroll_documents(gallery, gallery_path, new, emb.vectors, new_sources)
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
        f"enrolled {counted(enrolled, 'text')} under {counted(len(done.ids), 'label')} into "
        f"{gallery_path} (now {counted(total, 'item')})"
    )
    if skipped:
        click.echo(
            f"skipped {counted(skipped, 'text')} already enrolled under the same label with the "
            "same text"
        )
    click.echo(chunk_note(chunked), nl=False)


@click.command("identify")
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
    tower's embeddings. Each match shows its similarity, its distance (1 - similarity), the
    start of the matched text (enroll keeps each text's first 1,000 characters beside the
    gallery) and where it was enrolled from (its file, or FILE:LINE of a .jsonl or .csv; not
    shown for a gallery enrolled before siamkit kept it). A query whose best match is below
    the threshold is unknown.

    --json: per query its id (a file's id, else 1, 2, ...), the query, label (null: unknown)
    and matches (label, similarity, distance, item_id, accepted, text, source: null when
    unknown); min_similarity, max_distance, threshold_source, model (its folder, or
    all-MiniLM-L6-v2), model_source (--model, gallery or default) and runtime.

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
    model = _text_common._model(used.path, _device(device, runtime))
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


@click.command("verify")
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

    text_ = command_line_queries((query,), file_option=False)[0].text
    check_gallery_file(gallery_path, model_path)  # before the model loads
    used = _gallery_model(model_path, gallery_path)
    model = _text_common._model(used.path, _device(device, runtime))
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
