"""``POST /enroll`` keeps each upload's file name (the name alone, printable) as the item's
source, which ``/identify`` matches and ``/recommend`` items show; image ``/recommend`` items
carry their thumbnail as ``/identify`` matches do."""

from __future__ import annotations

import pytest
from _service_helpers import pattern, png_bytes

from siamkit.service.uploads import MAX_FILE_NAME_CHARS, file_name


def _multipart(label: str, files: list[tuple[str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A form with the file names exactly as given (a client's own bytes: an HTTP library would
    percent-encode or cut some of them)."""
    parts = [f'--B\r\nContent-Disposition: form-data; name="label"\r\n\r\n{label}\r\n'.encode()]
    for name, data in files:
        head = f'--B\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + b"--B--\r\n", {"content-type": "multipart/form-data; boundary=B"}


def test_enroll_keeps_each_uploads_file_name_for_identify_and_recommend(client):
    images = {i: png_bytes(pattern("noise", seed=i)) for i in range(4)}
    files = [
        ("files", ("tile-0.png", images[0])),
        ("files", ("tile-0 again.png", images[0])),  # a repeat: skipped, its name not kept
        ("files", ("tile-1.png", images[1])),
    ]
    res = client.post("/enroll", data={"label": "tiles"}, files=files)
    assert res.status_code == 201, res.text
    assert res.json()["skipped"] == 1
    first, second = res.json()["item_ids"]
    res = client.post("/enroll", data={"label": "other"}, files=[("files", ("o.png", images[2]))])
    assert res.status_code == 201, res.text

    res = client.post("/identify", files=[("file", ("q.png", images[1]))], data={"k": "2"})
    assert res.status_code == 200, res.text
    best = res.json()["matches"][0]
    assert (best["item_id"], best["source"]) == (second, "tile-1.png")

    res = client.post("/recommend", json={"like": ["other"], "k": 10})
    assert res.status_code == 200, res.text
    items = {it["item_id"]: it for it in res.json()["items"]}
    assert {i: it["source"] for i, it in items.items()} == {
        first: "tile-0.png",
        second: "tile-1.png",
    }
    # each with its thumbnail, as /identify's matches (no text: a text model's service only)
    assert all(it["thumbnail"].startswith("data:image/png;base64,") for it in items.values())
    assert all("text" not in it for it in items.values())


def test_enroll_keeps_the_name_of_a_path_like_or_odd_file_name_and_refuses_none(client):
    images = [png_bytes(pattern("noise", seed=i)) for i in range(3)]
    body, headers = _multipart(
        "odd",
        [
            ("../../photos/tile-7.png", images[0]),
            ("C:\\Users\\me\\Pictures\\shelf 2.jpg", images[1]),
            ("sub\\dir/a\x1bb\x07.png", images[2]),
        ],
    )
    res = client.post("/enroll", content=body, headers=headers)
    assert res.status_code == 201, res.text
    ids = res.json()["item_ids"]
    res = client.post("/recommend", json={"like": [f"#{ids[0]}"], "k": 10})
    assert res.status_code == 200, res.text
    sources = {it["item_id"]: it["source"] for it in res.json()["items"]}
    assert sources == {ids[1]: "shelf 2.jpg", ids[2]: "a?b?.png"}
    res = client.post("/recommend", json={"like": [f"#{ids[1]}"], "k": 10})
    assert {it["item_id"]: it["source"] for it in res.json()["items"]}[ids[0]] == "tile-7.png"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("tile.png", "tile.png"),
        ("/home/me/photos/tile.png", "tile.png"),
        ("..\\..\\tile.png", "tile.png"),
        ("\u202egnp.exe", "?gnp.exe"),  # a right-to-left override would show 'exe.png'
        ("Screenshot at 10.00\u202fPM.png", "Screenshot at 10.00 PM.png"),  # macOS's narrow space
        ("\U0001f469\u200d\U0001f4bb.png", "\U0001f469\u200d\U0001f4bb.png"),  # an emoji is text
        ("photos/", None),
        ("..", None),
        ("", None),
        (None, None),
    ],
)
def test_file_name_is_the_printable_last_part(sent, kept):
    assert file_name(sent) == kept


def test_a_very_long_file_name_is_cut():
    kept = file_name("x" * 1000 + ".png")
    assert kept is not None and len(kept) == MAX_FILE_NAME_CHARS and kept.endswith("\u2026")


def test_a_face_models_enroll_keeps_the_photos_file_name(tmp_path):
    """A face model's /enroll (its largest face of each photo) keeps the photo's name alike."""
    import io
    import warnings

    import skimage.data
    from PIL import Image

    from siamkit.applications.faces import DlibFaceEncoder
    from siamkit.service import create_app

    with warnings.catch_warnings():  # starlette's notice about httpx2, raised on import
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buf, "PNG")
    app = create_app(DlibFaceEncoder(), tmp_path / "faces.db", api_key=None)
    with TestClient(app) as client:
        files = [("files", ("../crew/astronaut.png", buf.getvalue()))]
        res = client.post("/enroll", data={"label": "eileen"}, files=files)
        assert res.status_code == 201, res.text
        res = client.post("/identify", files=[("file", ("q.png", buf.getvalue()))])
        assert res.status_code == 200, res.text
        assert res.json()["matches"][0]["source"] == "astronaut.png"


def test_a_labels_images_name_the_file_each_was_enrolled_from(client):
    images = [png_bytes(pattern("noise", seed=i)) for i in range(3)]
    res = client.post(
        "/enroll",
        data={"label": "tiles"},
        files=[("files", ("../shop/tile-0.png", images[0])), ("files", ("tile-1.png", images[1]))],
    )
    assert res.status_code == 201, res.text
    first, second = res.json()["item_ids"]
    body, headers = _multipart("tiles", [("..", images[2])])  # a name that names no file
    res = client.post("/enroll", content=body, headers=headers)
    assert res.status_code == 201, res.text
    (nameless,) = res.json()["item_ids"]
    res = client.get("/gallery/images", params={"label": "tiles"})
    assert res.status_code == 200, res.text
    listed = {im["item_id"]: im["source"] for im in res.json()["images"]}
    assert listed == {first: "tile-0.png", second: "tile-1.png", nameless: None}
    schema = client.get("/openapi.json").json()["components"]["schemas"]["LabelImage"]
    assert schema["properties"]["source"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert "enrolled from" in schema["properties"]["source"]["description"]


def test_a_gallery_without_the_source_column_lists_its_images_with_no_source(client, tmp_path):
    """A gallery from before sources were kept (here: uploads that named no file, so the
    column is never added) lists its images as before, each with a null source."""
    import sqlite3

    images = [png_bytes(pattern("noise", seed=i)) for i in range(2)]
    body, headers = _multipart("old", [("..", images[0]), ("", images[1])])
    res = client.post("/enroll", content=body, headers=headers)
    assert res.status_code == 201, res.text
    with sqlite3.connect(tmp_path / "gallery0.db") as conn:  # the client's gallery
        assert "source" not in [r[1] for r in conn.execute("PRAGMA table_info(items)")]
    res = client.get("/gallery/images", params={"label": "old"})
    assert res.status_code == 200, res.text
    assert res.json()["count"] == 2
    assert [im["source"] for im in res.json()["images"]] == [None, None]
    assert all(im["thumbnail"].startswith("data:image/png;base64,") for im in res.json()["images"])
