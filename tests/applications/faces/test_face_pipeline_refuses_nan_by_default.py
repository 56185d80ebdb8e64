"""8ad3a091 made :meth:`FacePipeline.faces` and :meth:`~FacePipeline.largest_face` (and so
:func:`~siamkit.applications.faces.largest_face_of`, all public) hand back a siamkit face model's
NaN embeddings unchecked, where they were refused before: a Python caller comparing two photos
with ``largest_face_of`` and ``pipe.distance`` got ``(nan, 'euclidean')``, which
:func:`siamkit.decision.accepts` reads as "different person" (s56_FB finding 2). They refuse by
default again; recognize's functions and ``siamkit face enroll`` pass ``refuse=False`` and refuse
by the photo themselves."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.faces import FacePipeline, largest_face_of
from siamkit.index.base import UnrankableEmbeddingsError


@pytest.fixture
def nan_pipe(monkeypatch):
    """A siamkit face model whose every embedding is NaN, in a pipeline."""
    import torch

    import siamkit
    from siamkit.models import SiameseNetwork

    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,) * 3, std=(0.25,) * 3, input_shape=(3, 32, 32))
    net = SiameseNetwork(encoder, embedding_dim=4, preprocess=pre)
    real = SiameseNetwork.embed
    monkeypatch.setattr(
        SiameseNetwork, "embed", lambda self, x, *a, **k: real(self, x, *a, **k) * float("nan")
    )
    return FacePipeline(net)


@pytest.mark.parametrize(
    "call",
    [
        lambda pipe, img: pipe.faces(img),
        lambda pipe, img: pipe.largest_face(img),
        lambda pipe, img: largest_face_of(pipe, img, "a"),
    ],
    ids=["faces", "largest_face", "largest_face_of"],
)
def test_the_pipeline_refuses_a_nan_embedding_by_default(nan_pipe, astronaut, call):
    with pytest.raises(UnrankableEmbeddingsError, match="NaN or infinite"):
        call(nan_pipe, astronaut)


def test_refuse_false_hands_the_embedding_back_as_made_for_callers_that_refuse_it(
    nan_pipe, astronaut
):
    faces = nan_pipe.faces(astronaut, refuse=False)
    face, n = nan_pipe.largest_face(astronaut, refuse=False)
    chosen = largest_face_of(nan_pipe, astronaut, "a", refuse=False)
    assert len(faces) == n >= 1 and face is not None
    for z in (faces[0].embedding, face.embedding, chosen.face.embedding):
        assert z.shape == (4,) and np.isnan(z).all()
