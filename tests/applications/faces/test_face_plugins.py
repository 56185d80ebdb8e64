"""A siamkit model trained on face chips plugs into `siamkit face`; the dlib model into serve."""

from __future__ import annotations

import io
import json
import shutil
import socket
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.applications.faces import FacePipeline
from siamkit.cli.main import cli
from siamkit.data.image_io import resize_images
from siamkit.index import Gallery


def _chip_net(seed=0):
    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8, 16))
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 32, 32))
    return siamkit.SiameseNetwork(enc, embedding_dim=16, preprocess=pre).eval()


def _chip_model(tmp_path):
    return siamkit.save_model(_chip_net(), tmp_path / "chips-model")


def _enrolled_by_chip_model(tmp_path, astronaut):
    """A gallery g.db that `face enroll --model chips-model` made of a.png, and another model
    (its network and folder): ``(model_dir, other, other_dir, db, photo)``."""
    model_dir = _chip_model(tmp_path)
    other = _chip_net(seed=1)
    other_dir = siamkit.save_model(other, tmp_path / "other-model")
    db, photo = str(tmp_path / "g.db"), str(tmp_path / "a.png")
    Image.fromarray(astronaut).save(photo)
    args = ["face", "enroll", "--gallery", db, "--model", str(model_dir), "--label", "e", photo]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return model_dir, other, other_dir, db, photo


