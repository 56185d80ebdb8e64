"""The service's one object with state: the model, the gallery and the thumbnails.

HTTP handlers parse and validate; the engine calls the library. Model and gallery calls run on a
small dedicated thread pool (one thread by default): torch already uses every core inside one
call, so running calls one after another is the fastest schedule on a small CPU, and no request
can starve the event loop that keeps reading the next uploads meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from siamkit.applications.faces.detect import box_name
from siamkit.applications.faces.errors import NoFaceError, name_the_photo
from siamkit.clauses import NO_VERDICT
from siamkit.encoders.text import generic_text_model_refusal, over_text_encoder
from siamkit.index import (
    Gallery,
    GalleryStats,
    IdentifyResult,
    UnknownLabelError,
    VerifyResult,
    verify_pair,
)
from siamkit.index.embedding import (
    embed_inputs,
    model_distance,
    model_embedding_dim,
    model_embeddings,
    model_threshold,
    one_branch_refusal,
)
from siamkit.index.gallery_search import UnknownItemError, sync_index
from siamkit.index.results import unknown_label_hint
from siamkit.index.verify import verify_embedded
from siamkit.model_protocol import as_embedding_model
from siamkit.models import model_fingerprint
from siamkit.service.embedding_parts import embedding_parts
from siamkit.service.errors import RequestError
from siamkit.service.limits import ServiceLimits
from siamkit.service.thumbnails import ThumbnailStore, thumbnails_path_for
from siamkit.service.uploads import (
    Upload,
    check_all_dimensions,
    decode_images,
    decode_photos,
    thumbnails_of,
)

T = TypeVar("T")

PAIR_FIELDS = ("file_a", "file_b")
"""The fields of ``/verify``'s two images, which name the one its model embedded as NaN."""


@dataclass(frozen=True)
class FoundFace:
    """One face of an identified photo: its pixel box (``left, top, right, bottom`` inclusive,
    ``score``) and who it is."""

    box: dict[str, Any]
    result: IdentifyResult


@dataclass(frozen=True)
class LabelSummary:
    """One enrolled label for listings: its item count and a thumbnail (PNG) if the service has one."""

    label: str
    count: int
    thumbnail: bytes | None


def _no_gallery(input_kind: str = "image") -> RequestError:
    things = _things(input_kind)
    return RequestError(
        409,
        f"This service was started without a gallery, so it can only compare two {things} and "
        "embed them; restart it with --gallery FILE to enroll, identify and verify a label.",
    )


def _things(input_kind: str) -> str:
    return "texts" if input_kind == "text" else "images"


def unknown_label_sentence(label: str, labels: list[str], input_kind: str = "image") -> str:
    """The one sentence of every 404 for a label that is not enrolled (``/verify``'s label,
    ``GET /gallery/images``, ``DELETE /gallery/{label}``), naming how to add it; ``labels``: the
    enrolled ones.

    >>> unknown_label_sentence("Bob", ["bob"])
    "Label 'Bob' is not in the gallery (did you mean 'bob'?); POST /enroll images under it to add it."
    >>> unknown_label_sentence("bob", [], "text")
    "Label 'bob' is not in the gallery, which is empty: POST /enroll texts under it first."
    """
    things = _things(input_kind)
    if not labels:
        return (
            f"Label {label!r} is not in the gallery, which is empty: POST /enroll {things} under "
            "it first."
        )
    hint = unknown_label_hint(label, labels).removeprefix("; ")  # did you mean 'x'? / enrolled..
    return (
        f"Label {label!r} is not in the gallery ({hint}); POST /enroll {things} under it to add it."
    )


def unknown_item_sentence(item_id: int, input_kind: str = "image") -> str:
    """The 404 of ``DELETE /gallery/items/{item_id}`` for an id that no enrolled item has.

    >>> unknown_item_sentence(57)
    "Item #57 is not in the gallery (never enrolled, or removed already); /identify's matches and GET /gallery/images give each enrolled image's item_id."
    """
    one = _things(input_kind).removesuffix("s")
    return (
        f"Item #{item_id} is not in the gallery (never enrolled, or removed already); "
        f"/identify's matches and GET /gallery/images give each enrolled {one}'s item_id."
    )


