"""Faces at their own size everywhere: the fast `face verify` process (no torch), the cached HOG
detector, detection on a shrunk copy of a large photo, and the generic shells and REST service
handing a face model whole photos (every face of `/identify`, small faces not lost to 320x320)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.applications.faces import FaceDetector, FacePipeline
from siamkit.applications.faces.resources import frontal_face_detector
from siamkit.cli.main import cli

SRC = Path(__file__).resolve().parents[3] / "src"


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _inside(box: dict, tile: tuple[int, int, int, int], slack: int = 0) -> bool:
    left, top, right, bottom = tile
    return (
        box["left"] >= left - slack
        and box["top"] >= top - slack
        and box["right"] <= right + slack
        and box["bottom"] <= bottom + slack
    )


def test_face_verify_process_imports_no_torch_and_matches_the_model_path(
    tmp_path, encoder, astronaut, messi
):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(astronaut).save(a)
    Image.fromarray(messi).save(b)
    script = (
        "import sys, json; from siamkit.cli.main import cli\n"
        "try:\n"
        f"    cli(['face', 'verify', {str(a)!r}, {str(b)!r}, '--json'], standalone_mode=False)\n"
        "finally:\n"
        "    print(json.dumps(sorted(m for m in ('torch', 'fastapi', 'matplotlib') if m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout
    doc, loaded = json.loads(out[: out.rindex("}") + 1]), json.loads(out.splitlines()[-1])
    assert loaded == []  # dlib does all the work: no torch, no web framework, no plotting
    pipe = FacePipeline(encoder)  # the torch model kind that galleries use
    fa, fb = pipe.largest_face(astronaut)[0], pipe.largest_face(messi)[0]
    assert abs(doc["distance"] - float(np.linalg.norm(fa.embedding - fb.embedding))) < 1e-5
    assert doc["faces"][1]["box"] == fb.box.as_dict()


def test_cached_hog_detector_finds_what_dlibs_builtin_one_finds(tmp_path, monkeypatch, three_faces):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    canvas = three_faces[0]
    want = dlib.get_frontal_face_detector().run(canvas, 1, 0.0)
    first = frontal_face_detector()  # builds it and writes the cache
    (cached,) = (tmp_path / "siamkit" / "dlib").glob("frontal_face_detector-*.svm")
    second = frontal_face_detector()  # reads the cache
    for det in (first, second):
        got = det.run(canvas, 1, 0.0)
        assert [str(r) for r in got[0]] == [str(r) for r in want[0]] and len(want[0]) == 3
        np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-9)
    cached.write_bytes(b"not a detector")  # a damaged cache is rebuilt, not trusted
    assert len(frontal_face_detector().run(canvas, 1, 0.0)[0]) == 3
    assert cached.stat().st_size > 100_000


def test_large_photo_is_searched_shrunk_and_boxes_map_back(three_faces):
    canvas, tiles = three_faces  # 300x900, three faces
    big = cv2.resize(canvas, (2700, 900), interpolation=cv2.INTER_CUBIC)  # 3x: 2.4 megapixels
    small_boxes = FaceDetector("hog", 1, max_pixels=None)(canvas)
    shrunk = FaceDetector("hog", 1, max_pixels=300 * 900)(big)
    assert len(shrunk) == len(small_boxes) == 3
    for s, b in zip(
        sorted(small_boxes, key=lambda b: b.left), sorted(shrunk, key=lambda b: b.left)
    ):
        for side in ("left", "top"):  # the same detection, in the big photo's pixels
            assert abs(getattr(b, side) - 3 * getattr(s, side)) <= 3
        for side in ("right", "bottom"):
            assert abs(getattr(b, side) - (3 * getattr(s, side) + 2)) <= 3
    for box in shrunk:
        assert any(_inside(box.as_dict(), tuple(3 * v for v in t), slack=30) for t in tiles)


@pytest.fixture(scope="module")
def dlib_model(tmp_path_factory, encoder) -> Path:
    return siamkit.save_model(encoder, tmp_path_factory.mktemp("dlib") / "model")


def test_generic_verify_and_enroll_find_a_small_face(tmp_path, dlib_model, encoder, messi):
    """messi5.jpg's face is 37 px in a 548x342 photo: squeezed to 320x320 it was lost."""
    a, b = tmp_path / "messi.png", tmp_path / "messi_flip.png"
    Image.fromarray(messi).save(a)
    Image.fromarray(np.ascontiguousarray(messi[:, ::-1])).save(b)
    squeezed = cv2.resize(messi, (320, 320), interpolation=cv2.INTER_AREA)
    assert encoder.detector(squeezed) == []  # what the old path saw
    res = CliRunner().invoke(cli, ["verify", str(dlib_model), str(a), str(b), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    pipe = FacePipeline(encoder)
    fa, fb = pipe.largest_face(messi)[0], pipe.largest_face(np.ascontiguousarray(messi[:, ::-1]))[0]
    assert abs(doc["distance"] - float(np.linalg.norm(fa.embedding - fb.embedding))) < 1e-5
    assert doc["same"] is True
    db = tmp_path / "g.db"
    res = CliRunner().invoke(
        cli, ["enroll", str(dlib_model), "--gallery", str(db), "--label", "messi", str(a)]
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        cli, ["identify", str(dlib_model), "--gallery", str(db), str(b), "--json"]
    )
    assert json.loads(res.stdout)["queries"][0]["label"] == "messi", res.output


def test_generic_commands_name_the_photo_without_a_face(tmp_path, dlib_model, messi, megamind):
    """`siamkit verify/enroll/identify` with a face model said "no face found in image 1 of 1
    (720x528 pixels)": no file named, and verify embedded its two photos one at a time, so a
    faceless second photo was "1 of 1". They name the file, as the service names the upload."""
    a, blank = tmp_path / "a.png", tmp_path / "blank.png"
    Image.fromarray(messi).save(a)
    Image.fromarray(megamind[0]).save(blank)
    db = tmp_path / "g.db"

    def run(*args: str) -> str:
        res = CliRunner().invoke(cli, [args[0], str(dlib_model), *args[1:]])
        assert res.exit_code == 1, res.output
        return res.output

    out = run("verify", str(a), str(blank))
    assert f"No face was found in '{blank}' (the second photo)" in out, out
    out = run("enroll", "--gallery", str(db), "--label", "messi", str(a), str(blank))
    assert f"No face was found in '{blank}' (photo 2 of 2)" in out, out
    res = CliRunner().invoke(
        cli, ["enroll", str(dlib_model), "--gallery", str(db), "--label", "messi", str(a)]
    )
    assert res.exit_code == 0 and "now 1 item" in res.output, res.output  # nothing of the first
    out = run("identify", "--gallery", str(db), str(a), str(blank))
    assert f"No face was found in '{blank}' (photo 2 of 2)" in out, out
    out = run("verify", str(blank), "--gallery", str(db), "--label", "messi")
    assert f"No face was found in '{blank}';" in out, out


def test_enroll_names_the_faceless_photo_of_a_later_chunk(tmp_path, encoder, messi, megamind):
    """Enrollment embeds in chunks: the faceless photo is named by its place in the whole list."""
    import torch

    from siamkit.applications.faces import NoFaceError
    from siamkit.cli._enroll import enroll_groups
    from siamkit.index import Gallery

    photos = [torch.from_numpy(img).permute(2, 0, 1).float() / 255 for img in (messi, megamind[0])]
    paths = [tmp_path / "a.png", tmp_path / "blank.png"]
    with Gallery.open(tmp_path / "g.db", encoder, create=True) as gallery:
        with pytest.raises(NoFaceError, match=r"'.*blank\.png' \(photo 2 of 2\)"):
            enroll_groups(gallery, encoder, {"x": paths}, photos, None, chunk=1)
        assert len(gallery) == 0


@pytest.fixture
def client(tmp_path, encoder):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(encoder, tmp_path / "g.db", api_key=None)) as c:
        yield c


def test_rest_enroll_and_verify_say_when_a_photo_showed_several_faces(
    client, encoder, three_faces, megamind
):
    """/enroll and /verify of a photo of several faces used the largest without a word, where
    `siamkit face` prints "N faces found in X; using the largest": the answer's optional
    `notes` says it (absent for photos of one face), documented in the OpenAPI schema."""
    canvas, _ = three_faces
    one = megamind[110]
    assert len(encoder.detector(canvas)) == 3 and len(encoder.detector(one)) == 1
    files = [("files", ("one.png", _png(one))), ("files", ("three.png", _png(canvas)))]
    res = client.post("/enroll", data={"label": "group"}, files=files)
    assert res.status_code == 201, res.text
    assert res.json()["notes"] == ["3 faces found in 'three.png' (image 2); using the largest"]
    res = client.post("/enroll", data={"label": "solo"}, files={"files": ("a.png", _png(one))})
    assert res.status_code == 201 and "notes" not in res.json(), res.text
    pair = {"file_a": ("three.png", _png(canvas)), "file_b": ("one.png", _png(one))}
    res = client.post("/verify", files=pair)
    assert res.status_code == 200, res.text
    assert res.json()["notes"] == [
        "3 faces found in 'three.png' (the first image); using the largest"
    ]
    # the largest face decided, as before: its distance to the other photo's face
    _, z3 = encoder.faces_in(canvas)
    _, z1 = encoder.faces_in(one)
    assert res.json()["distance"] == pytest.approx(float(np.linalg.norm(z3[0] - z1[0])), abs=1e-4)
    res = client.post(
        "/verify", data={"label": "solo"}, files={"file": ("three.png", _png(canvas))}
    )
    assert res.status_code == 200, res.text
    assert res.json()["notes"] == ["3 faces found in 'three.png' (the image); using the largest"]
    res = client.post(
        "/verify", files={"file_a": ("a.png", _png(one)), "file_b": ("b.png", _png(one))}
    )
    assert res.status_code == 200 and "notes" not in res.json() and res.json()["same"] is True
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for answer in ("EnrollResponse", "VerifyResponse"):
        notes = schema[answer]["properties"]["notes"]
        assert "notes" not in schema[answer]["required"]
        assert "more than one face" in notes["description"]


def test_rest_identify_reports_every_face_with_its_box(
    client, encoder, three_faces, astronaut, megamind, messi
):
    canvas, tiles = three_faces
    for label, img in (("eileen", astronaut), ("mega", megamind[110])):
        res = client.post("/enroll", data={"label": label}, files={"files": ("x.png", _png(img))})
        assert res.status_code == 201, res.text
    res = client.post("/identify", data={"k": "2"}, files={"file": ("three.png", _png(canvas))})
    assert res.status_code == 200, res.text
    doc = res.json()
    faces = doc["faces"]
    assert len(faces) == 3
    boxes = [f["box"] for f in faces]
    want = [
        b.as_dict() for b in encoder.detector(canvas)
    ]  # the detector's own boxes, largest first
    assert boxes == want
    by_tile = {}
    for f in faces:
        (tile,) = [k for k, t in enumerate(tiles) if _inside(f["box"], t)]
        by_tile[tile] = f
    assert [by_tile[k]["label"] for k in range(3)] == ["eileen", None, "mega"]  # messi not enrolled
    # each face's matches are the gallery's answer for that face's own embedding
    _, z = encoder.faces_in(canvas)
    for f, zi in zip(faces, z):
        ref = min(
            np.linalg.norm(zi - encoder.faces_in(img)[1][0]) for img in (astronaut, megamind[110])
        )
        assert abs(f["matches"][0]["distance"] - ref) < 2e-3  # the index: sqrt of |a|²+|b|²-2ab
    # backward compatible: the top-level answer is the largest face's
    assert doc["label"] == faces[0]["label"] and doc["matches"] == faces[0]["matches"]
    res = client.post("/identify", files={"file": ("none.png", _png(megamind[0]))})
    assert res.status_code == 200 and res.json()["faces"] == [] and res.json()["label"] is None
    # the page read the empty matches as an empty gallery: the hint says why (as /enroll would)
    assert res.json()["hint"] == (
        "No face was found in 'none.png' (the image); send a photo in which a face is clearly "
        "visible."
    )
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert (
        "faces" in schema["IdentifyResponse"]["properties"]
        and "box" in schema["FaceOut"]["properties"]
    )


def test_rest_verify_finds_the_small_face(client, messi):
    flipped = np.ascontiguousarray(messi[:, ::-1])
    res = client.post(
        "/verify", files={"file_a": ("a.png", _png(messi)), "file_b": ("b.png", _png(flipped))}
    )
    assert res.status_code == 200, res.text
    assert res.json()["same"] is True


def test_rest_info_says_the_face_embedding_is_dlibs_pretrained_one(client):
    """/info and the page said dlib's 128 values were "learned in training (encoder and
    projection head)": siamkit trained nothing of it; and that photos were resized to the
    model's 320x320, when each is searched for faces at its own size."""
    model = client.get("/info").json()["model"]
    assert model["photos_at_own_size"] is True  # the page said "images resized to 320x320"
    (part,) = model["embedding_parts"]
    assert part["name"] == "pretrained" and part["dim"] == 128
    assert "dlib's pretrained face network" in part["description"]


def test_rest_names_the_photo_without_a_face(client, messi, megamind):
    """/verify with no face in file_b answered "no face found in image 0 of 1": it embedded the
    two photos one at a time, so the second was image 0 of its own call, and /enroll named an
    image by its index only. Both now name the upload."""
    res = client.post(
        "/verify",
        files={"file_a": ("a.png", _png(messi)), "file_b": ("blank.png", _png(megamind[0]))},
    )
    assert res.status_code == 400, res.text
    assert res.json()["detail"].startswith("No face was found in 'blank.png' (the second image)")
    res = client.post(
        "/enroll",
        data={"label": "messi"},
        files=[("files", ("a.png", _png(messi))), ("files", ("blank.png", _png(megamind[0])))],
    )
    assert res.status_code == 400, res.text
    assert res.json()["detail"].startswith("No face was found in 'blank.png' (image 2)")
    assert client.get("/gallery").json()["num_items"] == 0


def test_bad_photo_inputs_say_what_is_wrong(encoder, astronaut):
    import torch

    from siamkit.index.embedding import embed_inputs

    with pytest.raises(ValueError, match="max_pixels is at least 4096"):
        FaceDetector(max_pixels=100)
    with pytest.raises(ValueError, match=r"photos are \(C, H, W\) images"):
        embed_inputs(encoder, torch.rand(64, 64))
    with pytest.raises(ValueError, match=r"a face photo is a \(3, H, W\) RGB image"):
        embed_inputs(encoder, [torch.rand(1, 64, 64)])
    photo = torch.from_numpy(astronaut).permute(2, 0, 1).float() / 255  # (3, 512, 512)
    with pytest.raises(ValueError, match=r"no face found in image 2 of 2 \(90x80 pixels\)"):
        embed_inputs(encoder, [photo, torch.zeros(3, 80, 90)])
