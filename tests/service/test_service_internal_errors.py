"""A failure of the service itself is a 500 naming the request's id, logged once; only what
the client sent wrong is a 4xx (bad uploads included, whatever Pillow raises on them)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app


def _image(name: str = "a.png", kind: str = "disc") -> tuple[str, bytes]:
    return name, png_bytes(pattern(kind))


def _bug(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")


def _internal(answer: Any, rid: str) -> None:
    assert answer.status_code == 500, answer.text
    assert answer.json() == {
        "detail": f"Internal error; the server log has the details under request id {rid}.",
        "request_id": rid,
    }


@pytest.mark.parametrize(
    "where", ["gallery.identify_embeddings", "model.embed", "gallery.recommend"]
)
def test_a_value_error_from_inside_is_a_500_logged_once(siamkit_log, tmp_path, where) -> None:
    """A ValueError raised by a bug deep in the model or the gallery was answered 400 with its
    message, as if the client had sent bad input, and logged nothing (/recommend's 422); it is
    a 500 whose body names the request's id, with one traceback in the log naming both."""
    app = create_app(make_model(), tmp_path / "shop.db")
    engine = app.state.engine
    with TestClient(app) as client:
        for label, kind in (("a", "disc"), ("b", "stripes")):
            files = {"files": _image(kind=kind)}
            assert client.post("/enroll", data={"label": label}, files=files).status_code == 201
        owner, method = where.split(".")
        setattr(engine.gallery if owner == "gallery" else engine.model, method, _bug)
        headers = {"X-Request-ID": "lb-9"}
        if where == "gallery.recommend":
            path, answer = (
                "/recommend",
                client.post("/recommend", json={"like": ["a"]}, headers=headers),
            )
        else:
            path, answer = (
                "/identify",
                client.post("/identify", files={"file": _image()}, headers=headers),
            )
    _internal(answer, "lb-9")
    errors = siamkit_log.errors()
    assert [r.getMessage() for r in errors] == [f"POST {path} failed (id=lb-9)"]
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], ValueError)
    assert f'"POST {path} HTTP/1.1" 500 Internal Server Error' in siamkit_log.access()[-1]


def test_a_500_without_a_request_id_names_one_made_up_for_it(siamkit_log) -> None:
    """A request sent without X-Request-ID got a 500 that named nothing to look up in the log;
    its answer, its traceback's line and its access line now name one id made up for it."""
    model = make_model()
    model.embed = _bug  # type: ignore[method-assign]
    with TestClient(create_app(model, None)) as client:
        answer = client.post("/embed", files={"files": _image()})
    rid = answer.json().get("request_id", "")
    assert re.fullmatch(r"[0-9a-f]{16}", rid), answer.text
    _internal(answer, rid)
    assert [r.getMessage() for r in siamkit_log.errors()] == [f"POST /embed failed (id={rid})"]
    assert siamkit_log.access()[-1].endswith(f" id={rid}")


@pytest.mark.parametrize("error", [TypeError, IndexError, KeyError, ValueError, OSError])
@pytest.mark.parametrize("stage", ["header", "pixels", "thumbnail"])
def test_an_upload_pillow_fails_on_is_a_400_naming_it(
    siamkit_log, tmp_path, monkeypatch, stage, error
) -> None:
    """Pillow raises more than OSError and ValueError on damaged files (a TypeError, an
    IndexError from a plug-in's parser): such an upload was a 500, logged as the service's
    failure; whatever Pillow raises, reading its header, its pixels or its pixels again for its
    thumbnail (at another scale, which a damaged JPEG may not survive), it is the upload's 400,
    naming it, and nothing is logged as an error."""
    from PIL import Image, ImageFile

    import siamkit.service.uploads as uploads
    from siamkit.service.thumbnails import THUMBNAIL_SIZE

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error("damaged file (simulated)")

    draft = Image.Image.draft

    def fail_at_thumbnail_scale(self: Image.Image, mode: str | None, size: Any) -> Any:
        if tuple(size) == (THUMBNAIL_SIZE, THUMBNAIL_SIZE):  # the model's draft is 56x56
            raise error("damaged file (simulated)")
        return draft(self, mode, size)

    files = [("files", _image("ok.png")), ("files", _image("cut.png", "stripes"))]
    if stage == "header":
        monkeypatch.setattr(uploads.Image, "open", fail)
    elif stage == "pixels":
        monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
        monkeypatch.setattr(Image.Image, "load", fail)
    else:
        monkeypatch.setattr(Image.Image, "draft", fail_at_thumbnail_scale)
    with TestClient(create_app(make_model(), tmp_path / "shop.db")) as client:
        answer = client.post("/enroll", data={"label": "a"}, files=files)
        assert client.get("/gallery").json()["labels"] == []  # nothing half-written
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert "'ok.png' (image 1)" in detail, detail
    expected = {"header": "not a readable image", "pixels": "corrupt or truncated"}
    assert expected.get(stage, "Cannot make a thumbnail of") in detail
    assert siamkit_log.errors() == []


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/enroll", "uploads.convert_image"),  # the decoded pixels' conversion
        ("/identify", "uploads.convert_image"),
        ("/enroll", "thumbnails.convert_image"),  # the thumbnail's conversion
        ("/enroll", "Image.thumbnail"),  # its resize
        ("/enroll", "uploads.thumbnail_png"),  # the whole thumbnail making
    ],
)
def test_a_bug_after_pillow_read_the_upload_is_a_500(
    siamkit_log, tmp_path, monkeypatch, path, where
) -> None:
    """Only Pillow's reading of an upload's bytes (open, draft, load) is the client's: a
    ValueError from siamkit's own work on the pixels read (their conversion to 8-bit grey or
    RGB, the thumbnail's resize and save) was answered 400 "... is corrupt or truncated", as if
    the file were bad; it is the service's 500, with its one traceback in the log."""
    from PIL import Image

    import siamkit.service.thumbnails as thumbnails
    import siamkit.service.uploads as uploads

    owner, name = where.split(".")
    target = {"uploads": uploads, "thumbnails": thumbnails, "Image": Image.Image}[owner]
    monkeypatch.setattr(target, name, _bug)
    app = create_app(make_model(), tmp_path / "shop.db")
    headers = {"X-Request-ID": "up-1"}
    with TestClient(app) as client:
        if path == "/enroll":
            answer = client.post(
                "/enroll", data={"label": "a"}, files={"files": _image()}, headers=headers
            )
            assert client.get("/gallery").json()["labels"] == []  # nothing half-written
        else:
            answer = client.post("/identify", files={"file": _image()}, headers=headers)
    _internal(answer, "up-1")
    errors = siamkit_log.errors()
    assert [r.getMessage() for r in errors] == [f"POST {path} failed (id=up-1)"]
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], ValueError)


