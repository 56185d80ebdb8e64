"""Face verification (1:1, the largest face of each photo) and identification (every face, 1:N).

Example:
    >>> r = verify_faces(FacePipeline(), read_rgb("id.jpg"), read_rgb("selfie.jpg"))  # doctest: +SKIP
    >>> r.same, round(r.distance, 3), r.a.note  # doctest: +SKIP
    (True, 0.412, None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from siamkit.applications.faces.detect import box_name
from siamkit.applications.faces.errors import NoFaceError
from siamkit.applications.faces.pipeline import Face, FacePipeline
from siamkit.clauses import NO_VERDICT
from siamkit.decision import accepts

if TYPE_CHECKING:
    from siamkit.index import Gallery, IdentifyResult


@dataclass(frozen=True)
class ChosenFace:
    """The face used from one photo: the largest of ``faces_found``."""

    name: str
    face: Face
    faces_found: int

    @property
    def note(self) -> str | None:
        """A sentence when the photo had more than one face, else ``None``."""
        return several_faces_note(self.faces_found, self.name)


def several_faces_note(faces_found: int, name: str) -> str | None:
    """``"2 faces found in NAME; using the largest"`` for a photo of more than one face, else
    ``None``: the note of ``siamkit face enroll / verify`` and of the service's answers."""
    if faces_found > 1:
        return f"{faces_found} faces found in {name}; using the largest"
    return None


@dataclass(frozen=True)
class FaceVerification:
    """``same`` is ``distance <= threshold`` within float32 rounding
    (:func:`siamkit.decision.accepts`), ``None`` without a threshold."""

    same: bool | None
    distance: float
    threshold: float | None
    distance_name: str
    a: ChosenFace
    b: ChosenFace


def checked_faces(
    z: np.ndarray, of: str, names: list[str], which: str = "no search can rank"
) -> np.ndarray:
    """The embeddings ``z`` a face model made of ``of`` (one row a face, named by ``names``: a
    photo, or a face's box in one) as float32, refused where a row holds NaN or infinite values
    in the gallery's sentence and class
    (:func:`~siamkit.index.embedding.model_embeddings`); ``which``: what the caller cannot do
    with them. The face pipeline refused a siamkit model's rows itself, as "the inputs (rows 0,
    1)", naming neither the photo nor the face (s56_R3 finding 1); dlib's were not refused at
    all (verify gave a NaN distance's "different people"). :mod:`siamkit.index` (torch) is
    imported only to word a refusal: ``siamkit face verify`` with dlib starts without torch."""
    z = np.asarray(z)
    if z.dtype == np.float32 and np.isfinite(z).all():
        return z
    from siamkit.index.embedding import model_embeddings

    return model_embeddings(z, of, names, which=which)


def largest_face_of(
    pipe: FacePipeline, image: np.ndarray, name: str, refuse: bool = True
) -> ChosenFace:
    """The largest face of ``image``; :class:`NoFaceError` naming ``name`` if there is none. A
    NaN or infinite embedding (a siamkit model's or dlib's) is refused as
    :meth:`FacePipeline.largest_face` refuses it; ``refuse=False`` returns it unchecked, for
    :func:`verify_faces` and ``siamkit face enroll``, which refuse a NaN by the photo, counted
    against the photos they embed."""
    face, n = pipe.largest_face(image, refuse=refuse)
    if face is None:
        raise NoFaceError(f"no face found in {name}")
    return ChosenFace(name, face, n)


def verify_faces(
    pipe: FacePipeline,
    image_a: np.ndarray,
    image_b: np.ndarray,
    threshold: float | None = None,
    names: tuple[str, str] = ("the first image", "the second image"),
) -> FaceVerification:
    """Do two ``(H, W, 3)`` uint8 RGB photos show the same person? Their largest faces compared
    with the model's distance against ``threshold`` (default: the model's, 0.6 for dlib), by the
    rule of every siamkit verdict (:func:`siamkit.decision.accepts`), so that a pair gets the
    verdict ``face identify`` and the service give it. A NaN or infinite embedding is refused
    by its photo's name (:class:`~siamkit.index.base.UnrankableEmbeddingsError`): its distance
    was NaN, and no pair is the same person at NaN."""
    a = largest_face_of(pipe, image_a, names[0], refuse=False)  # refused below, by the photo
    b = largest_face_of(pipe, image_b, names[1], refuse=False)
    pair = np.stack([a.face.embedding, b.face.embedding])
    checked_faces(pair, "the photos' largest faces", [repr(str(n)) for n in names], NO_VERDICT)
    distance, name = pipe.distance(a.face.embedding, b.face.embedding)
    used = threshold if threshold is not None else pipe.threshold
    same = None if used is None else bool(accepts(distance, used))
    return FaceVerification(same, distance, used, name, a, b)


def identify_faces(
    pipe: FacePipeline, gallery: Gallery, image: np.ndarray, k: int = 3, name: str = "the image"
) -> list[tuple[Face, IdentifyResult]]:
    """Every face of ``image`` (largest first) with its ``k`` nearest enrolled labels; an
    ``IdentifyResult.label`` of ``None`` is an unknown face. Empty when there is no face. A NaN
    or infinite embedding is refused by ``name`` (the photo's) and the face's box, as
    ``siamkit face identify`` prints it."""
    faces = pipe.faces(image, refuse=False)  # refused below, by the photo and the box
    if not faces:
        return []
    boxes = [box_name(f.box) for f in faces]
    z = checked_faces(np.stack([f.embedding for f in faces]), f"the faces found in {name}", boxes)
    results = gallery.identify_embeddings(z, k=k)
    return list(zip(faces, results))


def face_record(chosen: ChosenFace) -> dict[str, Any]:
    """JSON-ready description of a chosen face: image, box, faces found, note."""
    doc: dict[str, Any] = {
        "image": chosen.name,
        "box": chosen.face.box.as_dict(),
        "faces_found": chosen.faces_found,
    }
    if chosen.note:
        doc["note"] = chosen.note
    return doc
