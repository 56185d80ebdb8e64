"""The dlib face model against dlib's own calls, on offline images (skimage, opencv-doc)."""

from __future__ import annotations

import importlib.metadata
import json

import cv2
import dlib
import numpy as np
import pytest
import skimage.data
import torch

import siamkit
from siamkit.applications.faces import (
    DLIB_THRESHOLD,
    DlibFaceEncoder,
    FaceDetector,
    FacePipeline,
    NoFaceError,
    verify_faces,
)
from siamkit.applications.faces.resources import file_sha256, model_file
from siamkit.index import Gallery


@pytest.fixture(scope="module")
def dlib_reference():
    """dlib's own objects, built directly from the .dat files (the independent reference)."""
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(model_file("landmarks5"))),
        dlib.face_recognition_model_v1(str(model_file("recognition"))),
    )


def _as_batch(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1).float().div(255.0)[None]  # (1, 3, H, W)


@pytest.mark.parametrize("name", ["astronaut", "messi"])
def test_every_face_and_embedding_equal_dlibs_own(name, request, encoder, dlib_reference):
    image = request.getfixturevalue(name)
    detector, predictor, facerec = dlib_reference
    rects, _, _ = detector.run(image, 1, 0.0)
    faces = FacePipeline(encoder).faces(image)
    assert len(faces) == len(rects) >= 1
    for face in faces:
        rect = next(r for r in rects if (r.left(), r.top()) == (face.box.left, face.box.top))
        ref = np.asarray(facerec.compute_face_descriptor(image, predictor(image, rect)))
        np.testing.assert_allclose(face.embedding, ref, atol=1e-5, rtol=0)
    areas = [f.box.area for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_model_embed_is_the_largest_face(encoder, astronaut, dlib_reference):
    detector, predictor, facerec = dlib_reference
    rect = max(detector(astronaut, 1), key=lambda r: r.area())
    ref = np.asarray(facerec.compute_face_descriptor(astronaut, predictor(astronaut, rect)))
    z = encoder.embed(_as_batch(astronaut))
    assert z.shape == (1, 128)
    np.testing.assert_allclose(z[0].numpy(), ref, atol=1e-5, rtol=0)


def test_three_faces_give_three_results_each_nearest_its_source(
    encoder, three_faces, astronaut, messi, megamind
):
    canvas, tiles = three_faces
    pipe = FacePipeline(encoder)
    faces = pipe.faces(canvas)
    assert len(faces) == 3
    sources = [pipe.largest_face(img)[0].embedding for img in (astronaut, messi, megamind[120])]
    for face in faces:
        k = next(i for i, tile in enumerate(tiles) if tile[0] <= face.box.left < tile[2])
        left, top, right, bottom = tiles[k]
        assert left - 5 <= face.box.left and face.box.right <= right + 5
        assert top - 5 <= face.box.top and face.box.bottom <= bottom + 5
        d = [np.linalg.norm(face.embedding - s) for s in sources]
        assert int(np.argmin(d)) == k


def test_megamind_no_face_in_frame_0_and_same_face_across_frames(encoder, megamind):
    pipe = FacePipeline(encoder)
    assert pipe.faces(megamind[0]) == []
    with pytest.raises(NoFaceError, match="no face found in image 1 of 1"):
        encoder.embed(_as_batch(megamind[0]))
    a, b = (pipe.largest_face(megamind[i])[0] for i in (110, 120))
    assert np.linalg.norm(a.embedding - b.embedding) < DLIB_THRESHOLD


def test_different_people_are_beyond_dlibs_threshold(encoder, astronaut, messi):
    za, zb = encoder.embed(_as_batch(astronaut)), encoder.embed(_as_batch(messi))
    assert float(torch.linalg.norm(za - zb)) > DLIB_THRESHOLD


def test_lfw_subset_faces_are_detected_and_non_faces_are_not():
    """skimage's lfw_subset: 100 25x25 LFW faces then 100 non-faces; upscaled 4x for HOG."""
    images = (skimage.data.lfw_subset() * 255).round().astype(np.uint8)
    det = FaceDetector("hog", upsample=0)
    found = np.asarray(
        [bool(det(np.repeat(cv2.resize(im, (100, 100))[:, :, None], 3, axis=2))) for im in images]
    )
    assert found[:100].mean() >= 0.8
    assert found[100:].mean() <= 0.05


def test_cnn_detector_agrees_with_hog(astronaut):
    crop = np.ascontiguousarray(astronaut[20:260, 100:340])
    (cnn,), (hog,) = FaceDetector("cnn", upsample=0)(crop), FaceDetector("hog", 1)(crop)
    inter = max(0, min(cnn.right, hog.right) - max(cnn.left, hog.left)) * max(
        0, min(cnn.bottom, hog.bottom) - max(cnn.top, hog.top)
    )
    assert inter / (cnn.area + hog.area - inter) > 0.5


def test_bundle_records_files_and_reloads_without_weights(tmp_path, encoder, astronaut):
    path = siamkit.save_model(encoder, tmp_path / "face")
    doc = json.loads((path / "siamkit.json").read_text())
    files = doc["model"]["files"]
    assert files["recognition"]["sha256"] == file_sha256(model_file("recognition"))
    assert files["landmarks5"]["name"] == "shape_predictor_5_face_landmarks.dat"
    versions = doc["model"]["versions"]
    assert versions["face_recognition_models"] == importlib.metadata.version(
        "face-recognition-models"
    )
    assert versions["dlib"] == importlib.metadata.version("dlib-bin")
    assert (path / "model.safetensors").stat().st_size < 1024  # no weights copied
    loaded = siamkit.load_model(path)
    assert isinstance(loaded, DlibFaceEncoder) and loaded.threshold == DLIB_THRESHOLD
    assert siamkit.models.model_fingerprint(loaded) == siamkit.models.model_fingerprint(encoder)
    x = _as_batch(astronaut)
    torch.testing.assert_close(loaded.embed(x), encoder.embed(x))


def test_bundle_with_other_weights_is_refused(tmp_path, encoder):
    path = siamkit.save_model(encoder, tmp_path / "face")
    doc = json.loads((path / "siamkit.json").read_text())
    doc["model"]["files"]["recognition"]["sha256"] = "0" * 64
    (path / "siamkit.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="is not the file this face model was saved with"):
        siamkit.load_model(path)


def test_gallery_enrolls_and_identifies_with_the_face_model(tmp_path, encoder, astronaut, messi):
    with Gallery.open(tmp_path / "staff.db", encoder) as gallery:
        assert gallery.threshold == DLIB_THRESHOLD
        gallery.enroll("eileen", _as_batch(astronaut))
        gallery.enroll("messi", _as_batch(messi))
        flipped = np.ascontiguousarray(astronaut[:, ::-1])
        result = gallery.identify(_as_batch(flipped), k=2)
    assert result.label == "eileen" and result.matches[1].label == "messi"
    assert result.matches[0].distance < DLIB_THRESHOLD < result.matches[1].distance


def test_bad_inputs_say_what_is_wrong(encoder):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        encoder.embed(torch.rand(1, 1, 64, 64))
    with pytest.raises(TypeError, match="uint8"):
        FaceDetector()(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="face detector is one of"):
        FaceDetector("haar")
    with pytest.raises(ValueError, match="chips are"):
        encoder.embed_chips(np.zeros((1, 64, 64, 3), dtype=np.uint8))


def test_verify_faces_uses_the_largest_face_and_says_so(encoder, astronaut, messi, megamind):
    pipe = FacePipeline(encoder)
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    r = verify_faces(pipe, astronaut, flipped, names=("a.png", "b.png"))
    assert r.same is True and r.threshold == DLIB_THRESHOLD and r.distance_name == "euclidean"
    assert r.a.faces_found == 2 and r.a.note == "2 faces found in a.png; using the largest"
    expected = np.linalg.norm(r.a.face.embedding - r.b.face.embedding)
    assert r.distance == pytest.approx(float(expected), abs=1e-6)
    assert verify_faces(pipe, astronaut, messi, threshold=2.0).same is True  # caller's threshold
    with pytest.raises(NoFaceError, match="no face found in frame0"):
        verify_faces(pipe, astronaut, megamind[0], names=("a", "frame0"))
