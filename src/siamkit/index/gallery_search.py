"""How a :class:`~siamkit.index.gallery.Gallery` searches its index: recommend's items nearest
to liked ones (one per item or one per label), identify's best match per label, and the index
kept in step with the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from siamkit.clauses import listing
from siamkit.index.base import SearchResult, check_k
from siamkit.index.exact import ExactIndex
from siamkit.index.results import (
    GalleryMismatchError,
    Match,
    RecordedModelEnrolledError,
    UnknownLabelError,
)

if TYPE_CHECKING:
    from siamkit.index.gallery import Gallery


def _nearest_unliked(
    distances: np.ndarray, ids: np.ndarray, liked: list[int], k: int | None
) -> list[tuple[int, float]]:
    """``(item id, distance)`` of the ``k`` items nearest to any liked one, by (distance, id),
    from the liked items' search results: each item at its closest liked item, liked ones and
    the index's ``-1`` fill left out. Vectorised: a loop over the pairs, testing ``in`` the
    liked list, made liking a label of 2,000 items (4 million pairs) take about 3 minutes.
    ``k=None``: every item found."""
    flat_ids, flat_d = ids.ravel(), distances.ravel()
    keep = (flat_ids >= 0) & ~np.isin(flat_ids, np.asarray(liked, dtype=np.int64))
    flat_ids, flat_d = flat_ids[keep], flat_d[keep]
    order = np.lexsort((flat_ids, flat_d))  # by distance, then id
    flat_ids, flat_d = flat_ids[order], flat_d[order]
    _, first = np.unique(flat_ids, return_index=True)  # each item's first place: its closest
    chosen = np.sort(first)[:k]
    return [(int(i), float(d)) for i, d in zip(flat_ids[chosen], flat_d[chosen])]


class UnknownItemError(UnknownLabelError):
    """Item ids that are not in the gallery: liked ones (:meth:`Gallery.recommend`) or ones to
    remove (:meth:`Gallery.remove_items`); ``item_ids`` names them, so a caller (the service)
    can word its own sentence. An :class:`UnknownLabelError`, so catching that catches it too.

    >>> from siamkit.index import UnknownItemError
    >>> try:  # doctest: +SKIP
    ...     gallery.remove_items([57])
    ... except UnknownItemError as err:
    ...     print(err.item_ids)
    [57]
    """

    def __init__(self, message: str, item_ids: list[int]) -> None:
        super().__init__(message)
        self.item_ids = item_ids


def check_item_ids(item_ids: Iterable[int], what: str) -> list[int]:
    """``item_ids`` as sorted distinct ints, or a ``TypeError`` saying that ``what`` takes item
    ids (a label given instead was int()'s "invalid literal for int() with base 10")."""
    given = [item_ids] if isinstance(item_ids, (str, bytes)) else list(item_ids)
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in given):
        raise TypeError(
            f"{what} takes item ids (ints, e.g. from identify's matches or items()), got "
            f"{item_ids!r}; for a label's items use items(label).ids"
        )
    return sorted({int(i) for i in given})


def recommend_items(
    gallery: Gallery, liked_item_ids: Iterable[int], k: int, per_label: bool
) -> list[Match]:
    """:meth:`Gallery.recommend <siamkit.index.gallery.Gallery.recommend>` (which documents it)."""
    k = check_k(k)
    liked = check_item_ids(liked_item_ids, "recommend")
    if not liked:
        raise ValueError("recommend needs at least one liked item id")
    with gallery._lock:
        sync_index(gallery)
        missing = [i for i in liked if i not in gallery._label_of]
        if missing:
            fix = (
                "use an item id that identify or recommend gave with a match"
                if gallery._label_of
                else "the gallery is empty: enroll items first"
            )
            raise UnknownItemError(
                f"item ids not in the gallery: {listing(missing)}; {fix}", missing
            )
        vectors = gallery._store.embeddings_of(liked)
        if isinstance(gallery._index, ExactIndex):
            top = nearest_by_scan(gallery, vectors, liked, k, per_label)
        else:
            top = nearest_by_search(gallery, vectors, liked, k, per_label)
        # a recommendation is a ranking, not a decision: no "uncalibrated" warning
        return [
            Match(gallery._label_of[i], float(d), i, gallery._accept(d, warn=False)) for i, d in top
        ]