def empty_gallery_hint(input_kind: str = "image") -> str:
    """``/identify``'s ``hint`` on an empty gallery, where its null label means that no one is
    enrolled yet, not that the input is unknown."""
    return (
        f"The gallery is empty, so nothing can match: POST /enroll labelled {_things(input_kind)} "
        "first."
    )


def no_threshold_hint(model: Any = None) -> str:
    """``/identify``'s ``hint`` when there is no threshold: its null label means that nothing
    was decided, not that the input is unknown, and the matches are only the nearest. For a
    half-twin ``model`` (``kind == "half_twin"``), which ``siamkit calibrate`` refuses, the
    threshold is fit in Python."""
    if getattr(model, "kind", None) == "half_twin":
        fit = (
            "Fit a half-twin's threshold in Python (siamkit.evaluation.ThresholdCalibrator on "
            "distances f(x) to g(y) of matching and non-matching pairs; set net.threshold and "
            "siamkit.save_model), not with `siamkit calibrate`, and serve the model again."
        )
    else:
        fit = "Fit a threshold with `siamkit calibrate MODEL --data FOLDER` and serve the model again."
    return (
        "No threshold to decide with, so no label is accepted or refused (label is null): the "
        f"matches are the nearest labels, matches[0] the nearest. {fit}"
    )


def model_input_shape(model: Any, role: str = "query") -> tuple[int, int, int]:
    """The ``(C, H, W)`` images the model takes; refuses vector models and unknown shapes.

    ``role="document"``: the shape of what is enrolled, which a half-twin (two towers: trained with
    ``task: half_twin``, or a HalfTwinNetwork saved in Python) embeds with branch g, whose input
    size may differ from branch f's.
    """
    if role == "document" and getattr(model, "kind", None) == "half_twin":
        shape = model.preprocess_g.input_shape
    else:
        shape = as_embedding_model(model).input_shape
    if shape is None and over_text_encoder(model):
        raise ValueError(generic_text_model_refusal("the model", model))
    if shape is None or len(shape) != 3 or shape[0] not in (1, 3):
        raise ValueError(
            f"the service serves image models with a known input shape (C, H, W) and 1 or 3 "
            f"channels; this model's input shape is {shape!r}. Save the model with "
            "Preprocess(input_shape=(C, H, W))."
        )
    c, h, w = (int(s) for s in shape)
    return c, h, w


