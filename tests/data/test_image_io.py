"""Tests for siamkit.data.image_io against Pillow/numpy references."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data.image_io import (
    ImageReadError,
    load_images,
    read_image,
    resize_images,
    to_image_batch,
)


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)


def test_read_rgb_matches_pixels(tmp_path, rgb):
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    img = read_image(path, channels=3)
    assert img.shape == (3, 20, 30) and img.dtype == torch.float32
    expected = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(img, expected)


def test_read_bytes_grayscale_uses_pillow_luma(rgb):
    img = read_image(_png_bytes(rgb), channels=1)
    ref = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32) / 255
    assert img.shape == (1, 20, 30)
    np.testing.assert_allclose(img[0].numpy(), ref, atol=1e-6)
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0


def test_rgba_and_palette_convert(rgb):
    rgba = np.concatenate([rgb, np.full((20, 30, 1), 128, np.uint8)], axis=2)
    assert read_image(_png_bytes(rgba), channels=3).shape == (3, 20, 30)
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(buf, format="PNG")
    assert read_image(buf.getvalue(), channels=1).shape == (1, 20, 30)


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"", "empty"), (b"this is not an image", "not a readable image")],
)
def test_bad_bytes(data, match):
    with pytest.raises(ImageReadError, match=match):
        read_image(data, channels=3)


def test_truncated_png(rgb):
    with pytest.raises(ImageReadError, match=r"corrupt or truncated: .*; save it again or leave"):
        read_image(_png_bytes(rgb)[:80], channels=3)


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(ImageReadError, match="does not exist"):
        read_image(tmp_path / "nope.png", channels=1)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.png", channels=1)
    assert issubclass(ImageReadError, ValueError)


def test_max_pixels_guard(rgb):
    with pytest.raises(ImageReadError, match="more than the limit"):
        read_image(_png_bytes(rgb), channels=3, max_pixels=599)
    assert read_image(_png_bytes(rgb), channels=3, max_pixels=600).shape == (3, 20, 30)


def test_bad_channels_and_type(rgb):
    with pytest.raises(ValueError, match="channels must be 1"):
        read_image(_png_bytes(rgb), channels=2)
    with pytest.raises(TypeError, match="file path or bytes"):
        read_image(123, channels=3)  # type: ignore[arg-type]


def test_load_images_resizes_like_interpolate(tmp_path, rgb):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.roll(rgb, i, axis=1)).save(paths[-1])
    batch = load_images(paths, (3, 10, 15))
    assert batch.shape == (3, 3, 10, 15)
    ref = torch.nn.functional.interpolate(
        read_image(paths[1], 3)[None], size=(10, 15), mode="bilinear", antialias=True
    )[0].clamp(0, 1)
    torch.testing.assert_close(batch[1], ref)


def test_load_images_names_bad_item(tmp_path, rgb):
    good = tmp_path / "good.png"
    Image.fromarray(rgb).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    with pytest.raises(ImageReadError, match=r"Item 2 of 2: .*bad\.png"):
        load_images([good, bad], (3, 8, 8))


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_one_encoded_image_of_any_bytes_type_is_one_item(rgb, kind):
    # a lone bytearray or memoryview (both an ImageSource) was iterated byte by byte, refused
    # as "must be given as a file path or bytes, got int"
    out = load_images(kind(_png_bytes(rgb)), (3, 20, 30))
    expected = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    assert out.shape == (1, 3, 20, 30)
    torch.testing.assert_close(out[0], expected)


def test_resize_noop_returns_same_object():
    x = torch.rand(2, 1, 8, 8)
    assert resize_images(x, (8, 8)) is x


class TestToImageBatch:
    def test_uint8_nhw_grayscale(self):
        x = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
        out = to_image_batch(x, (1, 4, 4))
        assert out.shape == (2, 1, 4, 4) and out.dtype == torch.float32
        np.testing.assert_allclose(out[:, 0].numpy(), x / 255.0, rtol=1e-6)

    def test_single_chw_image_and_float_passthrough(self):
        x = torch.rand(3, 5, 5)
        out = to_image_batch(x, (3, 5, 5))
        assert out.shape == (1, 3, 5, 5)
        torch.testing.assert_close(out[0], x)

    def test_wrong_channels(self):
        with pytest.raises(ValueError, match="Expected images with 1 channel"):
            to_image_batch(torch.rand(2, 3, 5, 5), (1, 5, 5))
        with pytest.raises(ValueError, match="Expected 3 channels"):
            to_image_batch(torch.rand(2, 5, 5), (3, 5, 5))

    def test_wrong_size_and_resize(self):
        with pytest.raises(ValueError, match=r"Expected images of size 5x5 .* got 7x6"):
            to_image_batch(torch.rand(2, 1, 7, 6), (1, 5, 5))
        assert to_image_batch(torch.rand(2, 1, 7, 6), (1, 5, 5), resize=True).shape == (2, 1, 5, 5)

    @pytest.mark.parametrize(
        ("shape", "input_shape"),
        [
            ((28, 28, 1), (1, 28, 28)),
            ((32, 24, 1), (1, 28, 28)),
            ((2, 8, 8, 1), (1, 8, 8)),
            ((8, 8, 3), (3, 8, 8)),
            ((2, 8, 8, 3), (3, 8, 8)),
        ],
    )
    @pytest.mark.parametrize("resize", [False, True])
    def test_channels_last_images_are_refused_by_name(self, shape, input_shape, resize):
        # (H, W, 1) was read as H grayscale images of W x 1 pixels: resize=True stretched them
        # into H images of stripes, and without it the refusal said to resize them
        x = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
        with pytest.raises(ValueError, match=r"channels? last") as err:
            to_image_batch(x, input_shape, resize=resize)
        order = (2, 0, 1) if x.ndim == 3 else (0, 3, 1, 2)
        assert f"transpose{order}" in str(err.value)
        fixed = to_image_batch(x.transpose(order), input_shape, resize=True)  # as it advises
        assert fixed.shape == (1 if x.ndim == 3 else 2, *input_shape)

    def test_a_grayscale_batch_of_width_one_is_not_taken_for_channels_last(self):
        x = torch.rand(4, 5, 1)  # four 5x1 images, as the model's input (1, 5, 1) is
        assert to_image_batch(x, (1, 5, 1)).shape == (4, 1, 5, 1)

    @pytest.mark.parametrize("last", [1, 3, 4])
    @pytest.mark.parametrize("channels", [1, 3])
    @pytest.mark.parametrize("batch", [False, True])
    @pytest.mark.parametrize("kind", ["tensor", "NumPy array"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.float32])
    def test_the_channels_last_refusals_expression_gives_the_images_it_means(
        self, last, channels, batch, kind, dtype
    ):
        """The refusal's own expression, evaluated on the array as written, gives images that
        are taken and read as the photo is meant: reordered (an RGBA one without its alpha, a
        grey one repeated as RGB), or, for a grayscale model, converted as Pillow's
        ``convert('L')`` does. image_io and tensor_dataset once said this in their own words,
        and image_io's RGBA advice ("reorder, then convert to RGB") was no step an array can
        take (reviewer s53_FB finding 4)."""
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[last]
        rng = np.random.default_rng(last)
        photos = [Image.fromarray(rng.integers(0, 256, (24, 28, last), np.uint8).squeeze(-1)
                                  if last == 1 else rng.integers(0, 256, (24, 28, last), np.uint8),
                                  mode=mode) for _ in range(2 if batch else 1)]  # fmt: skip
        hwc = np.stack([np.asarray(p).reshape(24, 28, last) for p in photos])
        hwc = hwc if batch else hwc[0]
        x = hwc if dtype == np.uint8 else (hwc / 255).astype(np.float32)
        x = torch.from_numpy(x) if kind == "tensor" else x
        input_shape = (channels, 24, 28)
        if channels == last:  # the old sentence's case as well
            with pytest.raises(ValueError, match=r"channels? last"):
                to_image_batch(x, input_shape)
        with pytest.raises(ValueError, match=r"channels? last") as err:
            to_image_batch(x, input_shape, resize=True)
        message = str(err.value)
        target = "L" if channels == 1 else "RGB"
        want = np.stack([np.asarray(p.convert(target)).reshape(24, 28, channels) for p in photos])
        want = torch.from_numpy(want.transpose(0, 3, 1, 2).astype(np.float32) / 255)
        if channels == 1 and last != 1:
            assert "image.convert('L')" in message and "need no reorder" in message, message
            if dtype != np.uint8:  # Pillow converts 8-bit photos; the test follows the advice
                return  # on those alone
            images = hwc if batch else hwc[None]
            fixed = np.stack([np.asarray(Image.fromarray(a).convert("L")) for a in images])
            fixed = fixed if batch else fixed[0]
        else:
            said = re.search(r"with (x.*?) \(a tensor\) or (x.*?) \(a NumPy array\)", message)
            assert said is not None, message
            expression = said[1 if kind == "tensor" else 2]
            fixed = eval(expression, {"x": x})  # the message's own text, on this array
        got = to_image_batch(fixed, input_shape)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)

    @pytest.mark.parametrize("width", [3, 4])
    def test_a_grayscale_batch_as_wide_as_the_model_is_not_taken_for_channels_last(self, width):
        x = torch.rand(6, 5, width)  # six 5 x width images, as the model's input is
        torch.testing.assert_close(to_image_batch(x, (1, 5, width))[:, 0], x)

    @pytest.mark.parametrize("bad", [float("nan"), float("inf")])
    def test_nan_inf(self, bad):
        x = torch.rand(1, 1, 4, 4)
        x[0, 0, 1, 1] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            to_image_batch(x, (1, 4, 4))

    def test_out_of_range_float(self):
        with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
            to_image_batch(torch.full((1, 1, 4, 4), 255.0), (1, 4, 4))

    def test_bad_types(self):
        with pytest.raises(TypeError, match="uint8"):
            to_image_batch(np.zeros((1, 1, 4, 4), dtype=np.int64), (1, 4, 4))
        with pytest.raises(TypeError, match=r"torch\.Tensor or numpy"):
            to_image_batch([[0.0]], (1, 1, 1))

    def test_bad_rank_and_empty(self):
        with pytest.raises(ValueError, match="got shape"):
            to_image_batch(torch.rand(1, 1, 1, 4, 4), (1, 4, 4))
        with pytest.raises(ValueError, match="empty batch"):
            to_image_batch(torch.rand(0, 1, 4, 4), (1, 4, 4))

    def test_bad_input_shape(self):
        with pytest.raises(ValueError, match="input_shape"):
            to_image_batch(torch.rand(1, 1, 4, 4), (1, 4))
