"""The service, like the CLI, refuses an image of the other kind given to an image half-twin
(a HalfTwinNetwork, what a ``task: half_twin`` run trains; built here in Python): an upload at
exactly the other tower's input size (a query at g's size to /identify or as /verify's file_a,
an image at f's size to /enroll or as /verify's file_b) is one 422 sentence naming what to
give, with nothing enrolled; each route still takes its own."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from _tiny_half_twin import grey_png, tiny_half_twin
from siamkit.models import HalfTwinNetwork

pytest.importorskip("fastapi")
pytest.importorskip("multipart")


def _half_twin() -> HalfTwinNetwork:
    """Two tiny convnets: f over 12x12 grey images, g over 8x8 ones."""
    net = tiny_half_twin()
    net.threshold = 0.8
    return net


QUERY = (
    "'{name}' ({field}) is 8x8, the size of this half-twin's second kind of input (tower g, what "
    "is enrolled), but a query goes through tower f (12x12): give an image of the first kind "
    "here, or enroll this one."
)
DOCUMENT = (
    "'{name}' ({field}) is 12x12, the size of this half-twin's first kind of input (tower f, what "
    "is searched with), but what is enrolled and /verify's file_b go through tower g (8x8): give "
    "an image of the second kind here."
)


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(_half_twin(), tmp_path / "g.db")) as c:
        yield c


def _detail(res) -> str:  # type: ignore[no-untyped-def]
    assert res.status_code == 422, res.text
    return str(res.json()["detail"])


def test_enroll_refuses_an_image_at_tower_fs_size_and_enrolls_nothing(client) -> None:  # type: ignore[no-untyped-def]
    files = [("files", ("g.png", grey_png(8, 1))), ("files", ("f.png", grey_png(12, 2)))]
    res = client.post("/enroll", data={"label": "shoe"}, files=files)
    assert _detail(res) == DOCUMENT.format(name="f.png", field="image 2")
    assert client.get("/gallery").json()["num_items"] == 0  # the 8x8 one was not kept either
    ok = client.post("/enroll", data={"label": "shoe"}, files={"files": ("g.png", grey_png(8, 1))})
    assert ok.status_code == 201, ok.text


def test_identify_refuses_a_query_at_tower_gs_size_and_takes_its_own(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/enroll", data={"label": "shoe"}, files={"files": ("g.png", grey_png(8, 1))})
    res = client.post("/identify", files={"file": ("q.png", grey_png(8, 3))})
    assert _detail(res) == QUERY.format(name="q.png", field="the image")
    ok = client.post("/identify", files={"file": ("q.png", grey_png(12, 3))})
    assert ok.status_code == 200, ok.text
    assert ok.json()["matches"][0]["label"] == "shoe"


def test_verify_refuses_swapped_images_and_takes_them_the_right_way_round(client) -> None:  # type: ignore[no-untyped-def]
    f_img, g_img = ("a.png", grey_png(12, 4)), ("b.png", grey_png(8, 5))
    res = client.post("/verify", files={"file_a": g_img, "file_b": g_img})
    assert _detail(res) == QUERY.format(name="b.png", field="the first image")
    res = client.post("/verify", files={"file_a": f_img, "file_b": f_img})
    assert _detail(res) == DOCUMENT.format(name="a.png", field="the second image")
    ok = client.post("/verify", files={"file_a": f_img, "file_b": g_img})
    assert ok.status_code == 200, ok.text
    net = _half_twin()
    with torch.inference_mode():
        a = torch.from_numpy(np.array(Image.open(io.BytesIO(f_img[1])))).float()[None, None]
        b = torch.from_numpy(np.array(Image.open(io.BytesIO(g_img[1])))).float()[None, None]
        want = float(torch.cdist(net.embed_f(a / 255), net.embed_g(b / 255))[0, 0])
    assert ok.json()["distance"] == pytest.approx(want, abs=1e-4)


def test_verify_against_a_label_refuses_a_query_at_tower_gs_size(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/enroll", data={"label": "shoe"}, files={"files": ("g.png", grey_png(8, 1))})
    res = client.post("/verify", data={"label": "shoe"}, files={"file": ("q.png", grey_png(8, 6))})
    assert _detail(res) == QUERY.format(name="q.png", field="the image")
    ok = client.post("/verify", data={"label": "shoe"}, files={"file": ("q.png", grey_png(12, 6))})
    assert ok.status_code == 200, ok.text


def test_other_sizes_are_still_resized_as_before(client) -> None:  # type: ignore[no-untyped-def]
    res = client.post(
        "/enroll", data={"label": "shoe"}, files={"files": ("g.png", grey_png(20, 1))}
    )
    assert res.status_code == 201, res.text
    assert client.post("/identify", files={"file": ("q.png", grey_png(20, 3))}).status_code == 200