class ServiceEngine:
    """Model + gallery + thumbnails, with the compute pool that serialises model calls.

    Args:
        model: a siamkit model (``embed``, ``distance``, ``input_shape``, ``threshold``), e.g.
            from :func:`siamkit.load_model`, or an ONNX Runtime adapter with the same contract.
        gallery_path: the gallery file, created on first use; None serves ``/verify`` of two
            images and ``/embed`` only (the gallery endpoints answer 409).
        limits: request limits; ``compute_threads`` sizes the pool.
        index: the gallery's search index kind.
        threshold: the decision threshold on the distance; default ``model.threshold`` (a text
            model without one: its default, as :class:`~siamkit.index.Gallery` reads it).
        model_name: what ``/info`` calls the model (``siamkit serve`` passes the name of
            the MODEL folder, not its path); None when unnamed.

    Example:
        >>> engine = ServiceEngine(model, "staff.db")  # doctest: +SKIP
        >>> engine.call_sync(engine.identify, image, 5)[0].label  # one (1, C, H, W) image  # doctest: +SKIP
        'alice'
    """

    def __init__(
        self,
        model: Any,
        gallery_path: str | Path | None,
        limits: ServiceLimits | None = None,
        index: str = "exact",
        threshold: float | None = None,
        model_name: str | None = None,
    ) -> None:
        refusal = one_branch_refusal(model)
        if refusal is not None:  # /enroll and /verify need both branches, gallery or none
            raise ValueError(refusal)
        self.limits = limits or ServiceLimits()
        self.model = model
        self.model_name = model_name
        self.input_kind: str = getattr(model, "input_kind", "image")
        # a text model takes strings (siamkit.service.text_routes): it has no image size
        self.input_shape: tuple[int, int, int] = (
            (0, 0, 0) if self.input_kind == "text" else model_input_shape(model)
        )
        # what is enrolled (and /verify's file_b): a half-twin's branch g may take another size
        self.reference_shape: tuple[int, int, int] = (
            self.input_shape if self.input_kind == "text" else model_input_shape(model, "document")
        )
        if isinstance(model, torch.nn.Module):
            model.eval()
        self._gallery: Gallery | None = None
        self._thumbnails: ThumbnailStore | None = None
        # the thumbnails shown by label are read with the gallery file (live_thumbnails)
        self._gallery_file = None if gallery_path is None else str(gallery_path)
        self.distance_name = model_distance(model).name
        if threshold is None:
            threshold, _ = model_threshold(model)
        self.threshold: float | None = threshold
        self.embedding_dim = model_embedding_dim(model)
        self.embedding_parts = embedding_parts(model)
        self.fingerprint = model_fingerprint(model)
        self.takes_photos = getattr(model, "input_kind", None) == "photo"
        self.finds_faces = callable(getattr(model, "faces_in", None))
        # a face model that says how many faces each photo showed (its largest is used)
        self.counts_faces = callable(getattr(model, "largest_faces", None))
        if gallery_path is not None:
            self._gallery = Gallery.open(gallery_path, model, index=index, threshold=threshold)
            try:
                # the search index now, before serve answers /health: built at the first
                # /identify, it held that request and the ones behind it (4 s for 200k items)
                sync_index(self._gallery)
                self._thumbnails = ThumbnailStore(thumbnails_path_for(gallery_path))
            except BaseException:
                self._gallery.close()
                raise
        self._pool = ThreadPoolExecutor(
            self.limits.compute_threads, thread_name_prefix="siamkit-compute"
        )

    @property
    def has_gallery(self) -> bool:
        return self._gallery is not None

    @property
    def gallery(self) -> Gallery:
        """The gallery; 409 when the service was started without one."""
        if self._gallery is None:
            raise _no_gallery(self.input_kind)
        return self._gallery

    def not_enrolled(self, label: str) -> RequestError:
        """The 404 for a label that is not enrolled (compute thread), in the words of
        :func:`unknown_label_sentence`."""
        labels = [i.label for i in self.gallery.labels()]
        return RequestError(404, unknown_label_sentence(label, labels, self.input_kind))

    async def empty_gallery_hint(self) -> str | None:
        """:func:`empty_gallery_hint` when the gallery is empty, else ``None`` (``/identify``
        asks only when it found no match)."""
        empty = await self.call(len, self.gallery) == 0
        return empty_gallery_hint(self.input_kind) if empty else None

    @property
    def thumbnails(self) -> ThumbnailStore:
        """The gallery's thumbnails; 409 when the service was started without a gallery."""
        if self._thumbnails is None:
            raise _no_gallery(self.input_kind)
        return self._thumbnails

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the compute pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    def call_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the compute pool and wait (for callers outside an event loop)."""
        return self._pool.submit(fn, *args).result()

    async def on_images(
        self, uploads: list[Upload], fn: Callable[..., T], *args: Any, role: str = "query"
    ) -> T:
        """Decode ``uploads`` and run ``fn(images, *args)``, both in one trip to the compute pool.

        ``images`` is the ``(N, C, H, W)`` batch of the model's input size (``role``
        ``"document"``: the size of what is enrolled, :attr:`reference_shape`; ``"pair"``: a
        probe and a reference, ``((1, C, H, W), (1, C', H', W'))`` at those sizes), or for a model that
        takes whole photos (a face model: ``input_kind == "photo"``) the list of ``(3, H, W)``
        photos at their own sizes, so that its detector sees every face at full resolution.
        """

        if self.input_kind == "text":
            raise RequestError(
                415, "This service's model is a text model: send JSON with text, not images."
            )
        check_all_dimensions(uploads, self.limits)  # headers only: refused before queueing

        def work() -> T:
            if not self.takes_photos:
                if role == "pair":
                    a = decode_images(uploads[:1], self.input_shape, self.limits)
                    b = decode_images(uploads[1:], self.reference_shape, self.limits)
                    return fn((a, b), *args)
                shape = self.reference_shape if role == "document" else self.input_shape
                return fn(decode_images(uploads, shape, self.limits), *args)
            try:
                return fn(decode_photos(uploads, self.limits), *args)
            except NoFaceError as err:  # name the upload: its index is the batch's
                named = name_the_photo(err, [u.name for u in uploads])
                if named is None:
                    raise
                raise RequestError(400, str(named)) from None

        return await self.call(work)

    # ------------------------------------------------------------ operations (compute thread)
    def enroll(
        self, x: torch.Tensor, label: str, uploads: list[Upload]
    ) -> tuple[list[int], int, int, list[int] | None]:
        """Enroll ``(N, C, H, W)`` images under ``label``, each with its upload's file name as its
        source (:meth:`siamkit.index.Gallery.sources`), and keep thumbnails of their ``uploads``.

        An image the label already holds (the same embedding: enrolled before, or sent twice) is
        skipped (:meth:`siamkit.index.Gallery.enroll_embeddings`, ``skip_repeats``). Returns the
        new item ids, the label's item count, how many images were skipped, and for a face
        model how many faces each photo showed (None for other models). ``label`` is the
        route's, checked there (:func:`~siamkit.service.route_checks.check_new_label`).
        """
        gallery = self.gallery  # 409 without one, before the model runs
        thumbnails = thumbnails_of(uploads)
        # each item keeps its upload's file name (the name alone), so that "item 7" in
        # /identify or /recommend can be traced back to its photo, as siamkit enroll keeps paths
        names = [u.filename for u in uploads]
        sources = names if any(n is not None for n in names) else None
        said = [u.name for u in uploads]  # a NaN named by its upload, as /verify names its fields
        if self.counts_faces:
            z, counts = self.largest_faces(x, said)
        else:  # what Gallery.enroll stored: the document tower's (a half-twin's branch g)
            z, counts = self.embedded(x, said, role="document"), None
        ids = gallery.enroll_embeddings(label, z, skip_repeats=True, sources=sources)
        # kept after the commit and read back, as siamkit enroll keeps them: a removal of these
        # items in between (another request, another process) leaves none under an id never reused
        self.thumbnails.put_enrolled_live(gallery, label, ids, thumbnails)
        return list(ids), self.label_count(label, len(ids)), len(ids.skipped), counts

    def embedded(
        self, x: Any, names: list[str], role: str = "query", one: bool = False
    ) -> np.ndarray:
        """The model's embeddings of the decoded uploads ``x`` (``role``'s tower, as
        :func:`~siamkit.index.embedding.embed_inputs` and so a gallery embeds them), refused
        as it refuses NaN or infinite ones but naming the uploads by ``names`` (their words,
        ``'b.png' (image 2)``), where an image model's /enroll, /identify and /embed said "the
        inputs (rows 0, 1)" (s58_r3 finding 2). ``one``: of the one upload a route takes."""
        z = embed_inputs(self.model, x, role=role, refuse=False)
        if self.takes_photos:
            of = "the photo's largest face" if one else "the photos' largest faces"
        else:
            of = "the image" if one else "the images"
        return model_embeddings(z, of, names)

    def largest_faces(self, x: Any, names: list[str]) -> tuple[np.ndarray, list[int]]:
        """A face model's embeddings of the largest face of each photo, refused as
        :func:`~siamkit.index.embedding.embed_inputs` refuses any model's NaN or infinite ones
        but naming the photos by ``names`` (the uploads' words, ``'b.png' (image 1)``, where
        /enroll said "(rows 0)"), and how many faces each photo showed."""
        z, counts = self.model.largest_faces(x)
        return model_embeddings(z, "the photos' largest faces", names), counts

    def verify_pair(self, x: Any) -> VerifyResult:
        """1:1 verification of the two ``(2, C, H, W)`` images, or of a probe and a reference
        ``((1, C, H, W), (1, C', H', W'))`` (:meth:`on_images`'s ``"pair"``; a face model's two
        photos are embedded in one call, so that a photo without a face is named by its own
        index)."""
        a, b = x if isinstance(x, tuple) else (x[:1], x[1:])
        return verify_pair(self.model, a, b, names=PAIR_FIELDS)  # a NaN named by its field

    def verify_pair_faces(self, x: Any) -> tuple[VerifyResult, list[int] | None]:
        """:meth:`verify_pair`, and for a face model how many faces each of its two photos
        showed (the largest of each is compared; None for other models)."""
        if not self.counts_faces:
            return self.verify_pair(x), None
        threshold, _ = model_threshold(self.model)
        z, counts = self.model.largest_faces(x)  # a NaN named by its field, as verify_pair does
        z = model_embeddings(
            z, "the photos' largest faces", [repr(f) for f in PAIR_FIELDS], which=NO_VERDICT
        )
        return verify_embedded(self.model, z[:1], z[1:], threshold), counts

    def verify_label(self, x: torch.Tensor, label: str) -> VerifyResult:
        """Is the ``(1, C, H, W)`` image ``label``? 404 if the label is not enrolled. A NaN
        embedding is refused by its field, as :meth:`verify_pair` refuses one: "... made of the
        image hold NaN or infinite values ('file'), which no verdict can be given on", where
        the gallery said "the inputs (rows 0), which no search can rank" (s57_FA Q1)."""
        z = embed_inputs(self.model, x, refuse=False)
        of = "the photo's largest face" if self.takes_photos else "the image"
        z = model_embeddings(z, of, [repr("file")], which=NO_VERDICT)
        try:
            return self.gallery.verify_embedding(z, label)
        except UnknownLabelError:
            raise self.not_enrolled(label) from None

    def verify_label_faces(self, x: Any, label: str) -> tuple[VerifyResult, list[int] | None]:
        """:meth:`verify_label`, and for a face model how many faces the photo showed (the
        largest is compared; None for other models)."""
        if not self.counts_faces:
            return self.verify_label(x, label), None
        z, counts = self.model.largest_faces(x)  # a NaN named by its field, as verify_label does
        z = model_embeddings(z, "the photo's largest face", [repr("file")], which=NO_VERDICT)
        try:
            return self.gallery.verify_embedding(z, label), counts
        except UnknownLabelError:
            raise self.not_enrolled(label) from None

    def identify(
        self, x: torch.Tensor, k: int, name: str = "the image"
    ) -> tuple[IdentifyResult, dict[int, bytes]]:
        """The ``k`` nearest labels of one ``(1, C, H, W)`` image, and the matches' thumbnails;
        a NaN embedding is refused naming the image by ``name`` (the upload's words)."""
        gallery = self.gallery  # 409 without one, before the model runs
        result = gallery.identify_embeddings(self.embedded(x, [name], one=True), k=k)[0]
        return result, self.thumbnails.get([m.item_id for m in result.matches])

    def identify_faces(
        self, x: list[torch.Tensor], k: int, name: str = "the photo"
    ) -> tuple[IdentifyResult, dict[int, bytes], list[FoundFace]]:
        """Every face of one photo (a face model's ``faces_in``), largest first, with its ``k``
        nearest labels; the first (largest) face's result; the matches' thumbnails. No face:
        an empty result and no faces. A NaN embedding is refused by ``name`` (the upload's
        words) and the face's box, as ``siamkit face identify`` names it, where it was "the
        faces found in the photo (largest first) ... (rows 1)"."""
        boxes, z = self.model.faces_in(x[0])
        if not boxes:
            return IdentifyResult([], None), {}, []
        z = model_embeddings(z, f"the faces found in {name}", [box_name(b) for b in boxes])
        results = self.gallery.identify_embeddings(z, k=k)
        thumbs = self.thumbnails.get([m.item_id for r in results for m in r.matches])
        faces = [FoundFace(b.as_dict(), r) for b, r in zip(boxes, results)]
        return results[0], thumbs, faces

    def embed(self, x: torch.Tensor, names: list[str]) -> np.ndarray:
        """``(N, C, H, W)`` images -> ``(N, D)`` float32 embeddings, a NaN refused naming the
        images (a face model's photos) by ``names`` (:meth:`embedded`), where /embed said
        "(rows 0, 1)" (s58_r3 findings 1 and 2)."""
        return self.embedded(x, names)

    def remove(self, label: str) -> int:
        """Remove every item of ``label``; 404 if it is not enrolled."""
        try:
            removed = self.gallery.remove(label)
        except UnknownLabelError:
            raise self.not_enrolled(label) from None
        self.thumbnails.remove_label(label)
        return removed

    def remove_item(self, item_id: int) -> tuple[str, int]:
        """Remove one item with its thumbnail (a text's preview); returns its label and how many
        items the label has left (0: it is no longer in the gallery). 404 if no item has the id.
        """
        try:
            label = self.gallery.remove_items([item_id])[item_id]
        except UnknownItemError:
            raise RequestError(404, unknown_item_sentence(item_id, self.input_kind)) from None
        # the gallery deleted it beside its file; one in memory is this store alone
        self.thumbnails.remove_items([item_id])
        return label, self.label_count(label)

    def label_images(self, label: str) -> list[tuple[int, bytes]]:
        """``[(item_id, png)]`` thumbnails of one enrolled label; 404 if it is not enrolled."""
        if label not in self.gallery:  # in the words of DELETE and /verify's refusal
            raise self.not_enrolled(label)
        return self.thumbnails.of_label(label, **self.live_thumbnails())

    def live_thumbnails(self) -> dict[str, Any]:
        """The arguments of :meth:`~siamkit.index.thumbnail_store.ThumbnailStore.of_label` and
        ``first_per_label`` that keep to the thumbnails of items the gallery holds under that
        label: one of an item gone (an enrollment killed between keeping its thumbnails and
        reading its items back, an older siamkit's removal, items deleted by hand) stays, and a
        label enrolled again showed the removed item's picture as its own. Also only ids up to the gallery's
        largest (a gallery in memory, which cannot be attached): a text enrollment killed
        before its commit leaves its previews under ids above it until the next enrollment
        deletes them."""
        return {"max_item_id": self.gallery.max_item_id(), "gallery": self._gallery_file}

    def label_count(self, label: str, default: int = 0) -> int:
        """How many items ``label`` has in the gallery; ``default`` when it is not enrolled.
        Read by the label: counting every label (``labels()``) took 2.7 s an enrollment at
        200,000 labels, on the one compute thread every request waits for."""
        return self.gallery.label_count(label) or default

    def labels(self) -> list[LabelSummary]:
        """Every enrolled label with its count and first thumbnail, sorted by label."""
        thumbs = self.thumbnails.first_per_label(**self.live_thumbnails())
        return [LabelSummary(i.label, i.count, thumbs.get(i.label)) for i in self.gallery.labels()]

    def stats(self) -> GalleryStats | None:
        return self._gallery.stats() if self._gallery is not None else None

    def close(self) -> None:
        """Finish running calls, then close the gallery and the thumbnail store."""
        self._pool.shutdown(wait=True)
        if self._gallery is not None:
            self._gallery.close()
        if self._thumbnails is not None:
            self._thumbnails.close()
