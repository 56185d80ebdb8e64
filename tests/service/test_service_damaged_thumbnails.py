"""The thumbnail file beside the service's gallery (``shop.db.thumbs``) found damaged
(``ThumbnailsDamagedError``), or replaced by a file that is no database at all
(``not_a_thumbnail_file``), made every endpoint that shows or deletes
thumbnails a 500 "Internal error" (/gallery, /gallery/images, /identify, /enroll, the DELETEs;
reviewer s52_R10 finding 1), and ``GALLERY_DAMAGED`` would be false for it: the gallery is sound.
It is a 503 of its own, saying so and that the operator moves the file aside, without the
server's paths; the log names the file."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import warnings

from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.index.thumbnail_store import (
    ThumbnailsUnreadableError,
    not_a_thumbnail_file,
    thumbnails_path_for,
)
from siamkit.service import create_app
from siamkit.service.errors import GALLERY_DAMAGED, THUMBNAILS_UNREADABLE


def _files(seed: int, n: int = 2) -> list[tuple[str, tuple[str, bytes, str]]]:
    png = [png_bytes(pattern("noise", seed=seed * 10 + j)) for j in range(n)]
    return [("files", (f"{j}.png", p, "image/png")) for j, p in enumerate(png)]


def _enrolled(model, path) -> dict[str, list[int]]:
    """Three labels of two images each, enrolled through the service (thumbnails kept)."""
    ids: dict[str, list[int]] = {}
    with TestClient(create_app(model, path)) as client:
        for i in range(3):
            answer = client.post("/enroll", data={"label": f"L{i}"}, files=_files(i))
            assert answer.status_code == 201, answer.text
            ids[f"L{i}"] = answer.json()["item_ids"]
    return ids


def _labels(path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT label, COUNT(*) FROM items GROUP BY label"))


def test_a_damaged_thumbnail_file_is_a_503_saying_the_gallery_is_sound(siamkit_log, tmp_path):
    path = tmp_path / "shop.db"
    model = make_model()
    ids = _enrolled(model, path)
    side = thumbnails_path_for(path)
    with contextlib.closing(sqlite3.connect(side)) as conn:  # the thumbnails table's root page
        sql = "SELECT rootpage FROM sqlite_master WHERE name = 'thumbnails'"
        root = conn.execute(sql).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(side, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * page_size)
    png = png_bytes(pattern("noise", seed=0))
    app = create_app(model, path)
    with TestClient(app) as client:
        answers = {
            "gallery": client.get("/gallery", headers={"X-Request-ID": "th-1"}),
            "images": client.get("/gallery/images", params={"label": "L1"}),
            "identify": client.post("/identify", files={"file": ("a.png", png, "image/png")}),
            "enroll": client.post("/enroll", data={"label": "new"}, files=_files(7)),
            "item": client.delete(f"/gallery/items/{ids['L0'][0]}"),
            "label": client.delete("/gallery/L2"),
        }
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.text)
        assert answer.json() == {"detail": THUMBNAILS_UNREADABLE}, name
        assert str(tmp_path) not in answer.text
    assert THUMBNAILS_UNREADABLE != GALLERY_DAMAGED and "sound" in THUMBNAILS_UNREADABLE
    assert '".thumbs"' in THUMBNAILS_UNREADABLE and "moves that file aside" in THUMBNAILS_UNREADABLE
    lines = [r.getMessage() for r in siamkit_log.errors()]
    assert len(lines) == 6 and lines[0].startswith("GET /gallery failed (id=th-1): ")
    assert all(f"the thumbnail file {side} is damaged" in line for line in lines), lines
    # the removals and the enrollment left the gallery as it was (all in its transaction)
    assert _labels(path) == {"L0": 2, "L1": 2, "L2": 2}
    # what the answer tells the operator to do: the file moved aside, the service restarted
    os.replace(side, f"{side}.damaged")
    with TestClient(create_app(model, path)) as client:
        listed = client.get("/gallery")
        found = client.post("/identify", files={"file": ("a.png", png, "image/png")})
        removed = client.delete("/gallery/L2")
    assert listed.status_code == 200 and found.status_code == 200, (listed.text, found.text)
    assert {g["label"] for g in listed.json()["labels"]} == {"L0", "L1", "L2"}
    assert found.json()["matches"][0]["label"] == "L0"
    assert removed.status_code == 200, removed.text


def test_a_file_at_the_thumbnail_path_that_is_no_database_is_the_same_503(siamkit_log, tmp_path):
    """Another file put at the thumbnail path while the service runs: the removals, which open
    that path afresh, met it; nothing was removed."""
    path = tmp_path / "shop.db"
    model = make_model()
    ids = _enrolled(model, path)
    side = thumbnails_path_for(path)
    app = create_app(model, path)
    with TestClient(app) as client:
        foreign = tmp_path / "notes.txt"
        foreign.write_bytes(b"not a thumbnail file\n" * 500)
        os.replace(foreign, side)
        answers = [client.delete(f"/gallery/items/{ids['L0'][0]}"), client.delete("/gallery/L1")]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json() == {"detail": THUMBNAILS_UNREADABLE}
    lines = [r.getMessage() for r in siamkit_log.errors()]
    assert len(lines) == 2 and all(f"{side} is not a siamkit thumbnail file" in s for s in lines)
    assert _labels(path) == {"L0": 2, "L1": 2, "L2": 2}


def test_any_other_value_error_is_still_a_500(tmp_path):
    """The handler the foreign file's plain ValueError needs takes no other: a bug's stays the
    500 "Internal error"."""

    def failing(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    app = create_app(make_model(), tmp_path / "shop.db")
    app.state.engine.gallery.labels = failing
    with TestClient(app) as client:
        answer = client.get("/gallery")
    assert answer.status_code == 500, answer.text
    assert answer.json()["detail"].startswith("Internal error")


def test_the_thumbnail_files_refusal_is_told_by_its_class_not_its_wording(siamkit_log, tmp_path):
    """The foreign file's refusal was a plain ValueError that the service told by its sentence,
    through a handler for every ValueError: a bug's ValueError that happened to read so was
    called an unreadable thumbnail file, and a reworded refusal would be a 500. It is a
    ThumbnailsUnreadableError (as the damaged file's is), and the service maps that class."""
    side = str(tmp_path / "shop.db.thumbs")
    refusal = not_a_thumbnail_file(side, Exception("file is not a database"))
    assert isinstance(refusal, ThumbnailsUnreadableError) and isinstance(refusal, ValueError)
    reworded = type(refusal)(f"{side} holds something else entirely")
    look_alike = ValueError(str(refusal))  # a bug's, worded as the refusal
    app = create_app(make_model(), tmp_path / "shop.db")
    answers = {}
    with TestClient(app) as client:
        for name, err in (("refusal", refusal), ("reworded", reworded), ("bug", look_alike)):

            def failing(*args, err=err, **kwargs):
                raise err

            app.state.engine.gallery.labels = failing
            answers[name] = client.get("/gallery")
    for name in ("refusal", "reworded"):
        assert answers[name].status_code == 503, (name, answers[name].text)
        assert answers[name].json() == {"detail": THUMBNAILS_UNREADABLE}
    assert answers["bug"].status_code == 500, answers["bug"].text
    assert answers["bug"].json()["detail"].startswith("Internal error")


def test_a_thumbnail_file_whose_header_is_overwritten_while_open_is_the_same_503(
    siamkit_log, tmp_path
):
    """The thumbnail file's first page (its SQLite header) overwritten while the service held it
    open: SQLite's "file is not a database" was passed on bare, a 500 "Internal error" for
    /gallery, /gallery/images and /identify. It is the file's damage (THUMBNAILS_UNREADABLE),
    not the gallery's, which is sound."""
    path = tmp_path / "shop.db"
    model = make_model()
    _enrolled(model, path)
    side = thumbnails_path_for(path)
    png = png_bytes(pattern("noise", seed=0))
    app = create_app(model, path)
    with TestClient(app) as client:
        assert client.get("/gallery").status_code == 200
        with open(side, "r+b") as f:
            f.write(b"\xff" * 100)
        app.state.engine.thumbnails._conn.execute("PRAGMA shrink_memory")
        answers = {
            "gallery": client.get("/gallery"),
            "images": client.get("/gallery/images", params={"label": "L1"}),
            "identify": client.post("/identify", files={"file": ("a.png", png, "image/png")}),
        }
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.text)
        assert answer.json() == {"detail": THUMBNAILS_UNREADABLE}, name
    lines = [r.getMessage() for r in siamkit_log.errors()]
    assert len(lines) == 3 and all(f"the thumbnail file {side} is damaged" in s for s in lines)
    assert _labels(path) == {"L0": 2, "L1": 2, "L2": 2}
