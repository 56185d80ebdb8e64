"""``siamkit train``, ``enroll``, ``face crop`` and ``face evaluate --identities`` on a folder whose
every class sub-folder is a link the class walk leaves out (``all -> .``, ``up -> ..``) said
"no images found in X: expected one sub-folder per class" (train), "no labelled images found in
X: expected one sub-folder of images per label" (enroll), "no images found under X; give a
folder of one sub-folder of photos per person" (face crop): untrue, the sub-folders are there and
were left out. Each now says which, why, and what to do, in one sentence of its own noun."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from _class_links import links_only
from siamkit.cli.main import cli


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    return links_only(tmp_path)


def _said(ds: Path, noun: str, lead: str, photo: str = "image") -> str:
    return (
        f"Error: {lead}: the {noun} folders {ds / 'all'}, {ds / 'up'} are links to the data "
        f"set's folder or one above it, left out as each would read every {noun}'s {photo}s "
        f"again: remove those links and put each {noun}'s {photo}s in a sub-folder of its own"
    )


def test_train_names_the_class_links_it_left_out(ds, tmp_path):
    tiny = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
    sets = ["data.dataset=image-folder", f"data.root={ds}", "data.image_size=28"]
    args = ["train", str(tiny), "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(cli, [*args, *[a for s in sets for a in ("--set", s)]])
    assert res.exit_code == 1, res.output
    lead = f"no class folder of {ds} holds images that can be read and that no other class holds"
    assert res.stderr.splitlines()[-1] == _said(ds, "class", lead)
    assert not (tmp_path / "run").exists()


def test_enroll_names_the_label_links_it_left_out(ds, tmp_path):
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(input_shape=(1, 28, 28))
    model = siamkit.save_model(siamkit.SiameseNetwork(enc, 8, preprocess=pre), tmp_path / "m")
    res = CliRunner().invoke(
        cli, ["enroll", str(model), "--gallery", str(tmp_path / "g.db"), str(ds)]
    )
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines()[-1] == _said(ds, "label", "nothing to enroll")
    assert not (tmp_path / "g.db").exists()


def test_face_crop_names_the_person_links_it_left_out(ds, tmp_path):
    res = CliRunner().invoke(cli, ["face", "crop", str(ds), str(tmp_path / "chips")])
    assert res.exit_code != 0, res.output
    lead = f"no person folder of {ds} holds photos that can be read and that no other person holds"
    assert res.stderr.splitlines()[-1] == _said(ds, "person", lead, "photo")
    assert not (tmp_path / "chips").exists()


def test_face_identities_name_the_links_left_out(ds):
    from siamkit.applications.faces.evaluate import read_identities
    from siamkit.data.folders import ClassFoldersError

    with pytest.warns(UserWarning), pytest.raises(ClassFoldersError) as err:
        read_identities(ds)
    lead = (
        f"no identity folder of {ds} holds photos that can be read and that no other identity holds"
    )
    assert f"Error: {err.value}" == _said(ds, "identity", lead, "photo")
