"""`siamkit enroll` with a face model (``input_kind == "photo"``) read every photo at full size
into one list before embedding any (10,000 12-MP photos: 1.4 TB as floats); it now checks each
file cheaply first and reads the photos a chunk at a time, at their own sizes, as it reads images
for other models. The gallery holds what the all-at-once embedding gave."""

from __future__ import annotations

import json
import shutil
import weakref
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.data.image_io as image_io
from siamkit.cli import _enroll
from siamkit.cli.main import cli
from siamkit.index import Gallery

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture(scope="module")
def dlib_model(tmp_path_factory, encoder) -> Path:
    return siamkit.save_model(encoder, tmp_path_factory.mktemp("dlib") / "model")


@pytest.fixture
def people(tmp_path, astronaut, messi) -> Path:
    """Two labels, five photos: messi5.jpg as shipped (a JPEG), the astronaut as PNGs."""
    root = tmp_path / "people"
    (root / "eileen").mkdir(parents=True)
    (root / "lionel").mkdir()
    Image.fromarray(astronaut).save(root / "eileen" / "a.png")
    Image.fromarray(np.ascontiguousarray(astronaut[:, ::-1])).save(root / "eileen" / "b.png")
    Image.fromarray(astronaut).resize((600, 600)).save(root / "eileen" / "c.png")
    shutil.copy(OPENCV_DATA / "messi5.jpg", root / "lionel" / "a.jpg")
    Image.fromarray(np.ascontiguousarray(messi[:, ::-1])).save(root / "lionel" / "b.png")
    return root


def _reads_spied(monkeypatch) -> list[int]:
    """Spy on the photo read: for each read, how many photos read before are still alive."""
    real = image_io.read_image
    alive: list[weakref.ref] = []
    held: list[int] = []

    def spy(*args, **kwargs):
        held.append(sum(r() is not None for r in alive))
        photo = real(*args, **kwargs)
        alive.append(weakref.ref(photo))
        return photo

    monkeypatch.setattr(image_io, "read_image", spy)
    return held


def test_enroll_reads_photos_a_chunk_at_a_time_with_the_same_embeddings(
    tmp_path, monkeypatch, dlib_model, encoder, people
):
    files = sorted(people.rglob("*.*"))
    # the old reading: every photo at its own size in one list, embedded in one call
    whole = encoder.embed_photos([image_io.read_image(p, channels=3) for p in files])
    expected = {str(p): z for p, z in zip(files, whole)}
    monkeypatch.setattr(_enroll, "PHOTO_CHUNK", 2, raising=False)
    held = _reads_spied(monkeypatch)
    db = tmp_path / "g.db"
    res = CliRunner().invoke(cli, ["enroll", str(dlib_model), "--gallery", str(db), str(people)])
    assert res.exit_code == 0, res.output
    assert len(held) == len(files)  # each photo read once, after the cheap check of every file
    # at most one chunk of photos alive at once: the one being read and one before it
    assert max(held) <= 1, held
    with Gallery.open(db, encoder) as gallery:
        items = gallery.items()
        sources = gallery.sources(list(items.ids))
    assert sorted(sources.values()) == sorted(expected)
    for item_id, z in zip(items.ids, items.embeddings):
        np.testing.assert_allclose(z, expected[sources[int(item_id)]], rtol=0, atol=1e-6)


def test_enroll_refuses_an_unreadable_photo_before_reading_any(
    tmp_path, monkeypatch, dlib_model, people
):
    (people / "lionel" / "broken.jpg").write_bytes((OPENCV_DATA / "messi5.jpg").read_bytes()[:2000])
    held = _reads_spied(monkeypatch)
    db = tmp_path / "g.db"
    res = CliRunner().invoke(cli, ["enroll", str(dlib_model), "--gallery", str(db), str(people)])
    assert res.exit_code == 1, res.output
    assert "broken.jpg" in res.output, res.output
    assert held == []  # refused by the check, before any photo was read whole
    assert not db.exists()


def test_identify_reads_photos_a_chunk_at_a_time_with_the_same_results(
    tmp_path, monkeypatch, dlib_model, encoder, people, megamind
):
    db = tmp_path / "g.db"
    res = CliRunner().invoke(cli, ["enroll", str(dlib_model), "--gallery", str(db), str(people)])
    assert res.exit_code == 0, res.output
    queries = sorted(people.rglob("*.*"))
    with Gallery.open(db, encoder) as gallery:  # the old search: every photo in one call
        whole = gallery.identify_batch([image_io.read_image(p, channels=3) for p in queries], k=2)
    monkeypatch.setattr(_enroll, "PHOTO_CHUNK", 2, raising=False)
    held = _reads_spied(monkeypatch)
    args = ["identify", str(dlib_model), "--gallery", str(db), "--k", "2", "--json"]
    res = CliRunner().invoke(cli, [*args, *map(str, queries)])
    assert res.exit_code == 0, res.output
    assert len(held) == len(queries) and max(held) <= 1, held
    docs = json.loads(res.stdout)["queries"]
    assert [d["label"] for d in docs] == [r.label for r in whole]
    for d, r in zip(docs, whole):
        got = [(m["label"], m["item_id"]) for m in d["matches"]]
        assert got == [(m.label, m.item_id) for m in r.matches]
        np.testing.assert_allclose(
            [m["distance"] for m in d["matches"]], [m.distance for m in r.matches], atol=1e-6
        )
    # a photo without a face in a later chunk is named by its place among all the queries
    blank = tmp_path / "blank.png"
    Image.fromarray(megamind[0]).save(blank)
    res = CliRunner().invoke(cli, [*args, *map(str, queries), str(blank)])
    assert res.exit_code == 1, res.output
    assert f"No face was found in '{blank}' (photo 6 of 6)" in res.output, res.output
