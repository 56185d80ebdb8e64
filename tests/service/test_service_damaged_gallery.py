"""A gallery file damaged while the service runs (cut short, or overwritten in part) raised the
store's ``GalleryDamagedError`` (a ValueError), which the service answered as a bug: a 500
"Internal error", though no retry and no bug fix helps, only the operator mending the file. It is
a 503 saying the gallery file is damaged and naming ``siamkit gallery FILE check``, without the
server's paths, with the file and what to do in the log."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest
from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.index.store import GalleryDamagedError
from siamkit.service import create_app
from siamkit.service.errors import GALLERY_DAMAGED, RETRY_AFTER_S


def test_a_gallery_damaged_while_serving_is_a_503_naming_the_check(siamkit_log, tmp_path):
    path = tmp_path / "shop.db"
    model = make_model()
    app = create_app(model, path)
    gallery = app.state.engine.gallery
    rng = np.random.default_rng(0)
    for i in range(300):  # about 45 pages of 4 KiB
        gallery.enroll_embeddings(f"L{i}", rng.normal(size=(5, gallery.embedding_dim)))
    gallery.close()
    app = create_app(model, path)
    with TestClient(app) as client:
        assert client.get("/gallery").status_code == 200
        with open(path, "r+b") as f:  # a page of the items overwritten while the service runs
            f.seek(140_000)
            f.write(b"\xff" * 4096)
        before = path.read_bytes()
        # forget the pages read so far, as a service that ran a while would have
        app.state.engine.gallery._store._conn.execute("PRAGMA shrink_memory")
        answer = client.get("/gallery", headers={"X-Request-ID": "lb-3"})
    assert answer.status_code == 503, answer.text
    assert answer.json() == {"detail": GALLERY_DAMAGED}
    assert "damaged" in GALLERY_DAMAGED and "`siamkit gallery FILE check`" in GALLERY_DAMAGED
    assert str(tmp_path) not in answer.text
    lines = [r.getMessage() for r in siamkit_log.errors()]
    assert len(lines) == 1 and lines[0].startswith("GET /gallery failed (id=lb-3): the gallery ")
    assert f"{path} is damaged" in lines[0] and f"siamkit gallery {path} check" in lines[0]
    assert '"GET /gallery HTTP/1.1" 503 Service Unavailable' in siamkit_log.access()[-1]
    assert path.read_bytes() == before


def test_a_damaged_gallery_is_no_client_mistake_nor_a_bug(tmp_path):
    """Any request that meets the damage gets the same answer: an identify, an enrollment."""

    def damaged(*args, **kwargs):
        raise GalleryDamagedError(f"the gallery {tmp_path / 'shop.db'} is damaged (...)")

    app = create_app(make_model(), tmp_path / "shop.db")
    app.state.engine.gallery.identify_embeddings = damaged
    app.state.engine.gallery.enroll_embeddings = damaged
    png = png_bytes(pattern("disc"))
    with TestClient(app) as client:
        found = client.post("/identify", files={"file": ("a.png", png, "image/png")})
        enrolled = client.post(
            "/enroll", data={"label": "a"}, files={"files": ("a.png", png, "image/png")}
        )
    for answer in (found, enrolled):
        assert answer.status_code == 503, answer.text
        assert answer.json() == {"detail": GALLERY_DAMAGED}


def test_an_embedding_of_the_wrong_size_is_the_damaged_gallerys_503(siamkit_log, tmp_path):
    """Another program wrote items of the wrong size into the served gallery: the requests
    that read them (/identify's and /recommend's reading of new items, /enroll's check for
    repeats in its label) answered a 500 "Internal error", a bug's answer, for the file's
    damage. They answer GALLERY_DAMAGED, and the log names the item and its size."""
    path = tmp_path / "shop.db"
    png = [png_bytes(pattern("noise", seed=s)) for s in range(4)]
    with TestClient(create_app(make_model(), path)) as client:
        for label, s in (("a", 0), ("b", 1)):
            answer = client.post(
                "/enroll", data={"label": label}, files={"files": ("x.png", png[s], "image/png")}
            )
            assert answer.status_code == 201, answer.text
        item = answer.json()["item_ids"][0]
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE items SET embedding = ? WHERE id = ?", (b"\0" * 12, item))
            added = conn.execute(  # an item the service has not read yet: /identify's refresh
                "INSERT INTO items (label, embedding, created) VALUES ('c', ?, 0)", (b"\0" * 10,)
            ).lastrowid
        conn.close()
        answers = {
            "identify": client.post("/identify", files={"file": ("q.png", png[2], "image/png")}),
            "enroll": client.post(
                "/enroll", data={"label": "b"}, files={"files": ("y.png", png[3], "image/png")}
            ),
            "recommend": client.post("/recommend", json={"like": [f"#{item}"]}),
        }
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.text)
        assert answer.json() == {"detail": GALLERY_DAMAGED}
    lines = [r.getMessage() for r in siamkit_log.errors()]
    assert len(lines) == 3 and lines[0].startswith("POST /identify failed: the gallery ")
    assert f"(item {added}: 10 bytes)" in lines[0], lines  # read as new, as /recommend's
    assert f"(item {item}: 12 bytes)" in lines[1] and f"(item {added}: 10 bytes)" in lines[2]
    assert "Internal error" not in " ".join(a.text for a in answers.values())


def test_the_damaged_503_offers_removing_the_named_items_which_mends_the_gallery(tmp_path):
    """GALLERY_DAMAGED offered only restoring a backup or enrolling everything again, both of
    which lose enrollments, for one bad item that removing mends (as the check, the log and
    the README say; reviewer s53_R4 finding 3). It says so, and the removal it names works
    while the service runs."""
    assert "removes the items it names" in GALLERY_DAMAGED
    assert "`siamkit gallery FILE remove --id N`" in GALLERY_DAMAGED
    assert "DELETE /gallery/items/N" in GALLERY_DAMAGED
    assert "restores it from a backup" in GALLERY_DAMAGED  # for a file SQLite cannot read
    path = tmp_path / "shop.db"
    png = [png_bytes(pattern("noise", seed=s)) for s in range(3)]
    app = create_app(make_model(), path)
    with TestClient(app) as client:
        answer = client.post(
            "/enroll", data={"label": "a"}, files={"files": ("x.png", png[0], "image/png")}
        )
        assert answer.status_code == 201, answer.text
        good = answer.json()["item_ids"][0]
        nan = np.full(app.state.engine.gallery.embedding_dim, np.nan, "<f4").tobytes()
        with sqlite3.connect(path) as conn:
            bad = conn.execute(
                "INSERT INTO items (label, embedding, created) VALUES ('b', ?, 0)", (nan,)
            ).lastrowid
        conn.close()
        query = {"file": ("q.png", png[1], "image/png")}
        assert client.post("/identify", files=query).json() == {"detail": GALLERY_DAMAGED}
        assert client.delete(f"/gallery/items/{bad}").status_code == 200
        found = client.post("/identify", files=query)
        assert found.status_code == 200, found.text
        assert [m["item_id"] for m in found.json()["matches"]] == [good]


def test_only_the_503_a_client_may_retry_says_when(tmp_path):
    """A busy gallery (a lock held past SQLite's wait) and a damaged one both answered 503 with
    no other sign, so a client could not tell "retry later" from "retrying will not help". The
    retryable one sends the standard Retry-After (seconds); the damaged gallery's and the
    unreadable thumbnail file's send none, and keep their status and sentences."""
    from siamkit.index.thumbnail_store import ThumbnailsDamagedError
    from siamkit.service.errors import THUMBNAILS_UNREADABLE

    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorname = "SQLITE_BUSY"  # as sqlite3 sets it
    app = create_app(make_model(), tmp_path / "shop.db")
    answers = {}
    with TestClient(app) as client:
        for name, err in (
            ("busy", busy),
            ("damaged", GalleryDamagedError("the gallery shop.db is damaged (...)")),
            ("thumbnails", ThumbnailsDamagedError("the thumbnail file is damaged (...)")),
        ):

            def failing(*args, err=err, **kwargs):
                raise err

            app.state.engine.gallery.labels = failing
            answers[name] = client.get("/gallery")
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 503)
    wait = answers["busy"].headers.get("Retry-After")
    assert wait == str(RETRY_AFTER_S) and RETRY_AFTER_S > 0, answers["busy"].headers
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"`Retry-After: {RETRY_AFTER_S}`" in readme  # the serving notes give the number
    assert "send the request again later" in answers["busy"].json()["detail"]
    for name, detail in (("damaged", GALLERY_DAMAGED), ("thumbnails", THUMBNAILS_UNREADABLE)):
        assert "Retry-After" not in answers[name].headers, (name, answers[name].headers)
        assert answers[name].json() == {"detail": detail}


