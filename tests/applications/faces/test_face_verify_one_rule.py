"""``siamkit face verify`` (verify_faces) held a pair's distance to its threshold strictly while
``face identify``, a face gallery's verify and the service's /verify accept a distance within
float32 rounding above it (siamkit.decision.accepts): a pair 0.5e-5 over the threshold was the
same person for the gallery and different for ``face verify``."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.faces import FacePipeline, verify_faces
from siamkit.index import Gallery


@pytest.mark.parametrize(("over", "same"), [(0.5e-5, True), (1e-4, False)])
def test_face_verify_decides_as_the_gallery_does(
    tmp_path, encoder, astronaut, over: float, same: bool
) -> None:  # type: ignore[no-untyped-def]
    pipe = FacePipeline(encoder)
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    d = verify_faces(pipe, astronaut, flipped).distance
    assert 0.05 < d < 0.6  # the same person, neither a copy nor a stranger
    r = verify_faces(pipe, astronaut, flipped, threshold=d - over)
    # the reference: the model's own verdict on the same two faces, by a gallery of one
    with Gallery.open(tmp_path / "g.db", encoder, threshold=d - over) as g:
        g.enroll_embeddings("b", r.b.face.embedding[None])
        gallery_says = g.verify_embedding(r.a.face.embedding, "b").same
    assert (r.same, gallery_says) == (same, same)
