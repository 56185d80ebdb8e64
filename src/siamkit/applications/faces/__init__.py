"""Faces: detection, 5-point alignment and dlib's pretrained 128-d encoder as a siamkit model,
plus the LFW pairs protocol and open-set 1:N evaluation. Needs ``pip install 'siamkit[face]'``.

Example:
    >>> from siamkit.applications.faces import FacePipeline, read_rgb  # doctest: +SKIP
    >>> faces = FacePipeline().faces(read_rgb("team.jpg"))  # doctest: +SKIP
"""

from siamkit.applications.faces.align import CHIP_PADDING, CHIP_SIZE, FaceAligner
from siamkit.applications.faces.detect import FaceBox, FaceDetector
from siamkit.applications.faces.model import DLIB_THRESHOLD, DlibFaceEncoder, NoFaceError
from siamkit.applications.faces.pipeline import Face, FacePipeline, load_embedder, read_rgb
from siamkit.applications.faces.recognize import (
    ChosenFace,
    FaceVerification,
    identify_faces,
    largest_face_of,
    verify_faces,
)

__all__ = [
    "CHIP_PADDING",
    "CHIP_SIZE",
    "DLIB_THRESHOLD",
    "ChosenFace",
    "DlibFaceEncoder",
    "Face",
    "FaceAligner",
    "FaceBox",
    "FaceDetector",
    "FacePipeline",
    "FaceVerification",
    "NoFaceError",
    "identify_faces",
    "largest_face_of",
    "load_embedder",
    "read_rgb",
    "verify_faces",
]