def test_a_gallery_whose_header_is_overwritten_while_serving_is_the_same_503(siamkit_log, tmp_path):
    """The gallery's first page (its SQLite header) overwritten while the service ran: SQLite
    says "file is not a database", which the store passed on bare, so every request answered a
    500 "Internal error". The service read that file as its gallery at its start: it is the
    gallery's damage, GALLERY_DAMAGED, as the library's GalleryDamagedError says."""
    path = tmp_path / "shop.db"
    png = [png_bytes(pattern("noise", seed=s)) for s in range(3)]
    app = create_app(make_model(), path)
    with TestClient(app) as client:
        for label, s in (("a", 0), ("b", 1)):
            answer = client.post(
                "/enroll", data={"label": label}, files={"files": ("x.png", png[s], "image/png")}
            )
            assert answer.status_code == 201, answer.text
        store = app.state.engine.gallery._store
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with open(path, "r+b") as f:
            f.write(b"\xff" * 100)
        store._conn.execute("PRAGMA shrink_memory")  # forget the pages read so far
        with pytest.raises(GalleryDamagedError, match=f"the gallery {path} is damaged"):
            app.state.engine.gallery.labels()
        answers = {
            "gallery": client.get("/gallery"),
            "images": client.get("/gallery/images", params={"label": "a"}),
            "identify": client.post("/identify", files={"file": ("q.png", png[2], "image/png")}),
            "remove": client.delete("/gallery/b"),
        }
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.text)
        assert answer.json() == {"detail": GALLERY_DAMAGED}
    lines = [r.getMessage() for r in siamkit_log.errors()]
    assert len(lines) == 4 and all(
        f"{path} is damaged (file is not a database)" in s for s in lines
    )


