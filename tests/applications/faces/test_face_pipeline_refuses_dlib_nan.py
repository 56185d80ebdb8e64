""":class:`FacePipeline`'s default (``refuse=True``) refused only a siamkit face model's NaN
embeddings: dlib's were handed back as made by :meth:`~FacePipeline.faces`,
:meth:`~FacePipeline.largest_face` and :func:`largest_face_of`, so a Python caller comparing two
photos with ``pipe.distance`` got a NaN distance, which :func:`siamkit.decision.accepts` reads as
"different person". Nothing downstream can use a NaN descriptor (a gallery and every search
refuse it), so dlib's are refused by default too, in the siamkit model's sentence;
``refuse=False`` still hands them back for callers that refuse them by the photo."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.faces import FacePipeline, largest_face_of
from siamkit.applications.faces.descriptor import DlibDescriptor
from siamkit.index.base import UnrankableEmbeddingsError

CALLS = [
    lambda pipe, img, **kw: pipe.faces(img, **kw)[0].embedding,
    lambda pipe, img, **kw: pipe.largest_face(img, **kw)[0].embedding,
    lambda pipe, img, **kw: largest_face_of(pipe, img, "a", **kw).face.embedding,
]
IDS = ["faces", "largest_face", "largest_face_of"]


@pytest.fixture
def dlib_pipe():
    return FacePipeline(DlibDescriptor())


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_dlibs_nan_is_refused_by_default(monkeypatch, dlib_pipe, astronaut, call):
    sound = call(dlib_pipe, astronaut)
    real = DlibDescriptor.embed_chips
    monkeypatch.setattr(
        DlibDescriptor, "embed_chips", lambda self, c: real(self, c) * np.float32("nan")
    )
    with pytest.raises(UnrankableEmbeddingsError) as err:
        call(dlib_pipe, astronaut)
    n = 1 if call is not CALLS[0] else len(dlib_pipe.detect(astronaut))  # faces: every face
    rows = ", ".join(map(str, range(n)))
    assert str(err.value) == (
        f"{n} of the {n} embeddings the model made of the inputs hold NaN or infinite values "
        f"(rows {rows}), which no search can rank"
    )
    made = call(dlib_pipe, astronaut, refuse=False)  # as made, for callers that refuse it
    assert made.shape == sound.shape and np.isnan(made).all()


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_dlibs_sound_embedding_is_handed_back_unchanged(monkeypatch, dlib_pipe, astronaut, call):
    want = DlibDescriptor().embed_chips(
        dlib_pipe.aligner.chips(astronaut, dlib_pipe.detect(astronaut)[:1])
    )[0]
    got = call(dlib_pipe, astronaut)
    assert got.dtype == want.dtype and np.array_equal(got, want)
