"""SQLite finding no temp folder it may write (``SQLITE_IOERR_GETTEMPPATH``) was the retryable
503 ("send the request again later", ``Retry-After: 10``): a disk I/O error by its message,
though no retry makes a folder writable, and the sentence named none (final reader's note of
stop 55). It is the operator's 503 now, naming the temp folders.

The error is made as Python 3.11 raises it: a real one needs SQLITE_TMPDIR, TMPDIR, /var/tmp,
/tmp and the working folder all unwritable by the process, which the tests cannot arrange for
root (reproduced in a mount namespace with read-only bind mounts, as root and as ``nobody``,
SQLite 3.40.1: ``OperationalError('disk I/O error')``, ``sqlite_errorcode`` 6410,
``sqlite_errorname`` ``SQLITE_IOERR_GETTEMPPATH``)."""

from __future__ import annotations

import sqlite3
import warnings

from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app, errors


def _sqlite_error(name: str, code: int) -> sqlite3.OperationalError:
    err = sqlite3.OperationalError("disk I/O error")
    err.sqlite_errorname = name
    err.sqlite_errorcode = code
    return err


def test_no_writable_temp_folder_is_the_operators_503_naming_the_temp_folders(
    siamkit_log, tmp_path, monkeypatch
):
    monkeypatch.setenv("SQLITE_TMPDIR", "/nonexistent/sqlite-tmp")
    app = create_app(make_model(), tmp_path / "shop.db")
    answers = {}
    with TestClient(app, raise_server_exceptions=False) as client:
        png = png_bytes(pattern("noise", seed=0))
        first = client.post(
            "/enroll", data={"label": "a"}, files={"files": ("x.png", png, "image/png")}
        )
        assert first.status_code == 201, first.text
        for name, code in (("SQLITE_IOERR_GETTEMPPATH", 6410), ("SQLITE_IOERR_WRITE", 778)):
            err = _sqlite_error(name, code)

            def failing(*args, err=err, **kwargs):
                raise err

            app.state.engine.gallery.labels = failing
            answers[name] = client.get("/gallery", headers={"X-Request-ID": name})
    no_temp = answers["SQLITE_IOERR_GETTEMPPATH"]
    assert no_temp.status_code == 503, no_temp.text
    assert "Retry-After" not in no_temp.headers, no_temp.headers
    assert no_temp.json() == {"detail": errors.NO_TEMP_FOLDER.format(reason="disk I/O error")}
    detail = no_temp.json()["detail"]
    assert "no temp folder it may write" in detail and "SQLITE_TMPDIR" in detail
    assert "again later" not in detail and "will not help" in detail
    logged = [r.getMessage() for r in siamkit_log.errors() if "temp folder" in r.getMessage()]
    assert len(logged) == 1, siamkit_log.text
    assert "'/nonexistent/sqlite-tmp'" in logged[0] and "(id=SQLITE_IOERR_GETTEMPPATH)" in logged[0]
    # set after sqlite3 was imported, as here, SQLite never read it: the line says the value is now
    assert "in the environment now, which SQLite read at start" in logged[0]
    # another disk I/O error may pass (a failed write): still the 503 a client may retry
    other = answers["SQLITE_IOERR_WRITE"]
    assert other.status_code == 503
    assert other.headers.get("Retry-After") == str(errors.RETRY_AFTER_S)
    assert "send the request again later" in other.json()["detail"]
