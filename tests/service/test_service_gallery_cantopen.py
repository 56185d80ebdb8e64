"""SQLite's "unable to open database file" (``SQLITE_CANTOPEN``) is the 503 a client may retry
while the gallery's files are there and writable (the process ran out of file descriptors for a
moment), and the operator's 503 only when they really are not (s54_R2 finding 1)."""

from __future__ import annotations

import os
import resource
import sqlite3
import warnings

from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app
from siamkit.service.errors import GALLERY_UNWRITABLE, RETRY_AFTER_S


def _enrolled(tmp_path):
    app = create_app(make_model(), tmp_path / "shop.db")
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    png = png_bytes(pattern("noise", seed=0))
    first = client.post(
        "/enroll", data={"label": "a"}, files={"files": ("x.png", png, "image/png")}
    )
    assert first.status_code == 201, first.text
    return app, client


def test_running_out_of_file_descriptors_is_the_503_a_client_may_retry(tmp_path):
    """GET /gallery with no file descriptor left met SQLite's CANTOPEN, which e1c94479 answered
    "sending the request again will not help", without Retry-After, sending the operator to look
    for read-only files; the same request answered 200 once descriptors were free again. The
    limit is lowered to the next free descriptor for that one request, as a flood of
    connections would."""
    _app, client = _enrolled(tmp_path)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        used = {int(fd) for fd in os.listdir("/proc/self/fd")}
        lowest_free = min(set(range(len(used) + 2)) - used)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
        try:
            starved = client.get("/gallery")
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        again = client.get("/gallery")
    finally:
        client.__exit__(None, None, None)
    assert starved.status_code == 503, starved.text  # SQLite met EMFILE on this path
    assert "unable to open database file" in starved.json()["detail"]
    assert starved.headers.get("Retry-After") == str(RETRY_AFTER_S), starved.headers
    assert "send the request again later" in starved.json()["detail"]
    assert again.status_code == 200 and again.json()["num_items"] == 1


def test_cantopen_is_the_operators_503_only_while_the_files_are_not_writable(tmp_path):
    """The same SQLite error (a real CANTOPEN, from an open in a missing folder) over the served
    gallery as it is, and with its file moved away or its folder made unwritable (simulated
    through os.access: this machine runs the tests as root)."""
    try:
        sqlite3.connect(f"file:{tmp_path / 'gone' / 'x.db'}?mode=rw", uri=True)
    except sqlite3.OperationalError as err:
        cannot_open = err
    assert cannot_open.sqlite_errorname == "SQLITE_CANTOPEN"
    app, client = _enrolled(tmp_path)

    def failing(*args, **kwargs):
        raise cannot_open

    path = tmp_path / "shop.db"
    real_access = os.access
    answers = {}
    try:
        app.state.engine.gallery.labels = failing
        answers["writable"] = client.get("/gallery")
        path.rename(tmp_path / "moved.db")
        answers["moved"] = client.get("/gallery")
        (tmp_path / "moved.db").rename(path)
        assert (tmp_path / "shop.db-wal").exists()  # the -wal check is met
        for name, refused in (("folder", str(tmp_path)), ("wal", f"{path}-wal")):
            os.access = lambda f, mode, refused=refused: str(f) != refused and real_access(f, mode)
            try:
                answers[name] = client.get("/gallery")
            finally:
                os.access = real_access
    finally:
        client.__exit__(None, None, None)
    assert answers["writable"].status_code == 503
    assert answers["writable"].headers.get("Retry-After") == str(RETRY_AFTER_S)
    unwritable = GALLERY_UNWRITABLE.format(reason="unable to open database file")
    for name in ("moved", "folder", "wal"):
        assert answers[name].status_code == 503, (name, answers[name].text)
        assert "Retry-After" not in answers[name].headers, (name, answers[name].headers)
        assert answers[name].json() == {"detail": unwritable}, name


def test_on_python_3_10_sqlites_errors_are_told_by_their_fixed_messages(tmp_path):
    """Python 3.10's sqlite3 sets no ``sqlite_errorname``, so e1c94479 told nothing there: a
    read-only gallery kept the retryable 503 with Retry-After (s54_R2 finding 2). The errors
    below are made as 3.10 raises them, with SQLite's own message and no name; a bug's message
    stays a 500, as SQLite's name makes it on 3.11."""
    app, client = _enrolled(tmp_path)
    answers = {}
    try:
        for key in (
            "attempt to write a readonly database",
            "access permission denied",
            "database is locked",
            "database table is locked: items",
            "database or disk is full",
            "unable to open database file",
            "no such column: embedding",
            "moved",  # unable to open, the gallery file not there
        ):
            if key == "moved":
                (tmp_path / "shop.db").rename(tmp_path / "moved.db")
            err = sqlite3.OperationalError(
                "unable to open database file" if key == "moved" else key
            )
            assert getattr(err, "sqlite_errorname", None) is None  # as 3.10 raises it

            def failing(*args, err=err, **kwargs):
                raise err

            app.state.engine.gallery.labels = failing
            answers[key] = client.get("/gallery")
    finally:
        client.__exit__(None, None, None)
    said = {text: (a.status_code, a.headers.get("Retry-After")) for text, a in answers.items()}
    retry = (503, str(RETRY_AFTER_S))
    assert said == {
        "attempt to write a readonly database": (503, None),
        "access permission denied": (503, None),
        "database is locked": retry,
        "database table is locked: items": retry,
        "database or disk is full": retry,
        "unable to open database file": retry,  # the files are there and writable
        "no such column: embedding": (500, None),
        "moved": (503, None),
    }
    for text in ("attempt to write a readonly database", "moved"):
        reason = "unable to open database file" if text == "moved" else text
        assert answers[text].json() == {"detail": GALLERY_UNWRITABLE.format(reason=reason)}
