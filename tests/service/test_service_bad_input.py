"""Bad input always gets a 4xx with a message, never a 500 (DESIGN §6)."""

from __future__ import annotations

import asyncio
import struct
import zlib

import numpy as np
import pytest
from _service_helpers import pattern, png_bytes

from siamkit.service import ServiceLimits

PNG = png_bytes(pattern("stripes"))


def _file(field: str, data: bytes, name: str = "x.png") -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, (name, data, "image/png"))]


def _assert_refused(r, status: int | tuple[int, ...], *words: str) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, str) and len(detail) > 10
    for word in words:
        assert word.lower() in detail.lower(), detail


@pytest.fixture
def enrolled(client):
    r = client.post("/enroll", data={"label": "alice"}, files=_file("files", PNG))
    assert r.status_code == 201
    return client


@pytest.mark.parametrize(
    ("path", "data", "files", "status", "words"),
    [
        # not an image / empty file
        (
            "/verify",
            {},
            _file("file_a", b"hello world") + _file("file_b", PNG),
            400,
            ["'x.png' (the first image)", "not a readable image"],
        ),
        (
            "/enroll",
            {"label": "bob"},
            _file("files", b"%PDF-1.4 fake"),
            400,
            ["'x.png' (image 1)", "not a readable image"],
        ),
        (  # truncated PNG: the sentence names the fix
            "/identify",
            {},
            _file("file", PNG[: len(PNG) // 2]),
            400,
            ["file", "corrupt or truncated", "send it again"],
        ),
        ("/verify", {}, _file("file_a", b"") + _file("file_b", PNG), 400, ["empty"]),
        ("/embed", {}, _file("files", PNG) + _file("files", b""), 400, ["(image 2)", "empty"]),
        # wrong field types
        ("/identify", {"k": "abc"}, _file("file", PNG), 422, ["k", "integer"]),
        ("/identify", {"k": "2.5"}, _file("file", PNG), 422, ["k"]),
        ("/identify", {"k": "0"}, _file("file", PNG), 422, ["(k) must be between 1 and 100"]),
        ("/identify", {"k": "100000"}, _file("file", PNG), 422, ["(k) must be between"]),
        ("/identify", {"file": "not-a-file"}, [], 422, ["file", "uploaded file"]),
        ("/verify", {"file_a": "a", "file_b": "b"}, [], 422, ["file_a", "uploaded file"]),
        ("/enroll", {"label": "bob", "files": "x"}, [], 422, ["files"]),
        ("/enroll", {}, _file("files", PNG), 422, ["label", "required"]),
        ("/enroll", {"label": "bob"}, [], 422, ["files", "required"]),
        ("/identify", {}, [], 422, ["file", "required"]),
        # inconsistent verify forms
        ("/verify", {}, _file("file_a", PNG), 422, ["file_a and file_b"]),
        (
            "/verify",
            {"label": "alice"},
            _file("file_a", PNG) + _file("file_b", PNG),
            422,
            ["either"],
        ),
        ("/verify", {}, _file("file", PNG), 422, ["file and label"]),
        # labels: too long, blank, control characters, unknown
        (
            "/enroll",
            {"label": "x" * 10_000},
            _file("files", PNG),
            422,
            ["10,000 characters", "256"],
        ),
        ("/verify", {"label": "y" * 10_000}, _file("file", PNG), 422, ["10,000 characters"]),
        ("/enroll", {"label": "   "}, _file("files", PNG), 422, ["label is empty"]),
        # a browser folds /gallery/. and /gallery/.. away: the page could never remove them
        ("/enroll", {"label": ".."}, _file("files", PNG), 422, ["'..' cannot be used"]),
        ("/enroll", {"label": " . "}, _file("files", PNG), 422, ["'.' cannot be used"]),
        (
            "/enroll",
            {"label": "bad\x00name"},
            _file("files", PNG),
            422,
            ["U+0000", "a control character"],
        ),
        ("/verify", {"label": "nobody"}, _file("file", PNG), 404, ["nobody", "not in the gallery"]),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(enrolled, path, data, files, status, words):
    r = enrolled.post(path, data=data, files=files or None)
    _assert_refused(r, status, *words)


def test_unknown_label_delete_and_long_label_delete(enrolled):
    _assert_refused(enrolled.delete("/gallery/nobody"), 404, "nobody")
    _assert_refused(enrolled.delete("/gallery/" + "z" * 10_000), 422, "10,000 characters")
    assert enrolled.get("/gallery").json()["num_items"] == 1  # nothing else was touched


def test_an_unknown_label_is_one_sentence_naming_post_enroll(enrolled):
    """POST /verify said "label 'Alice' is not in the gallery; did you mean 'alice'?", GET
    /gallery/images "Label 'Alice' is ...", DELETE /gallery/LABEL the first again, and none said
    how to add the label to a gallery that held others; all three now say the same sentence."""
    sentence = (
        "Label 'Alice' is not in the gallery (did you mean 'alice'?); POST /enroll images under "
        "it to add it."
    )
    answers = [
        enrolled.post("/verify", data={"label": "Alice"}, files=_file("file", PNG)),
        enrolled.get("/gallery/images", params={"label": "Alice"}),
        enrolled.delete("/gallery/Alice"),
    ]
    assert [(r.status_code, r.json()["detail"]) for r in answers] == [(404, sentence)] * 3
    far = enrolled.delete("/gallery/zzz").json()["detail"]
    assert far == (
        "Label 'zzz' is not in the gallery (enrolled labels include 'alice'); POST /enroll images "
        "under it to add it."
    )


def test_failed_enrollment_stores_nothing(enrolled):
    files = _file("files", PNG) + _file("files", b"not an image")
    _assert_refused(enrolled.post("/enroll", data={"label": "bob"}, files=files), 400, "(image 2)")
    assert [e["label"] for e in enrolled.get("/gallery").json()["labels"]] == ["alice"]


def test_huge_files_and_requests_are_refused(client_factory):
    limits = ServiceLimits(max_upload_bytes=4_000, max_request_bytes=20_000, max_files=3)
    client = client_factory(limits=limits)
    big = PNG + b"\0" * 5_000  # a valid PNG with trailing junk, 5+ kB
    _assert_refused(
        client.post("/embed", files=_file("files", big)), 413, "(image 1)", "limit of 3.9 KiB"
    )
    huge = b"\0" * 50_000  # the whole body is over the request limit
    _assert_refused(client.post("/embed", files=_file("files", huge)), 413, "request body")
    many = [("files", (f"{i}.png", PNG, "image/png")) for i in range(4)]
    _assert_refused(client.post("/embed", files=many), 413, "at most 3")


def test_streamed_body_without_length_is_cut_off(client_factory):
    client = client_factory(limits=ServiceLimits(max_upload_bytes=1_000, max_request_bytes=8_000))

    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.png"\r\n\r\n'
        for _ in range(100):
            yield b"\0" * 1_000

    headers = {"content-type": "multipart/form-data; boundary=b"}
    r = client.post("/embed", content=chunks(), headers=headers)
    _assert_refused(r, 413, "request body")


def test_too_many_pixels_is_refused_before_decoding(client_factory):
    client = client_factory(limits=ServiceLimits(max_pixels=64 * 64))
    big = png_bytes(np.zeros((100, 100), np.uint8))
    _assert_refused(client.post("/embed", files=_file("files", big)), 413, "100x100", "pixels")
    ok = png_bytes(np.zeros((64, 64), np.uint8))
    assert client.post("/embed", files=_file("files", ok)).status_code == 200


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming ``width × height`` pixels whose data is a few bytes (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [10_000, 20_000, 60_000])
def test_decompression_bombs_are_refused_from_the_header(client, side):
    """Huge claimed sizes (beyond Pillow's own bomb limits too) are refused before any decoding."""
    r = client.post("/embed", files=_file("files", _png_header_only(side, side)))
    _assert_refused(r, 413, "pixels")


def test_cross_origin_writes_are_refused(enrolled):
    files = _file("files", PNG)
    r = enrolled.post(
        "/enroll", data={"label": "evil"}, files=files, headers={"Origin": "http://evil.example"}
    )
    _assert_refused(r, 403, "cross-origin")
    r = enrolled.post(
        "/enroll", data={"label": "ok"}, files=files, headers={"Origin": "http://testserver"}
    )
    assert r.status_code == 201


def test_bad_content_length_is_refused(enrolled):
    r = enrolled.post(
        "/embed", content=b"x", headers={"content-length": "abc", "content-type": "text/plain"}
    )
    assert 400 <= r.status_code < 500


def test_concurrent_requests_agree_with_sequential_ones(client_factory):
    """Enrollments and verifications racing on the event loop give the sequential answers."""
    import httpx

    client = client_factory()
    kinds = ["stripes", "checker", "disc"]
    files = {k: png_bytes(pattern(k)) for k in kinds}
    want = {
        (a, b): client.post(
            "/verify", files=_file("file_a", files[a]) + _file("file_b", files[b])
        ).json()["distance"]
        for a in kinds
        for b in kinds
    }

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=client.headers
        ) as ac:
            verifies = [
                ac.post("/verify", files=_file("file_a", files[a]) + _file("file_b", files[b]))
                for a in kinds
                for b in kinds
            ] * 3
            enrolls = [
                ac.post("/enroll", data={"label": f"p{i}"}, files=_file("files", files["disc"]))
                for i in range(6)
            ]
            return await asyncio.gather(*verifies, *enrolls)

    responses = asyncio.run(run())
    pairs = [(a, b) for a in kinds for b in kinds] * 3
    for (a, b), r in zip(pairs, responses):
        assert r.status_code == 200 and r.json()["distance"] == pytest.approx(want[a, b], abs=1e-6)
    assert all(r.status_code == 201 for r in responses[len(pairs) :])
    assert client.get("/gallery").json()["num_labels"] == 6


@pytest.mark.parametrize("path", ["/enroll", "/verify", "/identify", "/embed"])
def test_json_sent_to_an_image_service_is_told_to_send_images(client, path) -> None:
    """Text (or a form sent as JSON) used to get "Give the label (label): it is required"
    although the label was sent."""
    r = client.post(path, json={"label": "x", "texts": ["a"], "text_a": "a", "text_b": "b"})
    _assert_refused(r, 415, "image model", "multipart/form-data")


def test_malformed_json_is_named_as_such(client) -> None:
    r = client.post("/recommend", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("The request body is not valid JSON"), detail


@pytest.mark.parametrize(
    ("path", "data", "files", "field"),
    [
        ("/identify", {}, _file("file", PNG) + _file("file", PNG, "y.png"), "file"),
        ("/verify", {}, _file("file_a", PNG) * 2 + _file("file_b", PNG), "file_a"),
        ("/verify", {"label": ["alice", "bob"]}, _file("file", PNG), "label"),
    ],
)
def test_a_single_field_sent_twice_is_refused(enrolled, path, data, files, field):
    """Two `file` fields to /identify answered for the last one alone, silently."""
    r = enrolled.post(path, data=data, files=files)
    _assert_refused(r, 422, f"{field} was sent 2 times")


@pytest.mark.parametrize(
    ("path", "data", "files", "unknown", "words"),
    [
        (
            "/enroll",
            {"lable": "bob"},
            _file("files", PNG),
            ["lable"],
            [
                "form field 'lable' is not one /enroll takes",
                "did you mean 'label'?",
                "label, files",
            ],
        ),
        (
            "/identify",
            {"kk": "3"},
            _file("file", PNG),
            ["kk"],
            ["'kk'", "did you mean 'k'?", "its fields are file, k."],
        ),
        (
            "/verify",
            {"lable": "alice"},
            _file("file", PNG),
            ["lable"],
            ["'lable'", "did you mean 'label'?", "file_a, file_b, file, label"],
        ),
        (
            "/embed",
            {"label": "bob", "colour": "red"},
            _file("files", PNG),
            ["label", "colour"],
            ["form fields 'label', 'colour' are not ones /embed takes"],
        ),
        ("/enroll", {"label": "bob"}, _file("files", PNG) + _file("photo", PNG), ["photo"], []),
    ],
)
def test_an_unknown_form_field_is_refused_by_name(enrolled, path, data, files, unknown, words):
    """The JSON bodies refused unknown keys, the forms dropped them: `lable=bob` was "label is
    required", `kk=3` identified with the default k. Nothing is stored."""
    r = enrolled.post(path, data=data, files=files)
    _assert_refused(r, 422, *words)
    assert [e["field"] for e in r.json()["errors"]] == unknown
    assert enrolled.get("/gallery").json()["num_items"] == 1


@pytest.mark.parametrize(
    ("query", "unknown", "words"),
    [
        (
            {"lable": "alice"},
            ["lable"],
            [
                "query parameter 'lable' is not one /gallery/images takes",
                "did you mean 'label'?",
                "its query parameters are label.",
            ],
        ),
        (
            {"label": "alice", "limit": "1", "colour": "red"},
            ["limit", "colour"],
            ["query parameters 'limit', 'colour' are not ones /gallery/images takes"],
        ),
    ],
)
def test_an_unknown_query_parameter_is_refused_by_name(enrolled, query, unknown, words):
    """`?lable=alice` was "label is required" for a label that was sent, and `&colour=red`
    beside a label was dropped silently (200): refused by name, as a form's unknown fields."""
    r = enrolled.get("/gallery/images", params=query)
    _assert_refused(r, 422, *words)
    assert [e["field"] for e in r.json()["errors"]] == unknown


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [("/verify", {"label": ["alice", "bob"]}, "label"), ("/identify", {"k": ["3", "5"]}, "k")],
)
def test_a_field_sent_twice_in_a_url_encoded_form_is_refused(enrolled, path, data, field):
    """The check of a field sent twice read multipart forms only: a URL-encoded one answered for
    one of the values (or for another problem) without a word of the second."""
    r = enrolled.post(path, data=data)
    assert r.request.headers["content-type"] == "application/x-www-form-urlencoded"
    _assert_refused(r, 422, f"{field} was sent 2 times")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "unknown", "words"),
    [
        ("GET", "/gallery?label=alice", {}, "label", ["/gallery takes none", "remove it"]),
        ("GET", "/info?verbose=1", {}, "verbose", ["/info takes none"]),
        (
            "POST",
            "/enroll?label=bob",
            {"data": {"label": "bob"}, "files": _file("files", PNG)},
            "label",
            ["/enroll takes none", "send it in the request body"],
        ),
        (
            "POST",
            "/identify?k=1",
            {"files": _file("file", PNG)},
            "k",
            ["/identify takes none", "send it in the request body"],
        ),
        (
            "DELETE",
            "/gallery/alice?force=1",
            {},
            "force",
            ["/gallery/{label} takes none", "%3F"],
        ),
        (
            "POST",
            "/recommend?k=1",
            {"json": {"like": ["alice"]}},
            "k",
            ["/recommend takes none", "send it in the request body"],
        ),
    ],
)
def test_a_query_parameter_an_endpoint_does_not_take_is_refused(
    enrolled, method, path, kwargs, unknown, words
):
    """Only /gallery/images checked its query string: /gallery?label=alice listed everyone,
    /enroll?label=bob stored under the form's label, DELETE /gallery/alice?force=1 removed alice,
    each without a word of the parameter. Refused by name, nothing stored or removed."""
    r = enrolled.request(method, path, **kwargs)
    _assert_refused(r, 422, f"query parameter '{unknown}' was sent, but", *words)
    assert [e["field"] for e in r.json()["errors"]] == [unknown]
    gallery = enrolled.get("/gallery").json()
    assert gallery["num_items"] == 1 and gallery["labels"][0]["label"] == "alice"


@pytest.mark.parametrize("query", ["label=alice&label=bob", "label=alice&label=alice"])
def test_a_query_parameter_sent_twice_is_refused(enrolled, query):
    """/gallery/images?label=alice&label=bob answered for bob alone, silently."""
    r = enrolled.get(f"/gallery/images?{query}")
    _assert_refused(r, 422, "query parameter label was sent 2 times", "send it once")
    assert [e["field"] for e in r.json()["errors"]] == ["label"]


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("GET", "/identify", 405, "/identify takes POST, not GET (the API reference is at /docs)."),
        ("POST", "/gallery", 405, "/gallery takes GET, not POST (the API reference is at /docs)."),
        (
            "GET",
            "/identfy",
            404,
            "There is no endpoint /identfy; the endpoints are listed at /docs.",
        ),
    ],
)
def test_a_wrong_method_or_path_is_answered_in_a_sentence(client, method, path, status, detail):
    """`curl http://host/identify` (a GET) answered 'Method Not Allowed', a misspelt path 'Not
    Found': neither said which method the endpoint takes or where the endpoints are listed."""
    r = client.request(method, path)
    assert r.status_code == status and r.json() == {"detail": detail}
    if status == 405:
        assert r.headers["allow"] == detail.split()[2].rstrip(",")  # the header is kept


def test_an_upload_without_a_filename_is_named_in_lower_case_mid_sentence():
    """An upload sent without a filename was named "The first image" everywhere, also inside a
    sentence ("3 faces found in The first image; using the largest", a face model's `notes`);
    its capital is for a sentence's start only (the service's own refusals)."""
    import io

    from fastapi import UploadFile

    from siamkit.applications.faces.errors import NoFaceError, name_the_photo
    from siamkit.applications.faces.recognize import several_faces_note
    from siamkit.service.errors import RequestError
    from siamkit.service.uploads import read_upload

    def read(data: bytes, field: str = "file_a"):
        return asyncio.run(read_upload(UploadFile(io.BytesIO(data)), field, ServiceLimits()))

    upload = read(PNG)
    assert upload.name == "the first image" and upload.subject == "The first image"
    assert (
        several_faces_note(3, upload.name) == "3 faces found in the first image; using the largest"
    )
    said = name_the_photo(NoFaceError("", 0), [read(PNG, "files[1]").name])
    assert str(said).startswith("No face was found in image 2; send a photo")
    with pytest.raises(RequestError) as refused:
        read(b"")
    assert refused.value.detail == "The first image is empty (0 bytes); choose an image file."