def test_an_embedding_with_nan_written_while_serving_is_the_same_503(siamkit_log, tmp_path):
    """An item of the right size holding NaN, written by another program while the service ran:
    /identify's reading of new items answered a 500 "Internal error" (the index's "embeddings
    contain NaN or infinite values"). It is the gallery's damage, naming the item in the log."""
    path = tmp_path / "shop.db"
    png = png_bytes(pattern("noise", seed=0))
    with TestClient(create_app(make_model(), path)) as client:
        answer = client.post(
            "/enroll", data={"label": "a"}, files={"files": ("x.png", png, "image/png")}
        )
        assert answer.status_code == 201, answer.text
        with sqlite3.connect(path) as conn:
            blob = np.full(16, np.nan, dtype="<f4").tobytes()  # make_model's 16 values
            added = conn.execute(
                "INSERT INTO items (label, embedding, created) VALUES ('b', ?, 0)", (blob,)
            ).lastrowid
        conn.close()
        found = client.post("/identify", files={"file": ("q.png", png, "image/png")})
    assert found.status_code == 503, found.text
    assert found.json() == {"detail": GALLERY_DAMAGED}
    lines = [r.getMessage() for r in siamkit_log.errors()]
    assert (
        len(lines) == 1
        and f"NaN or infinite values, which no search can rank (item ids {added})" in lines[0]
    )


