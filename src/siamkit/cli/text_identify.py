"""What ``siamkit text identify`` and ``siamkit text verify`` do on a gallery of texts that
``siamkit text enroll`` filled: read the queries, say why a gallery cannot be used, embed the
queries as the service's ``/identify`` and ``/verify`` do, and shape the answer.

The commands themselves (options, help) are in :mod:`siamkit.cli.text_gallery_cmds`; the search is
:class:`siamkit.index.Gallery`'s, the matched texts' first characters the previews that
:func:`~siamkit.applications.text.gallery.enroll_documents` keeps beside the gallery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siamkit.applications.text.documents import Document
from siamkit.applications.text.text_checks import check_texts
from siamkit.cli._model_kind import TEXT_KIND, model_kind
from siamkit.index import IdentifyResult, VerifyResult

SNIPPET_CHARS = 80
"""How much of a matched text the plain output shows on its line (--json gives the stored
preview whole, up to 1,000 characters)."""

_NEW_GALLERY = (
    "enroll your texts into a new gallery file with `siamkit text enroll CORPUS --gallery NEW.db`"
)
_PNG = b"\x89PNG\r\n\x1a\n"


def command_line_queries(queries: tuple[str, ...], file_option: bool = True) -> list[Document]:
    """The QUERY arguments as documents ``1``, ``2``, ...; a blank one, or one written as a path
    to an existing file or folder, is refused, naming it (``QUERY``, or ``QUERY 2`` of several),
    before any model loads. ``file_option``: the command reads a file's texts with ``--file`` (text
    identify; text verify takes a text only)."""
    names = ["QUERY"] if len(queries) == 1 else [f"QUERY {i + 1}" for i in range(len(queries))]
    check_texts(list(queries), names=names)
    for q, n in zip(queries, names):
        _refuse_a_path(q, n, file_option)
    return [Document(str(i + 1), q, n) for i, (q, n) in enumerate(zip(queries, names))]


def _refuse_a_path(query: str, name: str, file_option: bool) -> None:
    """A QUERY written as a path (:func:`written_as_a_path`: ``new_ticket.txt``, ``tickets/``)
    that names an existing file or folder was identified (or verified) as the text of its name,
    matched nothing and said 'unknown'; identify's --file reads a file's or a folder's texts, and
    verify takes the file's text. A plain word that also names something here (``.``, ``data``)
    is a text: refusing it left no way to give that text."""
    import click

    from siamkit.applications.text.documents import written_as_a_path

    try:
        if len(query) >= 4096 or not written_as_a_path(query) or not Path(query).exists():
            return
        kind = "folder" if Path(query).is_dir() else "file"
    except (OSError, ValueError):  # a text too long for a path, or holding a NUL
        return
    if file_option:
        fix = f"to identify the {kind}'s {'texts' if kind == 'folder' else 'text'}, give --file {query}"
    elif kind == "file":
        fix = f'give the file\'s text, e.g. "$(cat {query})"'
    else:
        fix = f'give the text of one of its files, e.g. "$(cat {Path(query) / "FILE"})"'
    raise click.UsageError(f"{name} names the {kind} {query}, and a QUERY is a text: {fix}")


def check_gallery_file(gallery_path: str, model_path: str | None) -> None:
    """Refuse a --gallery that is no gallery yet (nothing there, or a 0-byte file), saying how
    to fill one, before the model loads; nothing is created."""
    from siamkit.index.store import existing_store_problem

    problem = existing_store_problem(gallery_path)
    if problem is None:
        return
    if model_path:
        _refuse_another_kind(model_path)  # not advice that `text enroll` refuses
    model = f" --model {model_path}" if model_path else ""
    what = f"no gallery at {gallery_path}" if problem == "missing" else (
        f"{gallery_path} is an empty file, not a gallery"
    )  # fmt: skip
    raise FileNotFoundError(
        f"{what}: enroll texts into it first with `siamkit text enroll CORPUS --gallery "
        f"{gallery_path}{model}`"
    )


def _refuse_another_kind(model_path: str) -> None:
    """Refuse a --model folder whose siamkit.json records a model that is not a text model (an
    image model, a tracker, a generic class over the 'text' encoder) with the sentence ``text
    enroll`` refuses it with: :func:`~siamkit.applications.text.model.load_text_model`'s
    ``NotATextModelError``, raised from siamkit.json alone, before the weights are read or any
    plug-in imported. With no gallery yet, ``text identify``/``text verify`` told its user to
    enroll with it first, which ``text enroll`` then refused (s57_FB Q5 for a generic model; an
    image model the same way).

    A folder without siamkit.json is checked as ``load_text_model`` checks it before it reads
    any weights: an ONNX export given as the model (``refuse_an_onnx_export``), then
    ``check_model_folder`` (an empty folder, one missing its tokenizer or weights); the advice
    to ``text enroll --model`` such a folder was refused by that command (s58 FB Q2)."""
    from siamkit.applications.text.model import (
        TextSiameseNetwork,
        load_text_model,
        refuse_an_onnx_export,
    )
    from siamkit.encoders.text import check_model_folder
    from siamkit.export.bundle import read_model_config
    from siamkit.models import model_class

    folder = Path(model_path)
    if folder.is_dir() and not (folder / "siamkit.json").is_file():
        refuse_an_onnx_export(folder)
        check_model_folder(model_path)
        return
    try:
        cls = model_class(read_model_config(model_path)["model"]["kind"])
    except (OSError, ValueError, ImportError, AttributeError, KeyError, TypeError):
        return  # not a siamkit bundle (or a plug-in kind): its own load says what is wrong
    if isinstance(cls, type) and not issubclass(cls, TextSiameseNetwork):
        load_text_model(model_path)  # refuses it, as load_model(expect=) does, by its kind


DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
"""How the output names the default text model (no --model, nothing recorded)."""

_USE_GONE = (
    "leave out --model, or pass --model with the folder that model is in now, or enroll into a "
    "new gallery file"
)
"""How to use a recorded model folder that no longer exists, in its refusal
(:func:`~siamkit.cli._model_record.other_models_refusal` puts 'restore that folder and' first)."""


@dataclass(frozen=True)
class GalleryModel:
    """The text model a command on a gallery uses: ``path`` (``None``: the default model) and
    where it comes from, ``source``: ``"--model"``, ``"gallery"`` (the folder the gallery
    recorded when ``text enroll --model`` filled it) or ``"default"``. ``note``: the stderr line
    that names it when --model was not given and the gallery exists, else ``None``."""

    path: str | None
    source: str
    note: str | None = None

    @property
    def name(self) -> str:
        """The model as the output names it: its folder, or the default model's name."""
        return self.path if self.path is not None else DEFAULT_MODEL_NAME


