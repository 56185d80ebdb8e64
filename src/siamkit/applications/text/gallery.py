"""Texts in a gallery: enroll a corpus under its ids and keep each text's first characters.

A gallery stores embeddings; what a match *says* lives in the gallery's side file
(``tickets.db.thumbs``, where an image gallery keeps thumbnails), as the UTF-8 bytes of the
text's first :data:`TEXT_PREVIEW_CHARS` characters, so the service's ``/identify`` can show the
matched text. :meth:`siamkit.index.Gallery.remove` deletes them with the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamkit.applications.text.corpus import Document
from siamkit.index import Gallery
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


def _enrolled(
    gallery: Gallery, previews: ThumbnailStore, label: str
) -> list[tuple[bytes, np.ndarray]]:
    """``(preview, embedding)`` of each item ``label`` already has (with a preview)."""
    if label not in gallery:
        return []
    items = gallery.items(label)
    ids = [int(i) for i in items.ids]
    found = previews.get(ids)
    return [(found[i], z) for i, z in zip(ids, items.embeddings) if i in found]


def enroll_documents(
    gallery: Gallery,
    previews: str | Path | ThumbnailStore,
    docs: Sequence[Document],
    vectors: np.ndarray,
) -> EnrolledTexts:
    """Enroll each document's ``(D,)`` row of ``vectors`` under its id (documents sharing an id
    become items of one label), with its preview. ``previews``: the gallery's file (its
    previews are kept beside it), or an open :class:`ThumbnailStore` of them (the service's).
    Every id is checked before anything is written (:func:`check_labels`).

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
    check_labels(docs)
    if isinstance(previews, ThumbnailStore):
        return _enroll_new(gallery, previews, docs, vectors)
    store = ThumbnailStore(thumbnails_path_for(previews))
    try:
        return _enroll_new(gallery, store, docs, vectors)
    finally:
        store.close()


def _enroll_new(
    gallery: Gallery, previews: ThumbnailStore, docs: Sequence[Document], vectors: np.ndarray
) -> EnrolledTexts:
    """:func:`enroll_documents` into an open ``previews`` store."""
    known: dict[str, list[tuple[bytes, np.ndarray]]] = {}
    rows: dict[str, list[tuple[int, bytes]]] = {}  # label -> (document, preview)
    skipped: list[Document] = []
    for i, d in enumerate(docs):
        if d.id not in known:
            known[d.id] = _enrolled(gallery, previews, d.id)
        p, z = text_preview(d.text), vectors[i]
        short = len(d.text) <= TEXT_PREVIEW_CHARS
        if any(p == q and (short or float(z @ y) >= SAME_TEXT_COSINE) for q, y in known[d.id]):
            skipped.append(d)
            continue
        known[d.id].append((p, z))
        rows.setdefault(d.id, []).append((i, p))
    ids: dict[str, list[int]] = {}
    for label, new in rows.items():
        ids[label] = gallery.enroll_embeddings(label, vectors[[i for i, _ in new]])
        previews.put(label, ids[label], [p for _, p in new])
    return EnrolledTexts(ids, skipped)