def test_a_trained_chip_model_plugs_into_the_face_commands(tmp_path, astronaut, messi):
    model_dir = _chip_model(tmp_path)
    net = siamkit.load_model(model_dir)
    pipe = FacePipeline(net)
    face, _ = pipe.largest_face(astronaut)
    chip = pipe.aligner.chip(astronaut, face.box)  # (150, 150, 3)
    grey = torch.from_numpy(chip).permute(2, 0, 1).float().div(255)
    grey = (grey * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    with torch.inference_mode():
        ref = net.embed(resize_images(grey[None], (32, 32)))[0].numpy()
    np.testing.assert_allclose(face.embedding, ref, atol=1e-5)
    for name, img in (("a.png", astronaut), ("m.png", messi)):
        Image.fromarray(img).save(tmp_path / name)
    db = tmp_path / "staff.db"
    args = ["face", "enroll", "--gallery", str(db), "--model", str(model_dir)]
    res = CliRunner().invoke(cli, [*args, "--label", "eileen", str(tmp_path / "a.png")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        cli,
        [
            "face",
            "identify",
            "--gallery",
            str(db),
            "--model",
            str(model_dir),
            str(tmp_path / "a.png"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    faces = json.loads(res.stdout)["images"][0]["faces"]
    assert faces[0]["matches"][0]["label"] == "eileen" and faces[0]["matches"][0]["distance"] < 1e-4
    with Gallery.open(db) as g:
        assert g.stats().model_fingerprint == siamkit.models.model_fingerprint(net)
    res = CliRunner().invoke(
        cli, ["face", "identify", "--gallery", str(db), "--model", "dlib", str(tmp_path / "a.png")]
    )
    assert res.exit_code == 1, res.output  # not dlib: the gallery names the folder that enrolled
    assert f"enrolled with the model in {model_dir}, not dlib" in res.output


def test_a_gallery_remembers_its_face_model(tmp_path, astronaut, messi, monkeypatch):
    """enroll --model FOLDER recorded nothing: identify (or enroll) without --model used dlib,
    which the gallery's fingerprint refused. The absolute folder is recorded and used; once it
    is gone, the error names it."""
    import shutil

    _chip_model(tmp_path)
    for name, img in (("a.png", astronaut), ("m.png", messi)):
        Image.fromarray(img).save(tmp_path / name)
    monkeypatch.chdir(tmp_path)  # a relative --model is recorded as an absolute folder

    def face(*args):
        return CliRunner().invoke(cli, ["face", *args])

    res = face("enroll", "--gallery", "g.db", "--model", "chips-model", "--label", "e", "a.png")
    assert res.exit_code == 0, res.output
    with Gallery.open(tmp_path / "g.db") as g:
        assert g.stats().model_path == str(tmp_path / "chips-model")
    res = face("enroll", "--gallery", "g.db", "--label", "m", "m.png")  # no --model
    assert res.exit_code == 0, res.output
    res = face("identify", "--gallery", "g.db", "a.png", "--json")
    assert res.exit_code == 0, res.output
    match = json.loads(res.stdout)["images"][0]["faces"][0]["matches"][0]
    assert match["label"] == "e" and match["distance"] < 1e-4
    shutil.rmtree(tmp_path / "chips-model")
    for args in (["identify", "a.png"], ["enroll", "--label", "x", "a.png"]):
        res = face(args[0], "--gallery", "g.db", *args[1:])
        assert res.exit_code == 1, res.output
        gone = tmp_path / "chips-model"  # other_models_refusal's sentence, as with --model
        assert res.output.strip() == (
            f"Error: g.db was enrolled with the model in {gone}, which no longer exists, and its "
            "faces cannot be compared with another model's: if that folder moved (a moved or "
            "cloned project), pass --model with the folder it is in now (enrolling with it "
            "records that folder); else restore it and leave out "
            f"--model (or pass --model {gone}) to use it, or enroll into a new gallery file."
        )


def test_another_models_gallery_is_refused_naming_the_recorded_folder(tmp_path, astronaut):
    """enroll/identify with a model other than the gallery's said 'built by a different model
    (fingerprint ...)', naming neither the folder that enrolled nor what to pass (the signature
    bank's refusal names it). A folder retrained in place is told apart."""
    model_dir, other, other_dir, db, photo = _enrolled_by_chip_model(tmp_path, astronaut)

    def face(*args):
        return CliRunner().invoke(cli, ["face", *args])

    for args in (["identify", photo], ["enroll", "--label", "x", photo]):
        res = face(args[0], "--gallery", db, "--model", str(other_dir), *args[1:])
        assert res.exit_code == 1, res.output
        assert res.output.strip() == (
            f"Error: {db} was enrolled with the model in {model_dir}, not {other_dir}, and its "
            "faces cannot be compared with another model's: leave out --model (or pass --model "
            f"{model_dir}) to use it, or enroll into a new gallery file."
        )
    siamkit.save_model(other, model_dir)  # retrained in place
    res = face("identify", "--gallery", db, photo)
    assert res.exit_code == 1, res.output
    said = f"records a fingerprint that the model in {model_dir}, which enrolled it, does not"
    assert said in " ".join(res.output.split())
    assert "the model there was retrained or replaced since, or the gallery was" in res.output
    assert "enroll them again into a new gallery file" in res.output
    shutil.rmtree(model_dir)  # gone: --model other_dir was given, so say to leave it out
    res = face("identify", "--gallery", db, "--model", str(other_dir), photo)
    assert res.exit_code == 1, res.output
    assert res.output.strip() == (
        f"Error: {db} was enrolled with the model in {model_dir}, which no longer exists, and "
        "its faces cannot be compared with another model's: if that folder moved (a moved or "
        "cloned project), pass --model with the folder it is in now (enrolling with it records "
        "that folder); else restore it and leave out "
        f"--model (or pass --model {model_dir}) to use it, or enroll into a new gallery file."
    )


def test_serve_with_the_dlib_face_model(tmp_path, encoder, astronaut):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    def png(img):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        return buf.getvalue()

    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    app = create_app(encoder, tmp_path / "g.db", api_key=None)
    with TestClient(app) as client:
        res = client.post(
            "/verify",
            files={"file_a": ("a.png", png(astronaut)), "file_b": ("b.png", png(flipped))},
        )
        assert res.status_code == 200, res.text
        assert res.json()["same"] is True and res.json()["threshold"] == 0.6
        res = client.post(
            "/verify",
            files={
                "file_a": ("a.png", png(astronaut)),
                "file_b": ("b.png", png(np.zeros((64, 64, 3), np.uint8))),
            },
        )
        assert res.status_code == 400
        assert "No face was found in 'b.png' (the second image)" in res.json()["detail"]


def _png(img):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(monkeypatch):
    """``siamkit serve`` hands its app to this list instead of running uvicorn."""
    from siamkit.cli import serve_cmd

    apps: list = []

    def run(app, sock, log_level):
        apps.append(app)
        sock.close()

    monkeypatch.setattr(serve_cmd, "run_server", run)
    monkeypatch.delenv("SIAMKIT_API_KEY", raising=False)
    yield apps
    for app in apps:
        app.state.engine.close()


def test_siamkit_serve_dlib_serves_dlibs_face_encoder(tmp_path, astronaut, served):
    """`siamkit serve dlib` failed with "Directory 'dlib' does not exist", where the face
    commands take --model dlib: a face gallery could be served only from a model folder saved
    from Python. It serves dlib's encoder, and a gallery of `siamkit face enroll` (dlib)."""
    pytest.importorskip("dlib")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    db = str(tmp_path / "faces.db")
    res = CliRunner().invoke(
        cli, ["face", "enroll", "--gallery", db, "--label", "eileen", str(tmp_path / "a.png")]
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["serve", "dlib", "--gallery", db, "--port", str(_free_port())])
    assert res.exit_code == 0, res.output
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    with TestClient(served[0]) as client:
        model = client.get("/info").json()["model"]
        assert model["name"] == "dlib" and model["photos_at_own_size"] is True
        assert model["threshold"] == 0.6 and model["embedding_dim"] == 128
        res = client.post("/identify", files={"file": ("b.png", _png(flipped))})
        assert res.status_code == 200, res.text
        assert res.json()["label"] == "eileen"
    res = CliRunner().invoke(cli, ["serve", "dlib", "--runtime", "onnx"])
    assert res.exit_code == 1 and "drop --runtime onnx" in res.output, res.output
    helped = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    assert "; dlib: dlib's pretrained face encoder" in helped
    res = CliRunner().invoke(cli, ["serve", str(tmp_path / "nothing")])  # a folder as before
    assert res.exit_code == 2 and "no such model folder" in res.output


def test_serve_refuses_another_models_face_gallery_as_the_face_commands_do(
    tmp_path, astronaut, served
):
    """serve with a gallery enrolled by `face enroll --model FOLDER` and another model said
    'built by a different model (fingerprint ...)', where the face commands name the folder
    (bed099e): serve now says it in their sentence (one function), with what to serve."""
    pytest.importorskip("dlib")
    model_dir, other, other_dir, db, photo = _enrolled_by_chip_model(tmp_path, astronaut)

    def serve(model):
        return CliRunner().invoke(
            cli, ["serve", model, "--gallery", db, "--port", str(_free_port())]
        )

    res = serve(str(other_dir))
    assert res.exit_code == 1 and not served, res.output
    assert res.output.strip() == (
        f"Error: {db} was enrolled with the model in {model_dir}, not {other_dir}, and its "
        f"images cannot be compared with another model's: serve {model_dir} to use it, or give "
        "a new --gallery file."
    )
    res = serve("dlib")
    assert res.exit_code == 1 and not served, res.output
    # what the gallery holds is told by the gallery, not by the served model (8288063): the
    # same gallery's images, whichever model is refused it
    assert f"enrolled with the model in {model_dir}, not dlib, and its images" in res.output
    siamkit.save_model(other, model_dir)  # retrained in place
    res = serve(str(model_dir))
    assert res.exit_code == 1 and not served, res.output
    assert f"records a fingerprint that the model in {model_dir}, which enrolled it" in res.output
    res = CliRunner().invoke(cli, ["face", "identify", "--gallery", db, photo])
    assert res.exit_code == 1 and "which enrolled it" in res.output  # the face commands' sentence


def test_a_face_command_checks_its_model_once(tmp_path, astronaut, monkeypatch):
    """load_embedder refuses a model that is no face model; the pipeline it feeds does not ask
    again (FacePipeline.from_model), while FacePipeline(embedder) still checks its own."""
    from siamkit.applications.faces import pipeline

    model_dir = _chip_model(tmp_path)
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    real, asked = pipeline._not_an_image_model, []

    def counting(embedder):
        asked.append(type(embedder).__name__)
        return real(embedder)

    monkeypatch.setattr(pipeline, "_not_an_image_model", counting)
    a = str(tmp_path / "a.png")
    res = CliRunner().invoke(cli, ["face", "verify", "--model", str(model_dir), a, a])
    assert res.exit_code == 0, res.output
    assert asked == ["SiameseNetwork"]
    FacePipeline(siamkit.load_model(model_dir))
    assert len(asked) == 2
