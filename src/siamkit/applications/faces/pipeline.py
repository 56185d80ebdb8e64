"""Every face in an image, with its box and embedding: detector -> aligner -> embedder.

The embedder is dlib's pretrained encoder (:class:`DlibFaceEncoder`, the default, or the torch-free
:class:`DlibDescriptor` for commands that store nothing) or any siamkit image model trained on face
chips (e.g. ``siamkit train`` on a folder per person, cropped with ``siamkit face crop``): chips
are resized to its input shape and embedded with ``model.embed``. This module imports torch only
for the latter, so ``siamkit face verify`` with dlib starts without it.

Example:
    >>> pipe = FacePipeline()  # doctest: +SKIP
    >>> [f.box.as_dict() for f in pipe.faces(read_rgb("team.jpg"))]  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from siamkit.applications.faces.align import FaceAligner
from siamkit.applications.faces.descriptor import DlibDescriptor
from siamkit.applications.faces.detect import FaceBox, FaceDetector
from siamkit.applications.faces.errors import NotAFaceModelError
from siamkit.image_decode import DEFAULT_MAX_PIXELS, decode_image

if TYPE_CHECKING:
    from siamkit.applications.faces.model import DlibFaceEncoder


@dataclass(frozen=True)
class Face:
    """One detected face: its box and its ``(D,)`` float32 embedding."""

    box: FaceBox
    embedding: np.ndarray


def read_rgb(
    source: str | os.PathLike[str] | bytes, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """An image file (or its bytes) as ``(H, W, 3)`` uint8 RGB; :class:`ImageReadError` if unreadable."""
    return decode_image(source, channels=3, max_pixels=max_pixels)


@functools.lru_cache(maxsize=1)
def _default_encoder() -> DlibFaceEncoder:
    """One dlib encoder per process (it checksums its 30 MB of network files)."""
    from siamkit.applications.faces.model import DlibFaceEncoder

    return DlibFaceEncoder()


def load_embedder(model: str | os.PathLike[str] | None = None, store: bool = True) -> Any:
    """``None`` or ``"dlib"``: dlib's pretrained encoder; otherwise a saved siamkit model folder.

    ``store=False`` (nothing will be enrolled or looked up in a gallery) gives dlib's encoder as
    the torch-free :class:`DlibDescriptor`, which starts several times faster. A model that is
    no image model, or a signature model (``metadata.signatures``: it takes 1-channel images,
    but of binarised ink), is refused with a :class:`NotAFaceModelError` (a ``ValueError``)
    naming the folder.
    """
    if model is None or str(model) == "dlib":
        return _default_encoder() if store else DlibDescriptor()
    import siamkit
    from siamkit.export.bundle import read_model_config

    net = siamkit.load_model(model)
    what: str | None
    if "signatures" in read_model_config(model).get("metadata", {}):  # the signature task's
        what = "a signature model (it embeds binarised signature scans), not a face model"
    else:
        kind = _not_an_image_model(net)
        what = None if kind is None else f"{kind}, not a face (image embedding) model"
    if what is not None:
        raise NotAFaceModelError(
            f"{model} is {what}; use dlib's encoder or a siamkit model trained on face chips", what
        )
    return net


def _embeds_chips(embedder: Any) -> bool:
    """dlib's encoder in either form (:class:`DlibFaceEncoder`, :class:`DlibDescriptor`): it
    embeds aligned chips itself; a siamkit model embeds resized image batches."""
    return callable(getattr(embedder, "embed_chips", None))


_KIND_WORDS = {"siamfc": "a tracker (siamfc) model", "text": "a text model"}


def _not_an_image_model(embedder: Any) -> str | None:
    """``None`` for a model that can embed face chips; else what it is, e.g. ``"a text model"``."""
    if _embeds_chips(embedder):
        return None
    shape = getattr(embedder, "input_shape", None)
    if shape is not None and len(shape) == 3 and shape[0] in (1, 3):
        return None
    kind = getattr(embedder, "kind", None) or type(embedder).__name__
    if kind in _KIND_WORDS:
        return _KIND_WORDS[kind]
    if shape is None:
        return f"a {kind!r} model with no image input shape"
    return f"a {kind!r} model of input shape {tuple(shape)} (not 1- or 3-channel images)"


class FacePipeline:
    """Detect, align and embed faces.

    Args:
        embedder: a :class:`DlibFaceEncoder` (default: a new one), a :class:`DlibDescriptor`, or
            a siamkit image model with ``input_shape = (C, H, W)``.
        detector: default: the embedder's own detector for a :class:`DlibFaceEncoder`, else HOG
            with upsample 1.
    """

    def __init__(self, embedder: Any | None = None, detector: FaceDetector | None = None) -> None:
        if embedder is None:
            from siamkit.applications.faces.model import DlibFaceEncoder

            embedder = DlibFaceEncoder()
        what = _not_an_image_model(embedder)
        if what is not None:
            raise ValueError(f"this embedder is {what}, not a face (image embedding) model")
        self._assemble(embedder, detector)

    @classmethod
    def from_model(
        cls,
        model: str | os.PathLike[str] | None = None,
        detector: FaceDetector | None = None,
        store: bool = True,
    ) -> FacePipeline:
        """The pipeline of :func:`load_embedder` ``(model, store)``, which has already refused a
        model that is no face model (naming its folder), so it is checked once, not twice."""
        pipe = cls.__new__(cls)
        pipe._assemble(load_embedder(model, store=store), detector)
        return pipe

    def _assemble(self, embedder: Any, detector: FaceDetector | None) -> None:
        self.embedder = embedder
        self._chips = _embeds_chips(embedder)
        own = getattr(embedder, "detector", None) if self._chips else None
        self.detector = detector or own or FaceDetector()
        self.aligner: FaceAligner = getattr(embedder, "aligner", None) or FaceAligner()

    @property
    def threshold(self) -> float | None:
        """The embedder's distance threshold (``None`` when it has none)."""
        return getattr(self.embedder, "threshold", None)

    def embed_chips(self, chips: np.ndarray, refuse: bool = True) -> np.ndarray:
        """``(F, S, S, 3)`` uint8 aligned chips -> ``(F, D)`` float32 embeddings; refused here
        where a row holds NaN or infinite values, by its row, whichever the model: a siamkit
        model's or dlib's. ``refuse=False`` returns them unchecked, for callers that refuse them
        by the photo (:mod:`~siamkit.applications.faces.recognize`, through :meth:`faces` and
        :meth:`largest_face`): refused here, ``siamkit face identify`` and ``verify`` named "the
        inputs (rows 0, 1)", face positions inside one photo, and verify said "no search" of a
        command that runs none (s56_R3 finding 1).

        dlib's were returned unchecked even so: nothing can use a NaN descriptor (its distance
        is NaN, which a verdict reads as "different people"; a gallery or search refuses it),
        so a caller of :meth:`faces` or :meth:`largest_face` comparing two photos with
        :meth:`distance` got a NaN with dlib where a siamkit model was refused. A sound chip
        costs two reductions (the min/max fast path); torch is imported only to word a refusal,
        so dlib's pipeline still starts without it."""
        if self._chips:
            z = np.asarray(self.embedder.embed_chips(chips))
            if not refuse or (z.size and math.isfinite(z.min()) and math.isfinite(z.max())):
                return z
            from siamkit.index.embedding import model_embeddings

            return model_embeddings(z)  # refused, by its rows, as a siamkit model's
        import torch

        from siamkit.data.image_io import resize_images
        from siamkit.index.embedding import embed_inputs

        c, h, w = self.embedder.input_shape
        x = torch.from_numpy(chips).permute(0, 3, 1, 2).float().div(255.0)  # (F, 3, S, S)
        if c == 1:
            weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x * weights).sum(1, keepdim=True)
        return embed_inputs(self.embedder, resize_images(x, (h, w)), refuse=refuse)

    def distance(self, a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
        """The embedder's distance between two ``(D,)`` embeddings, and the distance's name."""
        if isinstance(self.embedder, DlibDescriptor):
            return self.embedder.distance(a, b), self.embedder.distance_name
        import torch

        from siamkit.index.embedding import model_distance

        dist = model_distance(self.embedder)
        with torch.inference_mode():
            d = dist.pairwise(torch.from_numpy(a[None]), torch.from_numpy(b[None]))
        return float(d[0]), dist.name

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Every face box, largest first."""
        return self.detector(image)

    def faces(self, image: np.ndarray, refuse: bool = True) -> list[Face]:
        """Every face of an ``(H, W, 3)`` uint8 RGB image, largest first, with its embedding;
        NaN or infinite embeddings (a siamkit model's or dlib's) are refused as
        :meth:`embed_chips` refuses them, so that no caller ranks or compares a NaN.
        ``refuse=False`` returns them as the model made them, for a caller that refuses them by
        the photo itself (:func:`~siamkit.applications.faces.recognize.identify_faces`, by the
        photo and the face's box)."""
        boxes = self.detector(image)
        if not boxes:
            return []
        z = self.embed_chips(self.aligner.chips(image, boxes), refuse=refuse)
        return [Face(b, z[i]) for i, b in enumerate(boxes)]

    def largest_face(self, image: np.ndarray, refuse: bool = True) -> tuple[Face | None, int]:
        """The largest face (``None`` if there is none) and how many faces were found; a NaN or
        infinite embedding (a siamkit model's or dlib's) is refused as :meth:`embed_chips`
        refuses it (its distance is NaN, which no verdict may read). ``refuse=False`` returns it
        as the model made it, for a caller that refuses it by the photo itself
        (:func:`~siamkit.applications.faces.recognize.verify_faces`, ``siamkit face enroll``)."""
        boxes = self.detector(image)
        if not boxes:
            return None, 0
        z = self.embed_chips(self.aligner.chips(image, boxes[:1]), refuse=refuse)
        return Face(boxes[0], z[0]), len(boxes)
