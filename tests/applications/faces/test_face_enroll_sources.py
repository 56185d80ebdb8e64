"""``siamkit face enroll`` keeps each face's photo, and ``face identify`` shows it: a door
camera's "alice item 12" could not be traced back to the photo that enrolled it."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from siamkit.cli.main import cli
from siamkit.index import Gallery


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut, megamind, three_faces):
    d = tmp_path_factory.mktemp("photos")
    named = {"astronaut": astronaut, "mega110": megamind[110], "three": three_faces[0]}
    for name, rgb in named.items():
        Image.fromarray(rgb).save(d / f"{name}.png")
    return {name: d / f"{name}.png" for name in named}


def run(*args: object) -> str:
    res = CliRunner().invoke(cli, ["face", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_identify_names_the_photo_each_matched_face_was_enrolled_from(tmp_path, photos):
    db = tmp_path / "staff.db"
    run("enroll", "--gallery", db, "--label", "eileen", photos["astronaut"])
    run("enroll", "--gallery", db, "--label", "mega", photos["mega110"])
    with Gallery.open(db) as g:
        items = g.items()
        sources = g.sources(items.ids.tolist())
    by_label = dict(zip(items.labels, (sources[int(i)] for i in items.ids)))
    assert by_label == {"eileen": str(photos["astronaut"]), "mega": str(photos["mega110"])}
    args = ("identify", "--gallery", db, photos["three"], "--k", "2")
    faces = json.loads(run(*args, "--json"))["images"][0]["faces"]
    matches = [m for f in faces for m in f["matches"]]
    assert matches and all(m["source"] == by_label[m["label"]] for m in matches)
    text = run(*args).splitlines()
    rows = [t for t in text if t.lstrip()[:2] in ("1.", "2.")]
    assert len(rows) == len(matches)
    for row, m in zip(rows, matches):
        assert row.split()[1] == m["label"] and row.endswith(f"  (from {m['source']})")


def test_a_gallery_from_before_sources_identifies_as_before(tmp_path, photos):
    """A gallery written before the items had a source column: "source" is null and the text
    shows no "(from ...)"; enrolling into it adds the column, the old face still has none."""
    db = tmp_path / "old.db"
    run("enroll", "--gallery", db, "--label", "eileen", photos["astronaut"])
    with sqlite3.connect(db) as conn:  # as a siamkit before sources left it
        conn.execute("ALTER TABLE items DROP COLUMN source")
    args = ("identify", "--gallery", db, photos["astronaut"])
    doc = json.loads(run(*args, "--json"))
    assert [m["source"] for m in doc["images"][0]["faces"][0]["matches"]] == [None]
    assert "(from" not in run(*args)
    run("enroll", "--gallery", db, "--label", "mega", photos["mega110"])
    with Gallery.open(db) as g:
        items = g.items()
        sources = g.sources(items.ids.tolist())
    assert list(sources.values()) == [str(photos["mega110"])]
    assert np.asarray(items.labels)[np.isin(items.ids, list(sources))].tolist() == ["mega"]
