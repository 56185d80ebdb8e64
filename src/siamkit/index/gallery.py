"""A durable gallery of enrolled embeddings: enroll, identify (1:N), verify (1:1), recommend.

The SQLite store is the source of truth; the search index is an in-memory cache rebuilt from it on
first use and kept in step with every enrollment and removal (also those that other processes
commit to the same file). A new label is searchable as soon as :meth:`Gallery.enroll` returns.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamkit.clauses import listing
from siamkit.distances import Distance
from siamkit.index.base import ArrayLike, SearchIndex, as_float32_matrix, check_k
from siamkit.index.decision import accepts
from siamkit.index.embedding import (
    embed_inputs,
)
from siamkit.index.gallery_file import file_stats, open_gallery
from siamkit.index.gallery_search import (
    UnknownItemError,
    check_item_ids,
    check_not_taken_over,
    decide,
    group_by_label,
    model_keys,
    recommend_items,
    sync_index,
    taken_over_error,
)
from siamkit.index.provenance import (
    MODEL_PATH_KEY,
    MODEL_RELPATH_KEY,
    model_path_meta,
    recorded_model_folder,
)
from siamkit.index.results import (
    EnrolledIds,
    GalleryStats,
    IdentifyResult,
    Match,
    UnknownLabelError,
    VerifyResult,
    unknown_label_hint,
)
from siamkit.index.store import (
    MAX_ITEM_ID,
    NOTHING_STORED,
    WIDTH_ADVICE,
    GalleryStore,
    LabelInfo,
    RepeatRule,
    StoredItems,
    _elsewhere,  # the side file's errors inside a gallery transaction, as the store's own
    _ElsewhereError,
    check_label_text,
    validate_label,
)
from siamkit.index.thumbnail_store import (
    remove_item_thumbnails,
    remove_thumbnails,
    remove_thumbnails_from,
)


def recorded_model_path(path: str | Path) -> str | None:
    """The model folder recorded in the gallery file ``path`` (found again where the gallery and
    it moved together: :func:`~siamkit.index.provenance.recorded_model_folder`); None if none or
    no such file."""
    if not Path(path).is_file():
        return None
    store = GalleryStore(path, create=False, create_schema=False)
    try:
        return recorded_model_folder(store.meta(), path)
    finally:
        store.close()


def _unknown_items(missing: list[int]) -> UnknownItemError:
    return UnknownItemError(
        f"item ids not in the gallery: {listing(missing, limit=20)}; nothing was removed: use "
        "the ids that identify and recommend give with each match",
        missing,
    )


NO_THRESHOLD = (
    "the model has no calibrated threshold, so the gallery cannot decide same or unknown (it "
    "answers None): fit one "
    "with `siamkit calibrate MODEL --data DATA` (validation images of its training classes; "
    "for a model that learned without labels, a folder of labelled images, one sub-folder per "
    "class), or pass threshold=... to Gallery.open"
)
#: :data:`NO_THRESHOLD` for a half-twin (``kind == "half_twin"``, two towers), which `siamkit
#: calibrate` refuses: its threshold is fit in Python, on distances from tower f to tower g
NO_THRESHOLD_HALF_TWIN = (
    "the model has no calibrated threshold, so the gallery cannot decide same or unknown (it "
    "answers None): a half-twin's is not fit by `siamkit calibrate`; fit one in Python on "
    "distances f(x) to g(y) of matching and non-matching pairs (siamkit.evaluation."
    "ThresholdCalibrator().fit(genuine, impostor).threshold_, set net.threshold and "
    "siamkit.save_model), or pass threshold=... to Gallery.open"
)


MODEL_PATH_KEYS = (MODEL_PATH_KEY, MODEL_RELPATH_KEY)
"""The meta keys :meth:`Gallery.remember_model_path` writes."""


class Gallery:
    """Enrolled labels and their embeddings, searchable by a model's distance.

    Create or open one with :meth:`Gallery.open`. The decision threshold is ``threshold`` if
    given, else the model's calibrated ``model.threshold`` (a text model without one: its
    default, as ``siamkit text similarity`` and the service decide; a text model joined to a
    lexical tower without one is refused a decision with a ``ValueError``, though it may enroll
    and search); ``threshold_source`` says which. With none, ``identify`` names the nearest
    label and leaves ``Match.accepted`` / ``VerifyResult.same`` as ``None``.

    >>> g = Gallery.open("staff.db", model)  # doctest: +SKIP
    >>> g.enroll("alice", alice_images, metadata={"team": "ops"})  # doctest: +SKIP
    [1, 2, 3]
    >>> g.identify(query_image).label  # doctest: +SKIP
    'alice'
    """

    def __init__(
        self,
        store: GalleryStore,
        model: Any,
        index: SearchIndex,
        distance: Distance,
        threshold: float | None,
        index_kind: str,
        threshold_source: str | None = None,
        no_threshold: str | None = None,
        recorded: Mapping[str, str] | None = None,
        takeover: Mapping[str, str] | None = None,
        checked_version: int | None = None,
    ) -> None:
        self._store, self.model, self._index, self.distance = store, model, index, distance
        self.threshold, self.index_kind = threshold, index_kind
        # where the threshold comes from ("given", "the model's calibrated threshold", a text
        # model's default); None without a threshold
        self.threshold_source: str | None = None if threshold is None else threshold_source
        # why a decision is refused without a threshold (a model no default applies to)
        self._no_threshold = no_threshold
        self.embedding_dim = index.dim
        # the model the gallery recorded when it was opened (``recorded``, the meta that
        # Gallery.open checked; read again here, it could be another process's since): another
        # that takes it over while it holds no item is seen in an enrollment's transaction
        # (and by a search or a listing once another connection committed: check_not_taken_over,
        # which reads the meta again only when the store's data version moved from this one).
        # ``takeover``: the meta of this model, which opened a gallery that recorded another and
        # held no item; its first enrollment records it, in its transaction, if the gallery
        # still holds none (an open only to search writes nothing). ``checked_version``: the
        # store's data version read before ``recorded`` (read now, a takeover committed since
        # would count as checked)
        self._checked_version = store.data_version() if checked_version is None else checked_version
        self._recorded = model_keys(store.meta() if recorded is None else recorded)
        self._takeover = None if takeover is None else dict(takeover)
        self._label_of: dict[int, str] = {}  # item id -> label, for indexed items
        self._loaded = False
        self._version = -1
        self._lock = threading.RLock()
        self._warned_no_threshold = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        model: Any = None,
        *,
        index: str = "exact",
        threshold: float | None = None,
        create: bool = True,
        embedding_dim: int | None = None,
        distance: str | Distance | None = None,
        index_options: Mapping[str, Any] | None = None,
        synchronous: str = "FULL",
    ) -> Gallery:
        """Open the gallery at ``path``, creating it if needed (unless ``create=False``).

        Args:
            path: the SQLite gallery file.
            model: the model whose embeddings the gallery holds; a gallery remembers its model's
                fingerprint and dimension and refuses any other (:class:`GalleryMismatchError`)
                once it holds an item; one that holds none (its first enrollment was killed
                before it committed, or every label was removed) takes this model: its first
                enrollment records it, in its transaction (an open to search writes nothing),
                and a Gallery open on it with the earlier model raises GalleryMismatchError
                from its next enrollment, search (identify, verify, recommend) or listing.
                Without a model, an existing gallery opens for listing, removal and search by
                embeddings; a new one needs ``embedding_dim`` (and ``distance``).
            index: ``"exact"`` (default), ``"faiss-flat"``, ``"faiss-ivf"``, ``"faiss-hnsw"``, ``"lsh"``.
            threshold: decision threshold on the distance; default ``model.threshold``, and for
                a text model without one all-MiniLM-L6-v2's sentence default (as ``siamkit text
                similarity`` and the service); ``Gallery.threshold_source`` says which.
            create: create a missing gallery file.
            embedding_dim, distance: for galleries of raw embeddings (no model).
            index_options: extra arguments of the index class, e.g. ``{"nprobe": 16}``.
            synchronous: ``"FULL"`` (default) syncs every enrollment to disk (survives power
                loss, ~10 ms on a slow disk); ``"NORMAL"`` survives ``kill -9`` but not power loss.
        """
        return open_gallery(
            cls,
            path,
            model,
            index=index,
            threshold=threshold,
            create=create,
            embedding_dim=embedding_dim,
            distance=distance,
            index_options=index_options,
            synchronous=synchronous,
        )

    # ---------------------------------------------------------------- enrollment
    def enroll(
        self,
        label: str,
        inputs: Any,
        metadata: Mapping[str, Any] | None = None,
        *,
        skip_repeats: bool = False,
        sources: Sequence[str | None] | None = None,
    ) -> EnrolledIds:
        """Embed ``inputs`` with the gallery's model (a two-tower model's document tower) and
        enroll them: images (``(N, C, H, W)`` in [0, 1], or one ``(C, H, W)``) for an image
        model, texts (a list of strings, or one string) for a text model. An empty batch or list
        is refused.

        One transaction: when this returns the items are durable and searchable. Returns their
        ids (a list; see :meth:`enroll_embeddings` for ``skip_repeats``, ``.skipped`` and
        ``sources``, each input's file). Enrolling a label that already exists adds items to it.
        """
        validate_label(label)
        z = self._embed(inputs, role="document")
        return self.enroll_embeddings(
            label, z, metadata, skip_repeats=skip_repeats, sources=sources
        )

    def enroll_embeddings(
        self,
        label: str,
        embeddings: ArrayLike,
        metadata: Mapping[str, Any] | None = None,
        *,
        skip_repeats: bool = False,
        repeats: RepeatRule | None = None,
        written: Callable[[list[int]], None] | None = None,
        sources: Sequence[str | None] | None = None,
    ) -> EnrolledIds:
        """Enroll precomputed ``(N, D)`` embeddings under ``label``; returns the new item ids.

        With ``skip_repeats=True`` a row the label already holds (enrolled before, or given
        earlier in ``embeddings``) is not stored again: a repeat is an embedding equal to one of
        the label's to :data:`~siamkit.index.repeats.SAME_EMBEDDING_TOLERANCE` of its length (the
        same input through the same model), checked in the enrollment's transaction. The ids
        returned are then those of the rows kept, and their ``.skipped`` lists the positions of
        the rows skipped (all of them skipped: no ids, nothing written). Without it (the default,
        as before) every row is stored. Every siamkit command and the service skip repeats.

        ``repeats`` is another rule of repeats, checked in the same transaction (it implies
        ``skip_repeats``): given the label's stored ``ids (M,)`` and ``embeddings (M, D)``, it
        returns the ``(N,)`` bools of the rows to skip. ``written`` is called with the new ids
        before the transaction commits, to record what goes with them elsewhere, where the next
        enrollment's check reads it; when it raises, nothing is enrolled. Texts use both: a
        repeat is the same text, told by the previews kept beside the gallery
        (:func:`~siamkit.applications.text.gallery.enroll_documents`).

        ``sources``: one per row, the file it came from (``siamkit enroll`` gives the path as
        given), kept with the item so that a match can be traced back to its file
        (:meth:`sources`).

        >>> g.enroll_embeddings("alice", z[:2], skip_repeats=True)  # doctest: +SKIP
        [4, 5]
        >>> g.enroll_embeddings("alice", z[:3], skip_repeats=True).skipped  # doctest: +SKIP
        [0, 1]
        """
        z = as_float32_matrix(  # refused in the store's own sentences, before any write
            embeddings,
            self.embedding_dim,
            holder=self._records,
            then=NOTHING_STORED,
            width_then=WIDTH_ADVICE,
        )
        if z.shape[0] == 0:
            raise ValueError("nothing to enroll: embeddings have 0 rows")

        def record(new: list[int]) -> None:
            # the new ids are above every id ever stored; what the side file holds under them
            # was written for an enrollment killed before its commit (a text's previews), and
            # goes before these items are stored or anything is recorded for them
            remove_thumbnails_from(self._store.path, min(new))
            if written is not None:
                written(new)

        with self._lock:
            if skip_repeats or repeats is not None:
                ids, skip = self._store.add_new(
                    label,
                    z,
                    metadata,
                    repeats=repeats,
                    written=record,
                    sources=sources,
                    before=self._check_still_recorded,
                )
                z = z[~skip]
            else:
                ids = self._store.add(
                    label,
                    z,
                    metadata,
                    written=record,
                    sources=sources,
                    before=self._check_still_recorded,
                )
                skip = np.zeros(len(z), dtype=bool)
            if self._loaded and ids:
                self._index.add(z, np.asarray(ids, dtype=np.int64))
                self._label_of.update(dict.fromkeys(ids, label))
        return EnrolledIds(ids, np.flatnonzero(skip).tolist())

    def _check_still_recorded(self) -> None:
        """First in an enrollment's transaction, before the label's rows are read: take the
        gallery over when this model opened it recording another and it still holds no item;
        refuse the enrollment when another model took it over since it was opened (it held no
        item then), as its embeddings are not comparable."""
        meta = self._store.meta()
        now = model_keys(meta)
        if now == self._recorded:
            if self._takeover is not None and MODEL_PATH_KEY not in meta:
                # another Gallery of this model took it over first, recording no model folder:
                # the one remember_model_path kept here for the takeover is recorded now
                paths = {k: v for k, v in self._takeover.items() if k in MODEL_PATH_KEYS}
                if paths:
                    self._store.set_meta_in_transaction(paths)
            return
        if self._takeover is not None and self._store.replace_meta_if_empty(self._takeover):
            return
        # taken over by another model, or (self._takeover) the recorded one's items came first
        raise taken_over_error(self, now[2], "nothing was enrolled")

    def remove(self, label: str) -> int:
        """Remove every item of ``label`` and its thumbnails; returns how many items.

        All or none, as :meth:`remove_items`: the thumbnails beside the gallery
        (``staff.db.thumbs``, kept by the service) are deleted inside the transaction that
        deletes the items, after their deletion and before its commit, so a removal that fails
        (a damaged page, a lock held) leaves the label with its pictures, and one whose
        thumbnails cannot be deleted leaves its items.
        :class:`UnknownLabelError` if the label is absent; :class:`GalleryMismatchError`,
        nothing removed, when another model took the gallery over since it was opened.
        """
        check_label_text(label)  # not validate_label: a '#12' enrolled before still goes
        with self._lock:
            # another model's items, had it taken the gallery over, are not this one's to remove
            check_not_taken_over(self)
            ids = self._remove_label(label)
            if not ids:
                raise self._unknown(label)
            if self._loaded:
                self._index.remove(np.asarray(ids, dtype=np.int64))
                for i in ids:
                    self._label_of.pop(i, None)
        return len(ids)

    def _remove_label(self, label: str) -> list[int]:
        """Delete the items of ``label`` and then its thumbnails in one transaction of the
        gallery; returns the item ids (empty: none, the label's stray thumbnails deleted all the
        same). :meth:`GalleryStore.remove_label` takes no callback, and deleting the thumbnails
        before it, as this did, lost a label's pictures whenever its items' deletion failed."""
        try:
            with self._store.transaction() as c:
                rows = c.execute("SELECT id FROM items WHERE label = ?", (label,)).fetchall()
                c.execute("DELETE FROM items WHERE label = ?", (label,))
                with _elsewhere():  # deletes in the side file: its errors are not the gallery's
                    remove_thumbnails(self._store.path, label)
        except _ElsewhereError as wrapped:
            raise wrapped.error from None
        return [int(r[0]) for r in rows]

    def remove_items(self, item_ids: Iterable[int]) -> dict[int, str]:
        """Remove these items (ids from identify's matches, :meth:`items`, recommend) and their
        thumbnails, all or none in one transaction; returns ``{item_id: label}`` of the items
        removed, by id. A label left without items is gone (:meth:`labels` no longer lists it),
        and no search returns a removed item again.

        :class:`~siamkit.index.gallery_search.UnknownItemError` naming the ids that are not in
        the gallery (its ``item_ids``); nothing is removed then.

        >>> g.remove_items([57])  # doctest: +SKIP
        {57: 'alice'}
        """
        ids = check_item_ids(item_ids, "remove_items")
        if not ids:
            raise ValueError("remove_items needs at least one item id")
        stored = [i for i in ids if 0 < i <= MAX_ITEM_ID]  # others cannot be stored (nor bound)
        with self._lock:
            check_not_taken_over(self)  # as remove()
            if len(stored) < len(ids):  # refused before the store deletes the stored ones
                known = self._store.labels_of(stored)
                raise _unknown_items(sorted(set(ids) - set(known)))
            found, missing = self._store.remove_items(
                stored, written=lambda done: remove_item_thumbnails(self._store.path, done)
            )
            if missing:
                raise _unknown_items(missing)
            if self._loaded:
                self._index.remove(np.asarray(list(found), dtype=np.int64))
                for i in found:
                    self._label_of.pop(i, None)
        return found

    # ---------------------------------------------------------------- queries
    def identify(self, x: Any, k: int = 5) -> IdentifyResult:
        """Who is this? The ``k`` nearest labels of one input; ``label`` is None if unknown."""
        z = self._embed(x)
        if z.shape[0] != 1:
            raise ValueError(f"identify takes one input, got {z.shape[0]}; use identify_batch")
        return self.identify_embeddings(z, k)[0]

    def identify_batch(self, x: Any, k: int = 5) -> list[IdentifyResult]:
        """:meth:`identify` for a batch ``(N, C, H, W)``; one result per input."""
        return self.identify_embeddings(self._embed(x), k)

    def identify_embeddings(self, embeddings: ArrayLike, k: int = 5) -> list[IdentifyResult]:
        """Identify ``(Q, D)`` precomputed embeddings: up to ``k`` distinct labels each."""
        z = as_float32_matrix(  # "this index holds" was false of a gallery holding none
            embeddings, self.embedding_dim, what="queries", holder=self._records
        )
        k = check_k(k)
        with self._lock:
            sync_index(self)
            n = len(self._index)
            if n == 0:
                return [IdentifyResult([], None) for _ in range(z.shape[0])]
            k_items = min(n, 4 * k)
            while True:  # widen the search until every query has k distinct labels (or all items)
                res = self._index.search(z, k_items)
                rows = [
                    group_by_label(self, res.distances[i], res.ids[i], k) for i in range(z.shape[0])
                ]
                if k_items >= n or all(len(r) == k for r in rows):
                    break
                k_items = min(n, 4 * k_items)
        return [IdentifyResult(r, decide(r)) for r in rows]

    def _accept(self, distance: float, warn: bool = True) -> bool | None:
        if self.threshold is None:
            if warn and self._no_threshold is not None:
                raise ValueError(self._no_threshold)
            if warn and not self._warned_no_threshold:  # once per gallery: None, say why
                self._warned_no_threshold = True
                half_twin = getattr(self.model, "kind", None) == "half_twin"
                said = NO_THRESHOLD_HALF_TWIN if half_twin else NO_THRESHOLD
                warnings.warn(said, UserWarning, stacklevel=4)
            return None
        return bool(accepts(distance, self.threshold))  # within float32 rounding

    def verify(self, x: Any, label: str) -> VerifyResult:
        """Is this ``label``? Distance to the label's closest enrolled item, against the threshold."""
        return self.verify_embedding(self._embed(x), label)

    def verify_embedding(self, embedding: ArrayLike, label: str) -> VerifyResult:
        """:meth:`verify` for one precomputed ``(D,)`` / ``(1, D)`` embedding."""
        z = as_float32_matrix(
            embedding, self.embedding_dim, what="query embeddings", holder=self._records
        )
        if z.shape[0] != 1:
            raise ValueError(f"verify takes one input, got {z.shape[0]}")
        enrolled = torch.from_numpy(self.items(label).embeddings)
        with torch.inference_mode():  # row by row: the matrix form's |x|² + |y|² - 2x·y puts an
            # enrolled copy of the query ~5e-4 away in float32, not at 0
            d = self.distance.pairwise(torch.from_numpy(z).expand(len(enrolled), -1), enrolled)
        distance = float(d.min())
        return VerifyResult(self._accept(distance), distance, self.threshold, label)

    def recommend(
        self, liked_item_ids: Iterable[int], k: int = 10, *, per_label: bool = False
    ) -> list[Match]:
        """More like these: the ``k`` items nearest to any liked item, excluding the liked ones.

        An item's distance is its distance to the closest liked item.

        Args:
            per_label: at most one item per label, its nearest, so that a label of several items
                (a product's photos) takes one place, as in :meth:`identify`'s matches; the
                labels of the liked items are left out then (liking one photo of a product
                likes the product).
        """
        return recommend_items(self, liked_item_ids, k, per_label)

    # ---------------------------------------------------------------- information
    def labels(self) -> list[LabelInfo]:
        """Every enrolled label with its item count and latest metadata, sorted by label
        (:class:`GalleryMismatchError` when another model took the gallery over since it was
        opened, as in a search)."""
        found = self._store.labels()
        check_not_taken_over(self, read_none=not found)
        return found

    def items(self, label: str | None = None) -> StoredItems:
        """The enrolled items, ordered by id: ``ids (N,)`` int64, ``labels`` (N strings) and
        ``embeddings (N, D)`` float32, read from the store (the source of truth).

        Args:
            label: only this label's items; :class:`UnknownLabelError` if it has none.

        Example:
            >>> g.items("alice").embeddings.shape  # doctest: +SKIP
            (3, 64)
        """
        if label is not None:
            check_label_text(label)
        found = self._store.load(label=label)
        # read after the items: another model's, had it taken the gallery over, are refused
        check_not_taken_over(self, read_none=found.ids.size == 0)
        if label is not None and found.ids.size == 0:
            raise self._unknown(label)
        return found

    def sources(self, item_ids: Sequence[int]) -> dict[int, str]:
        """``{item_id: source file}`` of those items whose enrollment named its file
        (``siamkit enroll`` does); the others, and every item of an older gallery, have none.
        (:class:`GalleryMismatchError` when another model took the gallery over since it was
        opened, as in a search: the files would be that model's items'.)"""
        found = self._store.sources_of([int(i) for i in item_ids])
        check_not_taken_over(self, read_none=not found)
        return found

    def labels_of(self, item_ids: Sequence[int]) -> dict[int, str]:
        """``{item_id: label}`` of those of ``item_ids`` the gallery holds now (a removed item's
        id, or one never handed out, is left out), read only. The service and the CLI ask it
        after keeping an enrollment's thumbnails, which a removal may have overtaken
        (:meth:`~siamkit.index.thumbnail_store.ThumbnailStore.put_enrolled_live`).

        >>> g.labels_of([1, 57])  # doctest: +SKIP
        {57: 'alice'}
        """
        ids = [int(i) for i in item_ids]
        return self._store.labels_of([i for i in ids if 0 < i <= MAX_ITEM_ID])

    def label_count(self, label: str) -> int:
        """How many items ``label`` has, 0 when it is not enrolled (:class:`GalleryMismatchError`
        when another model took the gallery over since it was opened, as :meth:`labels`). One
        label's count, read by the label: the service answers every enrollment and removal with
        it, where :meth:`labels` counted the whole gallery (2.7 s at 200,000 labels).

        >>> g.label_count("alice")  # doctest: +SKIP
        3
        """
        if not isinstance(label, str):  # not check_label_text: any stored label is counted,
            raise TypeError(f"a label must be a string, got {type(label).__name__}")  # old ones too
        n = self._store.label_count(label)
        check_not_taken_over(self, read_none=n == 0)
        return n

    def max_item_id(self) -> int:
        """The largest item id stored, 0 when the gallery is empty. What sits beside the gallery
        under a higher id (a text's preview) belongs to no item: it was written for an
        enrollment that has not committed yet, or was killed before it did."""
        return self._store.max_id()

    def __contains__(self, label: object) -> bool:
        """Whether ``label`` is enrolled (:class:`GalleryMismatchError` when another model took
        the gallery over since it was opened, as :meth:`labels`: its labels are not this
        model's)."""
        if not isinstance(label, str):
            return False
        found = self._store.has_label(label)
        check_not_taken_over(self, read_none=not found)
        return found

    def __len__(self) -> int:
        """How many items are enrolled (:class:`GalleryMismatchError` when another model took
        the gallery over since it was opened, as :meth:`labels`)."""
        n = self._store.count()[0]
        check_not_taken_over(self, read_none=n == 0)
        return n

    def stats(self) -> GalleryStats:
        """Counts, the model fingerprint, the threshold and the file size
        (:class:`GalleryMismatchError` when another model took the gallery over since it was
        opened: the counts and the model would be that model's, not this Gallery's)."""
        return file_stats(self)

    def remember_model_path(self, model_dir: str | Path) -> None:
        """Record where the model folder that enrolls into this gallery lives: its absolute path,
        and its path from the gallery file's folder, which finds it again when both moved.

        Commands with a default model (``siamkit signature verify``) use it when ``--model`` is not
        given; the fingerprint check still decides whether a model may open the gallery.
        """
        values = model_path_meta(model_dir, self._store.path)
        with self._store.transaction() as c:
            if self._takeover is not None and model_keys(self._store.meta()) != self._recorded:
                # not taken over yet (an enrollment does that): recorded with this model's meta
                self._takeover.update(values)
                return
            c.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(values.items())
            )

    def close(self) -> None:
        """Close the store. Everything acknowledged is already on disk."""
        self._store.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Gallery({self._store.path!r}, index={self.index_kind!r}, threshold={self.threshold})"
        )

    # ---------------------------------------------------------------- internals
    @property
    def _records(self) -> str:
        """Who a size refusal names: the gallery, which records its size whether or not it
        holds an item (the index's "this index holds" named an object the caller never met,
        and was false of a gallery holding none)."""
        return f"the gallery {self._store.path} records"

    def _embed(self, inputs: Any, role: str = "query") -> np.ndarray:
        """``inputs`` embedded by the gallery's model: what is enrolled as ``role="document"``,
        what is searched with as ``"query"`` (a two-tower model's towers: a text half-twin's
        document and query towers, a ``HalfTwinNetwork``'s branches g and f; one tower else)."""
        if self.model is None:
            raise ValueError(
                "this gallery was opened without a model; pass the model to embed inputs"
            )
        return embed_inputs(self.model, inputs, role=role)

    def _unknown(self, label: str) -> UnknownLabelError:
        names = [info.label for info in self._store.labels()]
        hint = unknown_label_hint(label, names) if names else "; the gallery is empty"
        return UnknownLabelError(f"label {label!r} is not in the gallery{hint}")
