"""``siamkit face identify`` and ``face verify`` with a siamkit face model refused a NaN embedding
in the face pipeline's sentence, "2 of the 2 embeddings the model made of the inputs ... (rows 0,
1), which no search can rank": no photo named, identify's rows were face positions inside one
photo, and verify runs no search (s56_R3 finding 1). dlib's were not refused at all: verify
answered a NaN distance "different people". Both now name the photo (identify: and each face's
box, as it prints them), through :func:`~siamkit.applications.faces.recognize.checked_faces`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from siamkit.applications.faces import FacePipeline, verify_faces
from siamkit.applications.faces.descriptor import DlibDescriptor
from siamkit.applications.faces.detect import FaceDetector
from siamkit.cli.main import cli


@pytest.fixture
def photos(tmp_path, astronaut, megamind):
    paths = [tmp_path / "astronaut.png", tmp_path / "mega110.png", tmp_path / "mega120.png"]
    for path, rgb in zip(paths, (astronaut, megamind[110], megamind[120])):
        Image.fromarray(rgb).save(path)
    return paths


@pytest.fixture
def siamkit_model(tmp_path):
    import torch

    import siamkit
    from siamkit.models import SiameseNetwork

    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,) * 3, std=(0.25,) * 3, input_shape=(3, 32, 32))
    siamkit.save_model(SiameseNetwork(encoder, embedding_dim=4, preprocess=pre), tmp_path / "m")
    return tmp_path / "m"


def _nan_for(monkeypatch, broken: list[bool]) -> None:
    """The siamkit model embeds NaN while ``broken[0]``."""
    from siamkit.models import SiameseNetwork

    real = SiameseNetwork.embed

    def embed(self, x, *args, **kwargs):
        z = real(self, x, *args, **kwargs)
        return z * float("nan") if broken[0] else z

    monkeypatch.setattr(SiameseNetwork, "embed", embed)


def test_face_identify_with_a_siamkit_model_names_the_photo_and_its_faces_boxes(
    tmp_path, monkeypatch, photos, siamkit_model, megamind
):
    from siamkit.applications.faces import recognize

    db = tmp_path / "staff.db"
    args = ["face", "enroll", "--model", str(siamkit_model), "--gallery", str(db), "--label", "x"]
    assert CliRunner().invoke(cli, [*args, *map(str, photos)]).exit_code == 0
    broken = [False]
    _nan_for(monkeypatch, broken)
    real = recognize.identify_faces

    def identify_faces(pipe, gallery, image, *args, **kwargs):  # the second photo's faces
        broken[0] = np.array_equal(image, megamind[110])
        return real(pipe, gallery, image, *args, **kwargs)

    monkeypatch.setattr(recognize, "identify_faces", identify_faces)
    res = CliRunner().invoke(cli, ["face", "identify", "--gallery", str(db), *map(str, photos)])
    assert res.exit_code == 1, res.output
    boxes = FaceDetector()(megamind[110])  # the CLI's default detector: HOG, upsample 1
    named = ", ".join(f"box ({b.left}, {b.top})-({b.right}, {b.bottom})" for b in boxes)
    n = len(boxes)
    assert res.output.strip().splitlines()[-1] == (  # after any progress lines
        f"Error: {n} of the {n} embeddings the model made of the faces found in "
        f"{str(photos[1])!r} hold NaN or infinite values ({named}), which no search can rank"
    )


@pytest.mark.parametrize("which", [1, 2])
def test_face_verify_with_a_siamkit_model_names_the_photo_and_runs_no_search(
    monkeypatch, photos, siamkit_model, which
):
    from siamkit.applications.faces import recognize

    broken = [False]
    _nan_for(monkeypatch, broken)
    real = recognize.largest_face_of

    def largest_face_of(pipe, image, name, **kwargs):
        broken[0] = name == str(photos[which])
        return real(pipe, image, name, **kwargs)

    monkeypatch.setattr(recognize, "largest_face_of", largest_face_of)
    args = ["face", "verify", "--model", str(siamkit_model), str(photos[1]), str(photos[2])]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: 1 of the 2 embeddings the model made of the photos' largest faces hold NaN or "
        f"infinite values ({str(photos[which])!r}), which no verdict can be given on"
    )


def test_face_verify_with_dlib_refuses_a_nan_in_place_of_a_verdict(monkeypatch, photos, megamind):
    """dlib's NaN gave a NaN distance, answered "different people" with exit 0."""
    from siamkit.index.base import UnrankableEmbeddingsError

    real = DlibDescriptor.embed_chips
    calls: list[int] = []

    def embed_chips(self, chips):  # the second photo's face embeds as NaN
        z = np.array(real(self, chips), dtype=np.float32)
        calls.append(len(chips))
        return z * np.float32("nan") if len(calls) == 2 else z

    monkeypatch.setattr(DlibDescriptor, "embed_chips", embed_chips)
    res = CliRunner().invoke(cli, ["face", "verify", str(photos[1]), str(photos[2])])
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: 1 of the 2 embeddings the model made of the photos' largest faces hold NaN or "
        f"infinite values ({str(photos[2])!r}), which no verdict can be given on"
    )
    calls.clear()  # the library's verify, with its default names
    with pytest.raises(UnrankableEmbeddingsError, match=r"\('the second image'\)"):
        verify_faces(FacePipeline(DlibDescriptor()), megamind[110], megamind[120])