def test_the_damaged_sentences_say_nan_or_infinite_as_the_check_does(tmp_path):
    """The store calls an item with an infinite value damaged as it does one with NaN ("NaN or
    infinite values"); the service's 503 and the README's serving notes said "NaN values", which
    sent an operator looking for NaN past the +inf that was there."""
    path = tmp_path / "shop.db"
    with TestClient(create_app(make_model(), path)) as client:
        assert client.get("/gallery").status_code == 200
        with sqlite3.connect(path) as conn:
            blob = np.full(16, np.inf, dtype="<f4").tobytes()  # make_model's 16 values, no NaN
            conn.execute(
                "INSERT INTO items (label, embedding, created) VALUES ('b', ?, 0)", (blob,)
            )
        conn.close()
        found = client.post(
            "/identify", files={"file": ("q.png", png_bytes(pattern("noise")), "image/png")}
        )
    assert found.status_code == 503 and found.json() == {"detail": GALLERY_DAMAGED}
    assert "NaN or infinite values" in GALLERY_DAMAGED
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    notes = readme.split("**Several processes, one gallery**")[1].split("**Another model**")[0]
    notes = " ".join(notes.split())
    assert "with NaN or infinite values" in notes and "NaN values" not in notes.replace(
        "NaN or infinite values", ""
    )


def test_a_gallery_the_service_may_not_write_is_a_503_no_retry_mends(siamkit_log, tmp_path):
    """A gallery file made read-only while the service ran (a read-only mount, chattr +i, a
    permission change) answered the retryable 503: "send the request again later", with
    ``Retry-After: 10``, so a client retried a write only the operator can make possible. So did
    SQLite's "unable to open database file" and its permission error. They are a 503 of their
    own, without ``Retry-After``, saying what the operator makes writable; searches still answer.
    The errors are SQLite's own: the store's connection swapped for a read-only one to the same
    file (as a read-only mount is, for SQLite). "Unable to open" is the operator's 503 only while
    the files are not writable (test_service_gallery_cantopen.py)."""
    from siamkit.service.errors import GALLERY_UNWRITABLE

    path = tmp_path / "shop.db"
    png = [png_bytes(pattern("noise", seed=s)) for s in range(2)]
    app = create_app(make_model(), path)
    with TestClient(app) as client:
        first = client.post(
            "/enroll", data={"label": "a"}, files={"files": ("x.png", png[0], "image/png")}
        )
        assert first.status_code == 201, first.text
        store = app.state.engine.gallery._store
        writable = store._conn
        store._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            answers = {
                "enroll": client.post(
                    "/enroll", data={"label": "b"}, files={"files": ("y.png", png[1], "image/png")}
                ),
                "remove": client.delete("/gallery/a"),
            }
            listed = client.get("/gallery")
        finally:
            store._conn.close()
            store._conn = writable
        perm = sqlite3.OperationalError("access permission denied")
        perm.sqlite_errorname = "SQLITE_PERM"  # as sqlite3 sets it; root cannot be refused here

        def failing(*args, **kwargs):
            raise perm

        app.state.engine.gallery.labels = failing
        answers["permission"] = client.get("/gallery")
    assert listed.status_code == 200 and listed.json()["num_items"] == 1
    reasons = {
        "enroll": "attempt to write a readonly database",
        "remove": "attempt to write a readonly database",
        "permission": "access permission denied",
    }
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.text)
        assert "Retry-After" not in answer.headers, (name, answer.headers)
        assert answer.json() == {"detail": GALLERY_UNWRITABLE.format(reason=reasons[name])}
    lines = [r.getMessage() for r in siamkit_log.errors() if "readonly" in r.getMessage()]
    assert len(lines) == 2 and all(f"the gallery {path} or a file beside it" in x for x in lines)
    assert "send the request again later" not in GALLERY_UNWRITABLE
    assert "sending the request again will not help" in GALLERY_UNWRITABLE