def nearest_by_search(
    gallery: Gallery, vectors: np.ndarray, liked: list[int], k: int, per_label: bool
) -> list[tuple[int, float]]:
    """Recommend's ``(item id, distance)`` ranking from ``k + L`` neighbours of each of the
    ``L`` liked items' ``(L, D)`` ``vectors`` (FAISS, LSH: any index with ``search``)."""
    n = len(gallery._index)
    kk = min(n, k + len(liked))
    res = gallery._index.search(vectors, kk)
    if per_label:
        return nearest_labels(gallery, vectors, liked, k, kk, res)
    # exact: an item among the k nearest has fewer than k + L items nearer its closest liked
    # item (the k - 1 before it and the liked ones)
    return _nearest_unliked(res.distances, res.ids, liked, k)


def nearest_by_scan(
    gallery: Gallery, vectors: np.ndarray, liked: list[int], k: int, per_label: bool
) -> list[tuple[int, float]]:
    """:func:`nearest_by_search`'s ranking from one blockwise pass of an exact index: every
    item's distance to its closest liked item (:meth:`ExactIndex.min_distances`), ranked by
    (distance, id). Searching ``k + L`` neighbours per liked item took 8-48 s for a liked label
    of 2,000 items in a 20,000-item gallery (``per_label`` widened to the whole gallery)."""
    index = gallery._index
    if not isinstance(index, ExactIndex):
        raise TypeError(f"nearest_by_scan needs an ExactIndex, got {type(index).__name__}")
    dist, ids = index.min_distances(vectors)  # (N,), (N,): every item once, at its closest
    ranked = _nearest_unliked(dist[None], ids[None], liked, None if per_label else k)
    return _first_per_label(gallery, ranked, liked, k) if per_label else ranked


def _first_per_label(
    gallery: Gallery, ranked: Iterable[tuple[int, float]], liked: list[int], k: int
) -> list[tuple[int, float]]:
    """The first of ``ranked``'s ``(item id, distance)`` of each label, liked labels left out,
    up to ``k`` labels."""
    skip = {gallery._label_of[i] for i in liked}
    top: list[tuple[int, float]] = []
    for i, d in ranked:
        label = gallery._label_of[i]
        if label not in skip:
            skip.add(label)
            top.append((i, d))
            if len(top) == k:
                break
    return top


def nearest_labels(
    gallery: Gallery, vectors: np.ndarray, liked: list[int], k: int, kk: int, res: SearchResult
) -> list[tuple[int, float]]:
    """:meth:`Gallery.recommend <siamkit.index.gallery.Gallery.recommend>` with ``per_label``:
    each label's nearest item, liked labels left out.
    A label's items can fill any number of places, so the search widens until the k-th
    label is nearer than every liked item's farthest found one (then no item that was not
    found, or was found only through a farther liked item, can rank before it)."""
    n = len(gallery._index)
    while True:
        top = _first_per_label(
            gallery, _nearest_unliked(res.distances, res.ids, liked, None), liked, k
        )
        last = res.distances[:, -1][res.ids[:, -1] >= 0]  # -1: that row found all items
        horizon = float(last.min()) if last.size else np.inf
        if kk >= n or (len(top) == k and top[-1][1] < horizon):
            return top
        kk = min(n, 4 * kk)
        res = gallery._index.search(vectors, kk)


def group_by_label(gallery: Gallery, dists: np.ndarray, ids: np.ndarray, k: int) -> list[Match]:
    """The best item per label, in order, up to ``k`` labels."""
    out: list[Match] = []
    seen: set[str] = set()
    for d, i in zip(dists.tolist(), ids.tolist()):
        if i < 0:
            break
        label = gallery._label_of[i]
        if label not in seen:
            seen.add(label)
            out.append(Match(label, float(d), int(i), gallery._accept(d)))
            if len(out) == k:
                break
    return out


def decide(matches: list[Match]) -> str | None:
    if not matches or matches[0].accepted is False:
        return None
    return matches[0].label


