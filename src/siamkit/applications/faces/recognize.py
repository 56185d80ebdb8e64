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

from siamkit.applications.faces.errors import NoFaceError
from siamkit.applications.faces.pipeline import Face, FacePipeline
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


def largest_face_of(pipe: FacePipeline, image: np.ndarray, name: str) -> ChosenFace:
    """The largest face of ``image``; :class:`NoFaceError` naming ``name`` if there is none."""
    face, n = pipe.largest_face(image)
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
    verdict ``face identify`` and the service give it."""
    a, b = largest_face_of(pipe, image_a, names[0]), largest_face_of(pipe, image_b, names[1])
    distance, name = pipe.distance(a.face.embedding, b.face.embedding)
    used = threshold if threshold is not None else pipe.threshold
    same = None if used is None else bool(accepts(distance, used))
    return FaceVerification(same, distance, used, name, a, b)


def identify_faces(
    pipe: FacePipeline, gallery: Gallery, image: np.ndarray, k: int = 3
) -> list[tuple[Face, IdentifyResult]]:
    """Every face of ``image`` (largest first) with its ``k`` nearest enrolled labels; an
    ``IdentifyResult.label`` of ``None`` is an unknown face. Empty when there is no face."""
    faces = pipe.faces(image)
    if not faces:
        return []
    results = gallery.identify_embeddings(np.stack([f.embedding for f in faces]), k=k)
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
