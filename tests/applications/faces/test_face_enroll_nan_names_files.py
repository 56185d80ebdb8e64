"""``siamkit face enroll`` refused a model's NaN embedding by its row among the photos given,
"(rows 1)", where ``siamkit enroll`` and ``siamkit identify`` name the file (final35 "NaN
wording"); it names the photo's file now, by the helper those commands use
(:func:`~siamkit.cli._enroll.checked_chunk`), and enrolls nothing."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from siamkit.applications.faces.descriptor import DlibDescriptor
from siamkit.cli.main import cli


def test_face_enroll_names_the_photo_whose_embedding_holds_nan(
    tmp_path, monkeypatch, astronaut, megamind
):
    photos = [tmp_path / "astronaut.png", tmp_path / "mega110.png", tmp_path / "mega120.png"]
    for path, rgb in zip(photos, (astronaut, megamind[110], megamind[120])):
        Image.fromarray(rgb).save(path)
    real = DlibDescriptor.embed_chips
    calls: list[int] = []

    def embed_chips(self, chips):  # the second photo's faces embed as NaN
        z = np.array(real(self, chips), dtype=np.float32)
        calls.append(len(chips))
        if len(calls) == 2:
            z[:] = np.nan
        return z

    monkeypatch.setattr(DlibDescriptor, "embed_chips", embed_chips)
    db = tmp_path / "staff.db"
    res = CliRunner().invoke(
        cli, ["face", "enroll", "--gallery", str(db), "--label", "x", *map(str, photos)]
    )
    # refused at the photo that made it, as a siamkit model's is (the third is never searched)
    assert len(calls) == 2 and res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (  # after any progress lines
        "Error: 1 of the 2 embeddings the model made of the largest faces of the first 2 of the "
        f"3 photos hold NaN or infinite values ({str(photos[1])!r}), which no search can rank; "
        "nothing was enrolled"
    )
    assert not db.exists()


def test_face_enroll_with_a_siamkit_model_names_the_photo_its_pipeline_refused(
    tmp_path, monkeypatch, astronaut, megamind
):
    """With a siamkit model the face pipeline refuses a photo's largest face itself, as "1 of
    the 1 embeddings the model made of the inputs ... (rows 0)", naming neither the photo nor how
    many were embedded; it is refused by its file, counted against the photos so far."""
    import torch

    import siamkit
    from siamkit.applications.faces import recognize
    from siamkit.models import SiameseNetwork

    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=(4, 8))
    pre = siamkit.models.Preprocess(mean=(0.5,) * 3, std=(0.25,) * 3, input_shape=(3, 32, 32))
    siamkit.save_model(SiameseNetwork(encoder, embedding_dim=4, preprocess=pre), tmp_path / "m")
    photos = [tmp_path / "astronaut.png", tmp_path / "mega110.png", tmp_path / "mega120.png"]
    for path, rgb in zip(photos, (astronaut, megamind[110], megamind[120])):
        Image.fromarray(rgb).save(path)
    broken: list[str] = []  # the photo whose largest face the model embeds as NaN
    real_face, real_embed = recognize.largest_face_of, SiameseNetwork.embed

    def largest_face_of(pipe, image, name, **kwargs):
        broken[:] = [name] if name == str(photos[1]) else []
        return real_face(pipe, image, name, **kwargs)

    def embed(self, x, *args, **kwargs):
        z = real_embed(self, x, *args, **kwargs)
        return z * float("nan") if broken else z

    monkeypatch.setattr(recognize, "largest_face_of", largest_face_of)
    monkeypatch.setattr(SiameseNetwork, "embed", embed)
    db = tmp_path / "staff.db"
    args = ["face", "enroll", "--model", str(tmp_path / "m"), "--gallery", str(db)]
    res = CliRunner().invoke(cli, [*args, "--label", "x", *map(str, photos)])
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (  # after any progress lines
        "Error: 1 of the 2 embeddings the model made of the largest faces of the first 2 of the "
        f"3 photos hold NaN or infinite values ({str(photos[1])!r}), which no search can rank; "
        "nothing was enrolled"
    )
    assert not db.exists()
