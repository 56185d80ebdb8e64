"""``siamkit enroll DIR`` refused a label folder whose name is not UTF-8 (Latin-1 bytes from an
old archive, ``caf\\xe9``): 'label 'caf\\udce9' contains U+DCE9 (unnamed), a character that
cannot be shown', while the files' sources and an image folder's class names already keep such
a name with its bytes as ``\\xe9`` escapes. The folder is now enrolled under that escaped name,
which gallery list, identify and the service print and return as valid UTF-8 JSON; two folders
that would read as one label so are refused, naming both."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli

LATIN1 = os.fsdecode(b"caf\xe9")  # the folder's name as Python gives it: 'caf\udce9'
ESCAPED = "caf\\xe9"  # the label: its byte as a \xe9 escape, as text_name writes it


def _model(tmp_path: Path) -> Path:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    net = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre)
    return Path(siamkit.save_model(net, tmp_path / "m"))


def _photos(root: Path, labels: tuple[str, ...]) -> Path:
    """root/<label>/{0,1}.png, different images in each."""
    rng = np.random.default_rng(0)
    for label in labels:
        (root / label).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def _run(args: list[object], code: int = 0):  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def _strict_json(text: str | bytes) -> dict:  # type: ignore[type-arg]
    """``text`` as JSON, refusing what strict parsers refuse: a lone surrogate, escaped or not
    (Python's json.loads takes both), or bytes that are not UTF-8."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    assert "\\udc" not in text
    text.encode("utf-8")  # no raw lone surrogate either
    return json.loads(text)  # type: ignore[no-any-return]


def test_a_label_folder_not_utf8_is_enrolled_under_its_escaped_name(tmp_path: Path) -> None:
    model = _model(tmp_path)
    photos = _photos(tmp_path / "photos", ("bag", LATIN1))
    db = tmp_path / "g.db"
    res = _run(["enroll", model, "--gallery", db, photos, "--json"])
    doc = _strict_json(res.stdout)
    assert sorted(d["label"] for d in doc["labels"]) == ["bag", ESCAPED]
    assert all(len(d["item_ids"]) == 2 for d in doc["labels"])

    res = _run(["gallery", db, "list"])
    assert ESCAPED in res.stdout.split()
    labels = _strict_json(_run(["gallery", db, "list", "--json"]).stdout)["labels"]
    assert {i["label"]: i["count"] for i in labels} == {"bag": 2, ESCAPED: 2}

    query = photos / LATIN1 / "1.png"
    res = _run(["identify", model, "--gallery", db, query, "--k", "2", "--json"])
    matches = _strict_json(res.stdout)["queries"][0]["matches"]
    assert {m["label"] for m in matches} == {"bag", ESCAPED}
    assert matches[0]["label"] == ESCAPED and matches[0]["distance"] == pytest.approx(0, abs=1e-5)
    assert ESCAPED in _run(["identify", model, "--gallery", db, query]).stdout

    # enrolling the folder again skips what its label holds: the same label, nothing twice
    doc = _strict_json(_run(["enroll", model, "--gallery", db, photos, "--json"]).stdout)
    assert doc["num_items"] == 4 and doc["skipped_already_enrolled"] == 4

    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    with warnings.catch_warnings():  # starlette's notice about httpx2, raised on import
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    net = siamkit.load_model(model)
    net.threshold = 0.5  # a calibrated model's service (none: a warning, the same answers)
    with TestClient(create_app(net, db)) as client:
        res = client.get("/gallery")
        assert res.status_code == 200, res.text
        assert {g["label"] for g in _strict_json(res.content)["labels"]} == {"bag", ESCAPED}
        res = client.get("/gallery/images", params={"label": ESCAPED})
        assert res.status_code == 200, res.text
        assert len(_strict_json(res.content)["images"]) == 2  # thumbnails kept by enroll
        res = client.post("/identify", files=[("file", ("q.png", query.read_bytes()))])
        assert res.status_code == 200, res.text
        assert _strict_json(res.content)["matches"][0]["label"] == ESCAPED

    res = _run(["gallery", db, "remove", ESCAPED, "--json"])
    assert _strict_json(res.stdout) == {"label": ESCAPED, "removed": 2}


def test_two_folders_that_read_as_one_label_are_refused_naming_both(tmp_path: Path) -> None:
    """The Latin-1 name and its escape spelt out (a folder named 'caf\\xe9' in ASCII) would be
    enrolled as one label: refused before anything is read or written."""
    model = _model(tmp_path)
    photos = _photos(tmp_path / "photos", ("bag", LATIN1, ESCAPED))
    db = tmp_path / "g.db"
    res = _run(["enroll", model, "--gallery", db, photos], code=2)
    said = res.stderr.strip().splitlines()[-1]
    assert said == (
        f"Error: the label folders {photos / ESCAPED} (UTF-8) and {photos / ESCAPED} (not UTF-8) "
        f"both read as the label '{ESCAPED}', since a name that is not UTF-8 is read with its "
        "bytes as \\xe9 escapes: rename one of them"
    )
    assert not db.exists()