def gallery_model(model_path: str | None, gallery_path: str) -> GalleryModel:
    """``--model`` if given (the gallery still checks it), else the model folder the existing
    gallery at ``gallery_path`` recorded, else the default model, as the face and signature
    commands default to theirs; said before any model loads.

    A recorded folder that no longer exists is refused, naming it and what to pass; a gallery of
    images (which recorded an image model) is refused naming the command that searches it,
    unless it holds no item: one that holds none takes any model (the default here), as it
    takes any image model."""
    from siamkit.cli._model_record import holds_items, recorded_model
    from siamkit.index.gallery import recorded_model_path
    from siamkit.index.store import existing_store_problem

    if model_path is not None:
        return GalleryModel(model_path, "--model")
    if existing_store_problem(gallery_path) is not None:  # a new gallery: nothing recorded
        return GalleryModel(None, "default")
    images = image_gallery_refusal(gallery_path)
    if images is not None and holds_items(gallery_path):
        raise images
    if images is not None:  # left by a first enroll killed before its commit, or emptied
        recorded = recorded_model_path(gallery_path)
        why = (  # every label removed: that model enrolled, but nothing of it is left
            f" of the image model {recorded} it recorded"
            if recorded
            else " and records no model folder"
        )
        return GalleryModel(
            None,
            "default",
            f"model: {DEFAULT_MODEL_NAME}, the default ({gallery_path} holds no item{why})",
        )
    folder, _ = recorded_model(
        None, gallery_path, "", "gallery", refuse_gone=("texts", _USE_GONE)
    )  # "" when nothing is recorded
    if folder:
        return GalleryModel(
            folder, "gallery", f"model: {folder} (recorded in {gallery_path} by text enroll)"
        )
    return GalleryModel(
        None,
        "default",
        f"model: {DEFAULT_MODEL_NAME}, the default ({gallery_path} records no model folder)",
    )


