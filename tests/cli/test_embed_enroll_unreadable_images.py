"""siamkit embed / enroll of a folder holding files that cannot be read: one sentence naming each,
nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.index import Gallery


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A model, and a folder of two labels' images holding a truncated JPEG and a file only
    named .jpg (the one the user meets first, and the one after it)."""
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[4])
    pre = siamkit.Preprocess(input_shape=(3, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    staff = tmp_path / "staff"
    for c, colour in (("ann", (200, 30, 30)), ("bob", (30, 30, 200))):
        (staff / c).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (8, 8), tuple(v + 4 * i for v in colour)).save(staff / c / f"{i}.png")
    Image.new("RGB", (40, 40), (9, 9, 9)).save(tmp_path / "whole.jpg")
    cut, fake = staff / "ann" / "cut.jpg", staff / "bob" / "fake.jpg"
    cut.write_bytes((tmp_path / "whole.jpg").read_bytes()[:200])
    fake.write_bytes(b"not a jpeg")
    return {"model": model, "staff": staff, "cut": cut, "fake": fake, "root": tmp_path}


def _refused(args: list[object]) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 1, res.output
    assert "Item " not in res.output and "Traceback" not in res.output, res.output
    return res.output.strip().splitlines()[-1]


def test_embed_names_every_unreadable_image_and_writes_nothing(setup: dict[str, Path]) -> None:
    """'Item 5 of 14: ...': a position in a batch the user never saw, and the first bad file
    alone, so the user fixed it and ran again to meet the next."""
    out = setup["root"] / "z.npy"
    last = _refused(["embed", setup["model"], setup["staff"], "--out", out, "--no-progress"])
    assert last == (
        f"Error: 2 of the 14 images given cannot be read, {setup['cut']} (corrupt or "
        f"truncated) and {setup['fake']} (not an image): remove or fix them"
    ), last
    assert not list(setup["root"].glob("z*"))


def test_enroll_names_every_unreadable_image_and_leaves_the_gallery_as_it_was(
    setup: dict[str, Path],
) -> None:
    db, model, staff = setup["root"] / "g.db", setup["model"], setup["staff"]
    ok = CliRunner().invoke(
        cli,
        ["enroll", str(model), "--gallery", str(db), "--label", "cy", str(staff / "ann" / "0.png")],
    )
    assert ok.exit_code == 0, ok.output
    thumbs = sorted(p.name for p in setup["root"].glob("g.db.thumbs*"))
    for args in (
        ["enroll", model, "--gallery", db, staff, "--no-progress"],  # one label per sub-folder
        ["enroll", model, "--gallery", db, "--label", "dan", staff, "--no-progress"],
    ):
        last = _refused(args)
        assert last == (
            f"Error: 2 of the 14 images given cannot be read, {setup['cut']} (corrupt or "
            f"truncated) and {setup['fake']} (not an image): remove or fix them"
        ), last
        with Gallery.open(db, siamkit.load_model(model)) as g:
            assert [(i.label, i.count) for i in g.labels()] == [("cy", 1)]
        assert sorted(p.name for p in setup["root"].glob("g.db.thumbs*")) == thumbs

    # one unreadable file keeps its own sentence (what is wrong with it), without an index
    last = _refused(["enroll", model, "--gallery", db, "--label", "eve", setup["fake"]])
    assert (
        last == f"Error: '{setup['fake']}' is not a readable image (PNG, JPEG, BMP, ... expected)."
    )
