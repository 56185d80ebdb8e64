"""Texts in a gallery: enroll a corpus under its ids and keep each text's first characters.

A gallery stores embeddings; what a match *says* lives in the gallery's side file
(``tickets.db.thumbs``, where an image gallery keeps thumbnails), as the UTF-8 bytes of the
text's first :data:`TEXT_PREVIEW_CHARS` characters, so the service's ``/identify`` can show the
matched text. :meth:`siamkit.index.Gallery.remove` deletes them with the label.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def enroll_documents(
    gallery: Gallery,
    gallery_path: str | Path,
    docs: Sequence[Document],
    vectors: np.ndarray,
) -> dict[str, list[int]]:
    """Enroll each document's ``(D,)`` row of ``vectors`` under its id (documents sharing an id
    become items of one label), with its preview. Every id is checked before anything is
    written. Returns ``{label: item ids}``.

    >>> enroll_documents(g, "tickets.db", docs, embed_texts(model, [d.text for d in docs]).vectors)  # doctest: +SKIP
    """
    if len(docs) != len(vectors):
        raise ValueError(f"got {len(docs)} documents but {len(vectors)} embeddings")
    rows: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        validate_label(d.id)
        rows.setdefault(d.id, []).append(i)
    previews = ThumbnailStore(thumbnails_path_for(gallery_path))
    try:
        ids: dict[str, list[int]] = {}
        for label, idx in rows.items():
            ids[label] = gallery.enroll_embeddings(label, vectors[idx])
            previews.put(label, ids[label], [text_preview(docs[i].text) for i in idx])
    finally:
        previews.close()
    return ids
