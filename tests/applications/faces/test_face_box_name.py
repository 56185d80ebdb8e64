"""A face is named by its box in one wording, ``box (left, top)-(right, bottom)``, wherever
siamkit names it: ``siamkit face identify``'s lines, the refusal of a NaN face by
:func:`~siamkit.applications.faces.recognize.identify_faces` (the command line) and by the
service's ``identify_faces``. The three wrote the format out each (s58_FB, note); now they share
:func:`~siamkit.applications.faces.detect.box_name`. Each place is pinned here to the literal
text it gave before, with no detector or model: fakes hand it the boxes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from siamkit.applications.faces.detect import FaceBox, box_name
from siamkit.applications.faces.pipeline import Face

BOXES = [FaceBox(175, 76, 265, 166, 1.16), FaceBox(3, 40, 20, 58, 0.25)]
NAMES = "box (175, 76)-(265, 166), box (3, 40)-(20, 58)"


def test_a_box_and_its_dict_are_named_alike():
    assert box_name(BOXES[0]) == "box (175, 76)-(265, 166)"
    assert box_name(BOXES[0].as_dict()) == "box (175, 76)-(265, 166)"
    assert box_name(FaceBox(-2, 0, 9, 10, 0.0)) == "box (-2, 0)-(9, 10)"  # dlib may go past 0


def test_face_identify_prints_each_face_by_its_box():
    from siamkit.cli.face_cmds import _identify_text

    match = {"label": "eileen", "distance": 0.31, "accepted": True, "source": None}
    faces = [
        {"box": BOXES[0].as_dict(), "label": "eileen", "matches": [match]},
        {"box": BOXES[1].as_dict(), "label": None, "matches": []},
    ]
    docs = [{"image": "team.jpg", "faces": faces}]
    assert _identify_text(docs, "hint") == (
        "team.jpg: 2 faces\n"
        "  box (175, 76)-(265, 166): eileen\n"
        "    1. eileen                   distance 0.3100  accepted\n"
        "  box (3, 40)-(20, 58): unknown"
    )


def _nan_rows() -> np.ndarray:
    return np.full((2, 4), np.nan, dtype=np.float32)


def test_identify_faces_refuses_nan_faces_by_their_boxes():
    from siamkit.applications.faces.recognize import identify_faces
    from siamkit.index.base import UnrankableEmbeddingsError

    z = _nan_rows()
    pipe = SimpleNamespace(faces=lambda image, refuse: [Face(b, e) for b, e in zip(BOXES, z)])
    with pytest.raises(UnrankableEmbeddingsError) as e:
        identify_faces(pipe, None, np.zeros((8, 8, 3), np.uint8), name="'team.jpg'")
    assert str(e.value) == (
        "2 of the 2 embeddings the model made of the faces found in 'team.jpg' hold NaN or "
        f"infinite values ({NAMES}), which no search can rank"
    )


def test_the_service_refuses_nan_faces_by_their_boxes():
    from siamkit.index.base import UnrankableEmbeddingsError
    from siamkit.service.engine import ServiceEngine

    engine = SimpleNamespace(model=SimpleNamespace(faces_in=lambda x: (BOXES, _nan_rows())))
    with pytest.raises(UnrankableEmbeddingsError) as e:
        ServiceEngine.identify_faces(engine, [np.zeros((8, 8, 3))], 1, "'q.png' (the image)")
    assert str(e.value) == (
        "2 of the 2 embeddings the model made of the faces found in 'q.png' (the image) hold "
        f"NaN or infinite values ({NAMES}), which no search can rank"
    )
