"""A first `siamkit face enroll` stopped before it stored a face (Ctrl-C, SIGTERM, an error in
its transaction) left an empty gallery file that recorded dlib's fingerprint: the next enroll
with another model (--model FOLDER) was refused as another model's gallery. The file it
created is removed, with its thumbnail side file and the folders made for it, as `siamkit
enroll` does; a gallery that was there before keeps exactly what it held."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.index.gallery as gallery_module
from _first_stopped import STOPS, items_of, stopping
from siamkit.cli.main import cli


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut, megamind):
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(astronaut).save(d / "eileen.png")
    Image.fromarray(megamind[110]).save(d / "mega.png")
    return {"eileen": d / "eileen.png", "mega": d / "mega.png"}


def tiny_face_model(path: Path) -> Path:
    """A siamkit image model of 3-channel 8x8 inputs: face enroll --model embeds chips with it."""
    import torch

    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[4])
    pre = siamkit.Preprocess(input_shape=(3, 8, 8))
    net = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre)
    return Path(siamkit.save_model(net, path))


def enroll(db: Path, label: str, photo: Path, *model: str):
    args = ["face", "enroll", "--gallery", str(db), "--label", label, str(photo), *model]
    return CliRunner().invoke(cli, args)


@pytest.mark.parametrize(("stop", "code"), STOPS)
def test_a_first_face_enroll_stopped_in_its_transaction_leaves_no_file(
    tmp_path, photos, monkeypatch, stop, code
):
    db = tmp_path / "new" / "doors" / "staff.db"  # its folders too are made by the enroll
    # stopped with the first face's row written, before its commit: rolled back
    monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopping(stop))
    res = enroll(db, "eileen", photos["eileen"])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    # the symptom: the next enroll, with another model, was refused as dlib's gallery
    model = tiny_face_model(tmp_path / "chips-model")
    res = enroll(db, "eileen", photos["eileen"], "--model", str(model))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in db.parent.iterdir()) == ["staff.db", "staff.db.thumbs"]
    assert [label for _, label, _ in items_of(db)] == ["eileen"]


def test_an_existing_face_gallery_is_kept_whole_when_an_enroll_is_stopped(
    tmp_path, photos, monkeypatch
):
    db = tmp_path / "staff.db"
    assert enroll(db, "eileen", photos["eileen"]).exit_code == 0
    before = items_of(db)
    monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopping(KeyboardInterrupt))
    res = enroll(db, "mega", photos["mega"])
    assert res.exit_code == 130, res.output
    assert items_of(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staff.db", "staff.db.thumbs"]