def _lab_tiff() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("LAB", (28, 28), (50, 10, 20)).save(buf, "TIFF")
    return buf.getvalue()


def test_an_upload_in_a_colour_space_pillow_cannot_convert_is_a_400_naming_it(
    siamkit_log, tmp_path
) -> None:
    """A CIELAB TIFF is read by Pillow but converted by it to neither RGB nor grey: it was a 400
    saying the file was "corrupt or truncated", and with the conversion no longer the client's
    it would be a 500; it is a 400 naming the file and what to send instead, at decoding and
    at the thumbnail alike, with nothing logged as an error."""
    from siamkit.service.errors import RequestError
    from siamkit.service.uploads import Upload, thumbnails_of

    files = [("files", _image("ok.png")), ("files", ("lab.tif", _lab_tiff()))]
    with TestClient(create_app(make_model(), tmp_path / "shop.db")) as client:
        answer = client.post("/enroll", data={"label": "a"}, files=files)
        assert client.get("/gallery").json()["labels"] == []
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == (
        "'lab.tif' (image 2) is a CIELAB (LAB) image, which siamkit cannot convert; save it as an "
        "RGB or greyscale PNG or JPEG."
    )
    assert siamkit_log.errors() == []
    with pytest.raises(RequestError, match=r"^'lab\.tif' \(image 2\) is a CIELAB") as refused:
        thumbnails_of([Upload("'lab.tif' (image 2)", _lab_tiff())])
    assert refused.value.status_code == 400


def test_a_failure_after_the_status_is_one_traceback_and_its_access_line_says_so(
    siamkit_log,
) -> None:
    """A streamed answer that failed after its status went out logged three tracebacks (the
    guard's, the app's last handler's, the server's) and an access line "200 OK" as if it had
    been answered; it is one traceback naming the request, and the access line says that the
    answer sent with that status was cut short."""
    from fastapi.responses import StreamingResponse

    def chunks() -> Iterator[bytes]:
        yield b"first part"
        raise RuntimeError("the stream broke (simulated)")

    app = create_app(make_model(), None)
    app.add_api_route("/stream", lambda: StreamingResponse(chunks()))
    with TestClient(app) as client:
        answer = client.get("/stream", headers={"X-Request-ID": "s1"})
    assert answer.status_code == 200 and answer.content == b"first part"
    errors = siamkit_log.errors()
    assert [r.getMessage() for r in errors] == ["GET /stream failed (id=s1)"]
    assert "the stream broke" in str(errors[0].exc_info[1] if errors[0].exc_info else "")
    line = siamkit_log.access()[-1]
    assert '"GET /stream HTTP/1.1" 200 OK' in line
    assert line.endswith(
        ' id=s1 failed="the service failed after this status was sent; the answer was cut short"'
    )


def test_the_label_limit_cannot_pass_the_gallerys() -> None:
    """A service whose label limit was set above the gallery's 256 characters let a longer label
    through its check, and the gallery's refusal of it (a ValueError) is the service's 500, not
    the client's mistake: such limits are refused where they are made."""
    from siamkit.service.limits import ServiceLimits

    assert ServiceLimits(max_label_chars=256).max_label_chars == 256
    with pytest.raises(ValueError, match=r"max_label_chars \(257\) cannot exceed the gallery's"):
        ServiceLimits(max_label_chars=257)
