"""Decode amplification: thin strips, too many pixels and per-request pixel budgets are refused
from the image headers, before the compute thread decodes anything."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from siamkit.data.image_io import ImageReadError, read_image
from siamkit.service import ServiceLimits
from siamkit.service.uploads import Upload, _decode


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def real_png(width: int, height: int) -> bytes:
    """A complete, valid 8-bit grey PNG of zeros (it compresses to a few KB at any size)."""
    raw = (b"\0" + b"\0" * width) * height  # filter byte + pixels, per row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def header_png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b"")


def _files(*datas: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{i}.png", d, "image/png")) for i, d in enumerate(datas)]


@pytest.fixture(scope="module")
def strip() -> bytes:
    data = real_png(16_000_000, 1)
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (16_000_000, 1)  # a real image, within the 4096² pixel limit
    return data


def test_eight_one_pixel_high_strips_are_refused_before_any_is_decoded(client, strip, monkeypatch):
    """Refused from the headers: no pixel of the 8 x 16,000,000 strips is decoded. (This was a
    100 ms wall-clock bound, which a loaded CI machine broke at 591 ms without a decode.)"""
    client.post("/embed", files=_files(real_png(28, 28)))  # warm up the app
    decoded: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def load(self: Image.Image):  # type: ignore[no-untyped-def]
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", load)
    r = client.post("/embed", files=_files(*[strip] * 8))
    assert r.status_code == 413, r.text
    assert "16000000x1" in r.json()["detail"] and "side longer than" in r.json()["detail"]
    assert decoded == [], decoded
    ok = client.post("/embed", files=_files(real_png(28, 28)))  # the check sees a decode
    assert ok.status_code == 200 and decoded, decoded


def test_a_thin_image_is_refused_by_its_aspect_ratio(client):
    r = client.post("/embed", files=_files(header_png(2000, 40)))
    assert r.status_code == 413 and "times longer than wide" in r.json()["detail"]


def test_the_pixels_of_one_request_are_budgeted(client_factory):
    client = client_factory(limits=ServiceLimits(max_pixels=100 * 100, max_request_pixels=25_000))
    ok = client.post("/embed", files=_files(real_png(100, 100), real_png(100, 100)))
    assert ok.status_code == 200, ok.text
    r = client.post("/embed", files=_files(*[real_png(100, 100)] * 3))
    assert r.status_code == 413 and "30,000 pixels together" in r.json()["detail"]


def test_a_20000_square_image_is_too_many_pixels_not_unreadable(client):
    r = client.post("/embed", files=_files(header_png(20_000, 20_000)))
    assert r.status_code == 413 and "too many pixels" in r.json()["detail"]
    with pytest.raises(ImageReadError, match="too many pixels"):
        read_image(header_png(20_000, 20_000))


def test_a_large_jpeg_is_decoded_at_a_reduced_scale():
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (1600, 1600), dtype=np.uint8)).save(buf, "JPEG")
    x = _decode(Upload("x.jpg", buf.getvalue()), 1, (28, 28))
    assert x.shape == (1, 200, 200)  # 1/8 scale, still at least twice the 28×28 input
