"""The service's log: a failed request is one traceback naming it, at ``--log-level``."""

from __future__ import annotations

import json
import logging
import re
import warnings
from typing import Any

import pytest
from _service_helpers import make_model, pattern, png_bytes

pytest.importorskip("uvicorn")

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app


def test_a_failing_model_is_one_500_and_one_traceback_naming_the_request(siamkit_log) -> None:
    """A model that raises (CUDA out of memory, a bug) answers 500 in a sentence and logs one
    traceback that names the request; it escaped to the server, which logged it a second time
    ("Exception in ASGI application") after siamkit's unnamed "unexpected error while serving a
    request"."""
    model = make_model()

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory (simulated)")

    model.embed = fail  # type: ignore[method-assign]
    with TestClient(create_app(model, None)) as client:  # raises what escapes the app
        image = {"files": ("a.png", png_bytes(pattern("disc")))}
        answer = client.post("/embed", files=image, headers={"X-Request-ID": "r1"})
    assert answer.status_code == 500
    assert answer.json() == {
        "detail": "Internal error; the server log has the details under request id r1.",
        "request_id": "r1",
    }
    errors = [r for r in siamkit_log.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["POST /embed failed (id=r1)"]
    assert errors[0].exc_info is not None and "CUDA out of memory" in str(errors[0].exc_info[1])


def test_the_server_shows_siamkit_lines_in_its_format_at_its_level(capsys) -> None:
    """Under ``serve --log-level``, siamkit's loggers print as uvicorn's (``ERROR:    ...``) and
    obey the level; they went to Python's last-resort handler, bare and always shown."""
    from siamkit.service.server import build_server

    logger = logging.getLogger("siamkit")
    saved = logger.handlers[:], logger.level, logger.propagate
    try:
        build_server(create_app(make_model(), None), "error")  # configures logging, as serve
        log = logging.getLogger("siamkit.service")
        log.warning("below the level")
        log.error("POST /embed failed")
        err = capsys.readouterr().err
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    assert "below the level" not in err
    assert "ERROR:    POST /embed failed" in err


def test_each_request_is_one_access_line_with_its_time_and_request_id(siamkit_log) -> None:
    """uvicorn's access line said status but not how long a request took; siamkit's says both,
    and the balancer's X-Request-ID, for refusals too; serve turns uvicorn's own line off."""
    from siamkit.service.limits import ServiceLimits
    from siamkit.service.server import build_server

    app = create_app(
        make_model(), None, limits=ServiceLimits(max_upload_bytes=1000, max_request_bytes=1000)
    )
    with TestClient(app) as client:
        client.get("/health", headers={"X-Request-ID": "lb-42"})
        client.get("/health", headers={"X-Request-ID": "two words"})  # not an id: left out
        client.post("/embed", content=b"x" * 2000, headers={"content-type": "text/plain"})
    lines = [r.getMessage() for r in siamkit_log.records if r.name == "siamkit.access"]
    assert len(lines) == 3, lines
    assert re.fullmatch(
        r'testclient:\d+ - "GET /health HTTP/1.1" 200 OK \d+\.\d ms id=lb-42', lines[0]
    )
    assert lines[1].endswith(" ms") and "two" not in lines[1]
    assert '"POST /embed HTTP/1.1" 413 Request Entity Too Large' in lines[2]
    assert build_server(app, "info").config.access_log is False


def test_a_path_is_logged_on_one_line_percent_encoded(siamkit_log) -> None:
    """The access line showed the decoded path, so ``GET /a%0AINFO: forged`` wrote a second,
    forged log line; the path is percent-encoded again, as in uvicorn's own access line."""
    with TestClient(create_app(make_model(), None)) as client:
        client.get("/a%0AINFO:%20forged%1B[31m/caf%C3%A9")
    lines = [r.getMessage() for r in siamkit_log.records if r.name == "siamkit.access"]
    assert len(lines) == 1 and lines[0].isprintable(), lines
    assert '"GET /a%0AINFO%3A%20forged%1B%5B31m/caf%C3%A9 HTTP/1.1" 404 Not Found' in lines[0]


def test_a_full_disk_is_a_503_naming_it_not_an_internal_error(siamkit_log, tmp_path) -> None:
    """SQLite failing to write the gallery (disk full, a lock held past the wait) was a bare
    500 "Internal error"; it is a 503 a client may retry, naming SQLite's reason, and the log
    names the request and the reason."""
    import sqlite3

    app = create_app(make_model(), tmp_path / "shop.db")
    gallery = app.state.engine.gallery

    def full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    gallery.enroll_embeddings = full
    with TestClient(app) as client:
        image = {"files": ("a.png", png_bytes(pattern("disc")))}
        answer = client.post("/enroll", data={"label": "a"}, files=image)
        assert client.get("/gallery").json()["labels"] == []
    assert answer.status_code == 503
    assert "database or disk is full" in answer.json()["detail"]
    errors = [r.getMessage() for r in siamkit_log.records if r.levelno >= logging.ERROR]
    assert errors == ["POST /enroll failed: the gallery: database or disk is full"]


def test_a_model_raising_a_type_error_is_a_500_and_one_traceback(siamkit_log) -> None:
    """A TypeError inside the service (a model's, a plug-in's or siamkit's bug) was answered 400
    with its message, as if the client had sent something wrong, and logged nothing; it is a
    500 logged once with its traceback and the request's id, as any other failure."""
    model = make_model()

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("unsupported operand type(s) for +: 'Tensor' and 'NoneType'")

    model.embed = fail  # type: ignore[method-assign]
    with TestClient(create_app(model, None)) as client:
        image = {"files": ("a.png", png_bytes(pattern("disc")))}
        answer = client.post("/embed", files=image, headers={"X-Request-ID": "r2"})
    assert answer.status_code == 500
    assert answer.json()["request_id"] == "r2"
    errors = [r for r in siamkit_log.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["POST /embed failed (id=r2)"]
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], TypeError)


