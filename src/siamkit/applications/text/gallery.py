"""Texts in a gallery: enroll a corpus under its ids and keep each text's first characters.

A gallery stores embeddings; what a match *says* lives in the gallery's side file
(``tickets.db.thumbs``, where an image gallery keeps thumbnails), as the UTF-8 bytes of the
text's first :data:`TEXT_PREVIEW_CHARS` characters, so the service's ``/identify`` can show the
matched text. :meth:`siamkit.index.Gallery.remove` deletes them with the label.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamkit.applications.text.documents import CORPUS_SUFFIXES, Document
from siamkit.index import EnrolledIds, Gallery
from siamkit.index.store import validate_label
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

TEXT_PREVIEW_CHARS = 1000


def text_preview(text: str) -> bytes:
    """The first :data:`TEXT_PREVIEW_CHARS` characters of ``text`` (an ellipsis marks a cut), UTF-8."""
    cut = text if len(text) <= TEXT_PREVIEW_CHARS else text[: TEXT_PREVIEW_CHARS - 1] + "\u2026"
    return cut.encode("utf-8")


# a text of more than TEXT_PREVIEW_CHARS characters counts as already enrolled when its preview
# matches and its embedding is this close (the same text embedded again by the same runtime)
SAME_TEXT_COSINE = 0.9999


@dataclass(frozen=True)
class EnrolledTexts:
    """What :func:`enroll_documents` did: ``ids``: each label's new item ids; ``skipped``: the
    documents not enrolled because their label already holds the same text (from an earlier
    enrollment, or earlier in the same corpus)."""

    ids: dict[str, list[int]]
    skipped: list[Document]


def check_labels(docs: Sequence[Document]) -> None:
    """Refuse, naming the document, an id that cannot be a gallery label (empty, over 256
    characters, invisible characters, surrounding spaces): before any gallery file is made."""
    for k, d in enumerate(docs):
        try:
            validate_label(d.id)
        except (TypeError, ValueError) as err:
            shown = d.id if len(d.id) <= 40 else d.id[:37] + "..."
            raise ValueError(
                f"{d.where or f'document {k}'}: the id {shown!r} cannot be a gallery label ({err})"
            ) from None


def document_sources(corpus: str | Path, docs: Sequence[Document]) -> list[str]:
    """Where each of ``docs`` (read from ``corpus`` by
    :func:`~siamkit.applications.text.corpus.load_corpus`) came from, as the gallery keeps it
    (an item's ``source``, :meth:`siamkit.index.Gallery.sources`): ``path:line`` for a record of
    a ``.jsonl`` or ``.csv`` (the line of the file it starts on, a CSV's header being line 1), the
    file for a folder's document or a single text file. Paths are as given, under the folder
    given, as ``siamkit enroll`` keeps an image's.

    >>> document_sources("tickets.jsonl", [Document("T-1", "toner", "tickets.jsonl line 3")])
    ['tickets.jsonl:3']
    """
    path = Path(corpus)
    if path.suffix.lower() not in CORPUS_SUFFIXES or path.is_dir():
        return [d.where or str(path) for d in docs]  # a folder's file, or the file itself
    out = []
    for d in docs:
        line = d.where.removeprefix(f"{path} line ")
        if line == d.where or not line.isdigit():
            raise ValueError(f"{d.where or d.id!r} does not say which line of {path} it is on")
        out.append(f"{path}:{line}")
    return out


def _enrolled(
    previews: ThumbnailStore, ids: np.ndarray, embeddings: np.ndarray
) -> list[tuple[bytes, np.ndarray]]:
    """``(preview, embedding)`` of each of a label's stored items (``ids``, ``embeddings``)
    that has a preview."""
    found = previews.get([int(i) for i in ids]) if len(ids) else {}
    return [(found[int(i)], z) for i, z in zip(ids, embeddings) if int(i) in found]


def known_texts(
    gallery: Gallery | None, previews: str | Path | ThumbnailStore, docs: Sequence[Document]
) -> list[bool]:
    """Which ``docs`` :func:`enroll_documents` would skip as the same text without reading their
    embedding, so need none: a text of at most :data:`TEXT_PREVIEW_CHARS` characters whose
    label already holds it (an item's preview equal to it) or that an earlier document of the
    same label gives. A longer text is told by its embedding too, so is never known here.
    ``gallery``: the existing gallery (``None``: a new one, only repeats within ``docs``).

    Leaving the known documents out of :func:`enroll_documents` enrolls the same items: none of
    them would be stored, nor change what the others are compared with.

    >>> known = known_texts(g, "tickets.db", docs)  # doctest: +SKIP
    """
    shown = [text_preview(d.text) if len(d.text) <= TEXT_PREVIEW_CHARS else None for d in docs]
    held: dict[str, set[bytes]] = {}  # label -> the previews of its stored items
    labels = {
        d.id
        for d, p in zip(docs, shown)
        if p is not None and gallery is not None and d.id in gallery
    }
    if gallery is not None and labels:
        with _previews_store(previews) as store:
            for label in labels:
                stored = gallery.items(label)
                held[label] = {p for p, _ in _enrolled(store, stored.ids, stored.embeddings)}
    seen: dict[str, set[bytes]] = {}  # label -> the short texts given earlier in docs
    known = []
    for d, p in zip(docs, shown):
        if p is None:
            known.append(False)
            continue
        earlier = seen.setdefault(d.id, set())
        known.append(p in held.get(d.id, ()) or p in earlier)
        earlier.add(p)
    return known


def enroll_documents(
    gallery: Gallery,
    previews: str | Path | ThumbnailStore,
    docs: Sequence[Document],
    vectors: np.ndarray,
    sources: Sequence[str | None] | None = None,
) -> EnrolledTexts:
    """Enroll each document's ``(D,)`` row of ``vectors`` under its id (documents sharing an id
    become items of one label), with its preview. ``previews``: the gallery's file (its
    previews are kept beside it), or an open :class:`ThumbnailStore` of them (the service's).
    Every id is checked before anything is written (:func:`check_labels`). ``sources``: one
    per document, where it came from (:func:`document_sources`), kept with its item
    (:meth:`siamkit.index.Gallery.sources`); ``None`` keeps none.

    A document whose label already holds the same text is skipped, so enrolling a corpus again
    adds only what is new: the same text is a text of at most :data:`TEXT_PREVIEW_CHARS`
    characters equal to an enrolled text's preview, or a longer one whose preview matches and
    whose embedding reaches cosine :data:`SAME_TEXT_COSINE` (previews keep only the start).

    This is texts' own rule, not the embedding rule of ``Gallery.enroll_embeddings(...,
    skip_repeats=True)`` (:mod:`siamkit.index.repeats`), which every image command uses: a
    repeat is the same *text*, and two different texts that a tokenizer maps to one embedding
    (an uncased model: "VPN down" and "vpn down") are both kept. An item enrolled without a
    preview (through the library) is never a repeat here.

    >>> enroll_documents(g, "tickets.db", docs, embed_texts(model, [d.text for d in docs]).vectors)  # doctest: +SKIP
    """
    if len(docs) != len(vectors):
        raise ValueError(f"got {len(docs)} documents but {len(vectors)} embeddings")
    if sources is not None and len(sources) != len(docs):
        raise ValueError(f"got {len(sources)} sources for {len(docs)} documents")
    check_labels(docs)
    with _previews_store(previews) as store:
        return _enroll_new(gallery, store, docs, vectors, sources)


@contextlib.contextmanager
def _previews_store(previews: str | Path | ThumbnailStore) -> Iterator[ThumbnailStore]:
    """``previews`` if it is an open store (the service's, left open), else the store of the
    gallery file ``previews`` names, opened for the block and closed after it."""
    if isinstance(previews, ThumbnailStore):
        yield previews
        return
    store = ThumbnailStore(thumbnails_path_for(previews))
    try:
        yield store
    finally:
        store.close()


def _enroll_new(
    gallery: Gallery,
    previews: ThumbnailStore,
    docs: Sequence[Document],
    vectors: np.ndarray,
    sources: Sequence[str | None] | None = None,
) -> EnrolledTexts:
    """:func:`enroll_documents` into an open ``previews`` store, one label at a time."""
    rows: dict[str, list[int]] = {}  # label -> its documents
    for i, d in enumerate(docs):
        rows.setdefault(d.id, []).append(i)
    ids: dict[str, list[int]] = {}
    skipped: list[int] = []
    for label, mine in rows.items():
        texts = [docs[i].text for i in mine]
        theirs = None if sources is None else [sources[i] for i in mine]
        done = _enroll_label(gallery, previews, label, texts, vectors[mine], theirs)
        if done:
            ids[label] = list(done)
        skipped += [mine[k] for k in done.skipped]
    return EnrolledTexts(ids, [docs[i] for i in sorted(skipped)])


def _enroll_label(
    gallery: Gallery,
    previews: ThumbnailStore,
    label: str,
    texts: list[str],
    vectors: np.ndarray,
    sources: list[str | None] | None = None,
) -> EnrolledIds:
    """Enroll the ``texts`` (rows of ``vectors``) that ``label`` does not hold yet, with their
    previews and ``sources``. The check of what it holds and the write of the new items and
    their previews are one gallery transaction, so two processes or threads enrolling the same
    text at once store it once."""
    shown = [text_preview(t) for t in texts]
    skip = np.zeros(len(texts), dtype=bool)

    def same_text(stored: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        known = _enrolled(previews, stored, embeddings)
        for k, (p, z) in enumerate(zip(shown, vectors)):
            short = len(texts[k]) <= TEXT_PREVIEW_CHARS
            skip[k] = any(p == q and (short or float(z @ y) >= SAME_TEXT_COSINE) for q, y in known)
            if not skip[k]:
                known.append((p, z))
        return skip.copy()

    put: list[int] = []

    def write_previews(new: list[int]) -> None:
        previews.put(label, new, [p for p, s in zip(shown, skip) if not s])
        put[:] = new

    try:
        return gallery.enroll_embeddings(
            label, vectors, repeats=same_text, written=write_previews, sources=sources
        )
    except BaseException:
        # the previews are written just before the gallery commits: when the commit fails
        # (a full disk), nothing was enrolled, so no preview of a never-stored item stays
        # behind (its id would be handed to the next item enrolled; after a kill -9, which runs
        # no handler, the gallery deletes them when it hands the ids out again)
        if put:
            previews.remove_items(put)
        raise