def image_gallery_refusal(gallery_path: str) -> ValueError | None:
    """The refusal of a gallery of images (which a text model's fingerprint never matches),
    naming the command that searches it; ``None`` when nothing says it holds images.

    It holds images when the model folder it recorded (``siamkit enroll MODEL`` records it) is a
    siamkit model of another kind than a text model, or when its side file keeps PNG
    thumbnails (an image model's ``siamkit serve`` keeps them where a text gallery keeps its
    texts' first characters)."""
    from siamkit.index.gallery import recorded_model_path

    recorded = recorded_model_path(gallery_path)
    kind = model_kind(recorded)
    if kind is not None and kind != TEXT_KIND:
        return ValueError(
            f"{gallery_path} holds images enrolled with the image model {recorded}, not texts: "
            f"search it with `siamkit identify {recorded} --gallery {gallery_path} IMAGE` "
            f"(faces: `siamkit face identify`), or {_NEW_GALLERY}."
        )
    if recorded is None and _keeps_thumbnails(gallery_path):
        return ValueError(
            f"{gallery_path} holds images (enrolled through `siamkit serve` with an image "
            f"model), not texts: search it with `siamkit identify MODEL --gallery {gallery_path} "
            f"IMAGE` or that service, or {_NEW_GALLERY}."
        )
    return None


def holds_texts(gallery_path: str) -> bool:
    """Whether the gallery at ``gallery_path`` holds texts (``siamkit text enroll`` filled it):
    the model folder it recorded is a text model (a siamkit one of kind ``text``, or a Hugging
    Face folder, which has no ``siamkit.json``), or, with that folder gone, its side file keeps
    texts' first characters where an image gallery keeps PNG thumbnails."""
    from siamkit.index.gallery import recorded_model_path
    from siamkit.index.thumbnail_store import thumbnails_path_for

    recorded = recorded_model_path(gallery_path)
    if recorded is not None and Path(recorded).is_dir():
        return model_kind(recorded) in (None, TEXT_KIND)
    side = Path(thumbnails_path_for(gallery_path))
    return side.is_file() and _first_thumbnail(gallery_path) not in (None, _PNG)


def _keeps_thumbnails(gallery_path: str) -> bool:
    """Whether the gallery's side file exists and its first entry is a PNG image."""
    return _first_thumbnail(gallery_path) == _PNG