def check_not_taken_over(
    gallery: Gallery, version: int | None = None, *, reread: bool = False, read_none: bool = True
) -> None:
    """Raise :class:`GalleryMismatchError` when the gallery now records another model than the
    one it recorded when it was opened: holding no item, it was taken over by another model's
    enrollment (a gallery that holds no item takes any model), whose embeddings this one's
    cannot be compared with. (:func:`~siamkit.index.provenance.check_same_model` is the check
    at open, of a meta against the wanted model.)

    Call it after reading what is about to be used: ``version``, the store's data version, is
    read then (by default, here) and the meta only when it moved since the last check (another
    connection committed), so a search in the steady state costs no query for it.
    ``reread``: the caller read ``version`` before the data (:func:`sync_index`, which reads
    rows only when it moved), so the meta is read in any case. ``read_none``: the rows the
    caller read (before this check) held no item; a Gallery waiting to take the gallery over
    (:func:`taken_over_error`) is refused unless they did and the gallery still holds none.
    """
    if version is None:
        version = gallery._store.data_version()
    if version == gallery._checked_version and not reread:
        return
    now = model_keys(gallery._store.meta())
    # opened by a model that may take the gallery over (it recorded another and held no item):
    # while it still holds none, there is nothing to search and nothing to refuse; but rows
    # read before a count that finds none were the recorded model's, removed in between
    if now != gallery._recorded and not (
        gallery._takeover is not None and read_none and gallery._store.count()[0] == 0
    ):
        raise taken_over_error(gallery, now[2], "nothing was searched or changed")
    gallery._checked_version = version


def taken_over_error(gallery: Gallery, fingerprint: str, undone: str) -> GalleryMismatchError:
    """The refusal of a gallery that held no item and that the model of ``fingerprint`` took
    over while ``gallery`` had it open; ``undone`` says what the refused call left undone.
    Where ``gallery``'s model was to take it over (it recorded another model), nothing was
    taken over: the model it records enrolled first (:class:`RecordedModelEnrolledError`)."""
    if gallery._takeover is not None:
        return RecordedModelEnrolledError(
            f"{gallery._store.path} held no item when this model opened it, but the model it "
            f"records (fingerprint {fingerprint[:12] or 'none'}) enrolled items since, which "
            f"cannot be compared with this model's; {undone}: open it with that model, or use "
            "a new gallery file"
        )
    return GalleryMismatchError(
        f"{gallery._store.path} held no item and was taken over by another model "
        f"(fingerprint {fingerprint[:12] or 'none'}) while it was open here, so its items cannot "
        f"be compared with this model's; {undone}: open it again with that model, or use a new "
        "gallery file"
    )


def model_keys(meta: Mapping[str, str]) -> tuple[str, str, str]:
    """What tells one model's gallery from another's: its embedding size, distance and
    fingerprint."""
    return (
        meta.get("embedding_dim", ""),
        meta.get("distance", ""),
        meta.get("model_fingerprint", ""),
    )


def sync_index(gallery: Gallery) -> None:
    """Build the index on first use; afterwards apply commits made by other connections
    (:class:`GalleryMismatchError` when one was another model's taking the gallery over,
    :func:`check_not_taken_over`; the index is left as it was)."""
    version = gallery._store.data_version()
    if gallery._loaded and version == gallery._version:
        return
    stored = gallery._store.ids()
    known = np.fromiter(gallery._label_of, dtype=np.int64, count=len(gallery._label_of))
    gone = np.setdiff1d(known, stored)
    new = np.setdiff1d(stored, known)
    items = gallery._store.load(after_id=int(new[0]) - 1) if new.size else None
    # after the rows are read: a takeover committed before them is in the meta read now
    check_not_taken_over(gallery, version, reread=True, read_none=stored.size == 0)
    if gone.size:
        gallery._index.remove(gone)
        for i in gone.tolist():
            del gallery._label_of[i]
    if items is not None:
        keep = np.isin(items.ids, new)
        gallery._index.add(items.embeddings[keep], items.ids[keep])
        gallery._label_of.update(
            (int(i), lab) for i, lab, k in zip(items.ids, items.labels, keep) if k
        )
    gallery._loaded, gallery._version = True, version
