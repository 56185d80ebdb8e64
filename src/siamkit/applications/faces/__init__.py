"""Faces: detection, 5-point alignment and dlib's pretrained 128-d encoder as a siamkit model,
plus the LFW pairs protocol and open-set 1:N evaluation. Needs ``pip install 'siamkit[face]'``.

Names are imported on first use (PEP 562): ``siamkit face verify`` reads two photos and runs dlib
without importing torch, which would cost a new process about a second.

Example:
    >>> from siamkit.applications.faces import FacePipeline, read_rgb  # doctest: +SKIP
    >>> faces = FacePipeline().faces(read_rgb("team.jpg"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "CHIP_PADDING": "align",
    "CHIP_SIZE": "align",
    "FaceAligner": "align",
    "DLIB_THRESHOLD": "descriptor",
    "DlibDescriptor": "descriptor",
    "FaceBox": "detect",
    "FaceDetector": "detect",
    "NoFaceError": "errors",
    "DlibFaceEncoder": "model",
    "Face": "pipeline",
    "FacePipeline": "pipeline",
    "load_embedder": "pipeline",
    "read_rgb": "pipeline",
    "ChosenFace": "recognize",
    "FaceVerification": "recognize",
    "identify_faces": "recognize",
    "largest_face_of": "recognize",
    "verify_faces": "recognize",
}

if TYPE_CHECKING:
    from siamkit.applications.faces.align import CHIP_PADDING, CHIP_SIZE, FaceAligner
    from siamkit.applications.faces.descriptor import DLIB_THRESHOLD, DlibDescriptor
    from siamkit.applications.faces.detect import FaceBox, FaceDetector
    from siamkit.applications.faces.errors import NoFaceError
    from siamkit.applications.faces.model import DlibFaceEncoder
    from siamkit.applications.faces.pipeline import Face, FacePipeline, load_embedder, read_rgb
    from siamkit.applications.faces.recognize import (
        ChosenFace,
        FaceVerification,
        identify_faces,
        largest_face_of,
        verify_faces,
    )


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_WHERE)


__all__ = [
    "CHIP_PADDING",
    "CHIP_SIZE",
    "DLIB_THRESHOLD",
    "ChosenFace",
    "DlibDescriptor",
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