def _first_thumbnail(gallery_path: str) -> bytes | None:
    """The first bytes (as many as :data:`_PNG` has) of the first entry of the gallery's side
    file; ``None`` without a side file, an entry, or a readable one (only read)."""
    import sqlite3

    from siamkit.index.thumbnail_store import reading_connection, thumbnails_path_for

    side = Path(thumbnails_path_for(gallery_path))
    if not side.is_file():
        return None
    try:
        conn = reading_connection(side)  # leaves no -shm/-wal beside it
        try:
            row = conn.execute("SELECT png FROM thumbnails ORDER BY item_id LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return None if row is None else bytes(row[0])[: len(_PNG)]


def stored_texts(gallery_path: str, item_ids: list[int]) -> dict[int, str]:
    """The first characters that ``siamkit text enroll`` (or the service) kept of each item of
    ``item_ids``; items without one (enrolled through the library) are left out. The side file
    is only read: a gallery without one gets none, not a new file."""
    from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

    side = thumbnails_path_for(gallery_path)
    if not item_ids or not Path(side).is_file():
        return {}
    store = ThumbnailStore(side)
    try:
        found = store.get(item_ids)
    finally:
        store.close()
    return {i: b.decode("utf-8", "replace") for i, b in found.items()}


@dataclass(frozen=True)
class Identified:
    """What :func:`identify_texts` found: one result per query, the matched items' stored
    texts, how many queries were longer than the model's window (embedded as windows), and
    where the matched items came from (``sources``: :meth:`~siamkit.index.Gallery.sources`,
    none for an item enrolled without one or a gallery from before they were kept)."""

    results: list[IdentifyResult]
    texts: dict[int, str]
    chunked: int
    sources: dict[int, str] = field(default_factory=dict)


def embed_queries(model: Any, texts: list[str], batch_size: int = 64, **refusal: Any) -> Any:
    """``texts`` embedded as the service's ``/identify`` and ``/verify`` embed a query: with the
    query tower of a half-twin (a gallery holds its document tower's embeddings), in batches
    with progress (:func:`~siamkit.applications.text.embedding.embed_texts`). ``model``: the
    text model, or its ONNX runtime (``--runtime onnx``: the export's query graph,
    ``text.onnx``, as ``text enroll --runtime`` embeds with its document graph). ``refusal``:
    ``unit``, ``names`` and ``which`` of embed_texts' NaN refusal (by default the rows, which
    no search can rank)."""
    from siamkit.applications.text.embedding import embed_texts

    return embed_texts(
        model, texts, role="query", batch_size=batch_size, desc="embedding the queries", **refusal
    )


def identify_texts(
    gallery: Any,
    gallery_path: str,
    model: Any,
    texts: list[str],
    k: int,
    batch_size: int = 64,
    runtime: Any = None,
) -> Identified:
    """The ``k`` nearest labels of each of ``texts`` in the open ``gallery`` (at its threshold),
    with the matched items' stored texts and sources; embedded by ``runtime`` (an ONNX runtime of
    ``model``'s export) if given, else by ``model``."""
    embedded = embed_queries(model if runtime is None else runtime, texts, batch_size)
    results = gallery.identify_embeddings(embedded.vectors, k=k)
    ids = sorted({m.item_id for r in results for m in r.matches})
    texts_ = stored_texts(gallery_path, ids)
    return Identified(results, texts_, embedded.chunked, gallery.sources(ids))


def verify_text(
    gallery: Any, model: Any, text: str, label: str, runtime: Any = None
) -> tuple[VerifyResult, int]:
    """Is ``text`` the enrolled ``label`` (its closest item, at the gallery's threshold)? And
    whether ``text`` was longer than the model's window. ``runtime`` as :func:`identify_texts`'s.
    A NaN embedding is refused as QUERY's, which no verdict can be given on (it said "the texts
    (rows 0), which no search can rank", s57_FB Q3), as ``text similarity`` names A and B."""
    from siamkit.clauses import NO_VERDICT

    model_ = model if runtime is None else runtime
    embedded = embed_queries(model_, [text], unit="text", names=["QUERY"], which=NO_VERDICT)
    return gallery.verify_embedding(embedded.vectors, label), embedded.chunked


def snippet(text: str | None, chars: int = SNIPPET_CHARS) -> str:
    """``text`` on one line (its whitespace runs as one space), cut to ``chars`` characters."""
    if text is None:
        return "(no stored text)"
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "\u2026"


def identify_doc(
    queries: list[Document], found: Identified, threshold: float, source: str, k: int
) -> dict[str, Any]:
    """The ``--json`` answer of ``text identify``: per query its best accepted label (``null``:
    unknown) and its ``k`` nearest labels, best first, each with similarity, distance, the
    matched item's stored text and its source (where ``text enroll`` read it: a file, or
    ``path:line`` of a JSONL/CSV record; ``None`` when the gallery does not know)."""
    return {
        "k": k,
        "min_similarity": 1 - threshold,
        "max_distance": threshold,
        "threshold_source": source,
        "chunked_texts": found.chunked,
        "queries": [
            {
                "id": q.id,
                "query": q.text,
                "label": r.label,
                "unknown": r.label is None,
                "matches": [
                    {
                        "label": m.label,
                        "similarity": 1 - m.distance,
                        "distance": m.distance,
                        "item_id": m.item_id,
                        "accepted": m.accepted,
                        "text": found.texts.get(m.item_id),
                        "source": found.sources.get(m.item_id),
                    }
                    for m in r.matches
                ],
            }
            for q, r in zip(queries, found.results)
        ],
    }


def identify_lines(doc: dict[str, Any], from_file: bool) -> list[str]:
    """The plain answer of ``text identify`` (``doc``: :func:`identify_doc`'s): a line per
    query (its id from a file, else its text), then a line per match (ending in where its
    text came from, when the gallery knows)."""
    from siamkit.cli.gallery_cmds import source_note

    lines = []
    for q in doc["queries"]:
        name = q["id"] if from_file else f'"{snippet(q["query"], 60)}"'
        lines.append(f"{name}: {q['label'] if q['label'] is not None else 'unknown'}")
        for m in q["matches"]:
            flag = "accepted" if m["accepted"] else "rejected"
            lines.append(
                f"  {m['label']:<16} similarity {m['similarity']:.4f}  distance "
                f"{m['distance']:.4f}  {flag}  {snippet(m['text'])}{source_note(m['source'])}"
            )
    lines.append(
        f"threshold: similarity >= {doc['min_similarity']:.4f} ({doc['threshold_source']})"
    )
    return lines
