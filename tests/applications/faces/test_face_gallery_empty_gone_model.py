"""A face gallery that holds no item (every label removed) whose recorded model folder no
longer exists was refused by the face commands without --model ("was enrolled with the model in
..., which no longer exists"), though it holds nothing that model made and the text commands
give such a gallery their default model (d0ae7be2): the face commands now use dlib, saying why
on stderr. A gallery that holds items is still refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.applications.faces import DlibFaceEncoder
from siamkit.cli.main import cli
from siamkit.index import Gallery


def _run(*args: object):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def photos(tmp_path, astronaut, messi) -> tuple[Path, Path]:
    a, b = tmp_path / "eileen.png", tmp_path / "lionel.png"
    Image.fromarray(astronaut).save(a)
    Image.fromarray(np.ascontiguousarray(messi[:, ::-1])).save(b)
    return a, b


def test_an_emptied_face_gallery_of_a_gone_model_takes_dlib(tmp_path, encoder, photos):
    a, b = photos
    # a face model folder of its own fingerprint (not dlib's), as a trained one has
    model = siamkit.save_model(DlibFaceEncoder(input_size=256), tmp_path / "model")
    db = tmp_path / "g.db"
    res = _run("face", "enroll", "--model", model, "--gallery", db, "--label", "eileen", a)
    assert res.exit_code == 0, res.output
    shutil.rmtree(model)
    enroll = ("face", "enroll", "--gallery", db, "--label", "lionel", b, "--json")
    res = _run(*enroll)  # holding eileen: still that model's gallery
    assert res.exit_code != 0 and "which no longer exists" in res.output, res.output
    res = _run("face", "identify", "--gallery", db, a)
    assert res.exit_code != 0 and "which no longer exists" in res.output, res.output
    assert _run("gallery", db, "remove", "eileen").exit_code == 0
    res = _run(*enroll)
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"model: dlib, the default ({db} holds no item of the model {Path(model).resolve()} it "
        "recorded, which no longer exists)"
    ]
    assert json.loads(res.stdout)["num_items"] == 1
    # what it enrolled is dlib's embedding of the photo, found again by dlib without --model
    with Gallery.open(db, encoder) as gallery:
        z = gallery.items().embeddings
    np.testing.assert_allclose(
        z[0], encoder.embed_photos([np.asarray(Image.open(b))])[0], atol=1e-6
    )
    res = _run("face", "identify", "--gallery", db, b, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["images"][0]["faces"][0]["label"] == "lionel", res.output
    stats = json.loads(_run("gallery", db, "stats", "--json").stdout)
    assert stats["model_path"] == ""  # dlib's items now: the gone folder no longer recorded