def test_a_refusal_logs_its_reason_on_its_access_line(siamkit_log) -> None:
    """A 4xx access line said only the status, so the operator could not see why requests
    failed; it adds the answer's detail as a JSON string on one line (what the client sent in
    it, a newline or a terminal escape, escaped), cut to 200 characters."""
    from siamkit.service.middleware import REASON_CHARS

    with TestClient(create_app(make_model(), None)) as client:
        bad = {"file_a": ("a.png", b"not an image"), "file_b": ("b.png", b"nor this")}
        answers = [client.post("/verify", files=bad, headers={"X-Request-ID": "r3"})]
        answers.append(client.get("/gallery?a%0Ab%1B%E2%80%A8=1"))  # named in the detail
        answers.append(client.get("/" + "x" * 500))
        answers.append(client.get("/health"))
    lines = [r.getMessage() for r in siamkit_log.records if r.name == "siamkit.access"]
    assert len(lines) == 4, lines
    assert [a.status_code for a in answers] == [400, 422, 404, 200]
    reasons = [line.split(" reason=", 1)[1] for line in lines[:3]]
    assert lines[0].endswith(f" id=r3 reason={reasons[0]}")
    assert json.loads(reasons[0]) == answers[0].json()["detail"]
    assert r"a\nb\u001b\u2028" in reasons[1] and reasons[1].isprintable()
    assert json.loads(reasons[1]) == answers[1].json()["detail"]
    assert json.loads(reasons[2]).startswith("There is no endpoint /xxx")
    assert len(json.loads(reasons[2])) == REASON_CHARS and reasons[2].endswith('…"')
    assert "reason" not in lines[3]


def test_a_gallery_bug_is_a_500_not_a_503_to_retry(siamkit_log, tmp_path) -> None:
    """Every sqlite3.OperationalError was answered 503 "send the request again later", so a
    bug (``no such column``, as SQLite itself names SQLITE_ERROR) told clients to retry for
    ever; only the states SQLite names as passing (a lock, a full disk, a read-only file) are
    503, the rest a 500 logged once."""
    import sqlite3

    app = create_app(make_model(), tmp_path / "shop.db")
    gallery = app.state.engine.gallery

    def bug(*args: Any, **kwargs: Any) -> Any:
        with sqlite3.connect(":memory:") as conn:
            conn.execute("SELECT no_such_column FROM sqlite_master")  # SQLITE_ERROR

    def locked(*args: Any, **kwargs: Any) -> Any:
        err = sqlite3.OperationalError("database is locked")
        err.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
        raise err

    image = {"files": ("a.png", png_bytes(pattern("disc")))}
    with TestClient(app) as client:
        gallery.enroll_embeddings = bug
        answer = client.post("/enroll", data={"label": "a"}, files=image)
        assert answer.status_code == 500, answer.json()
        rid = answer.json()["request_id"]  # made up for it: the request sent none
        assert answer.json()["detail"] == (
            f"Internal error; the server log has the details under request id {rid}."
        )
        gallery.enroll_embeddings = locked
        answer = client.post("/enroll", data={"label": "a"}, files=image)
        assert answer.status_code == 503 and "database is locked" in answer.json()["detail"]
    errors = [r.getMessage() for r in siamkit_log.records if r.levelno >= logging.ERROR]
    assert errors[0] == f"POST /enroll failed (id={rid})" and len(errors) == 2, errors


def test_a_failed_request_logs_its_path_as_the_access_line_does(siamkit_log, tmp_path) -> None:
    """The access line percent-encodes the path again (a %0A the client sent stays %0A, one
    line); the "failed" lines of a 500 and of a gallery failure logged it decoded. Labels with
    control characters are refused before any gallery call today, so these lines now use the
    access line's form, checked here on a label the gallery takes."""
    import sqlite3

    app = create_app(make_model(), tmp_path / "shop.db")
    gallery = app.state.engine.gallery

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        for fail in (locked, bug):
            gallery.remove = fail
            client.delete("/gallery/caf%C3%A9%20tile")
    failed = [r.getMessage() for r in siamkit_log.records if r.levelno >= logging.ERROR]
    assert len(failed) == 2, failed
    access = [r.getMessage() for r in siamkit_log.records if r.name == "siamkit.access"]
    assert all("DELETE /gallery/caf%C3%A9%20tile" in line for line in failed + access), (
        failed,
        access,
    )
