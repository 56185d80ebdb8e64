"""OnnxEmbedder refuses channels-last batches with siamkit's one channels-last sentence: it had a
sentence of its own that called a (N, 32, 32, 3) batch "32 channels" and advised Pillow's
img.convert, which an array cannot take (reviewer s54_FB finding 3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from siamkit.data.image_io import channels_last_problem
from siamkit.export import runtime
from siamkit.export.runtime import OnnxEmbedder, OnnxModelInfo


def _stub(input_shape: tuple[int, ...]) -> OnnxEmbedder:
    """An OnnxEmbedder that only checks batches, for a model taking ``input_shape``."""
    emb = object.__new__(OnnxEmbedder)
    emb.info = OnnxModelInfo("0", 8, "euclidean", None, input_shape, "f", (0.0,), (1.0,),
                             "fp32", None, "siamese")  # fmt: skip
    emb._other_shape, emb._other_read = None, True
    return emb


def test_the_runtimes_copy_is_siamkits_sentence():
    """The runtime imports nothing of siamkit, so it keeps a copy: it says what siamkit says
    for every case the sentence has (one image or a batch, 1, 3 or 4 channels, either model)."""
    for ndim, last, channels in itertools.product((3, 4), (1, 3, 4), (1, 3)):
        shape = (2, 24, 28, last)[4 - ndim :]
        assert runtime._channels_last_problem(shape, channels) == channels_last_problem(
            shape, channels
        )


@pytest.mark.parametrize("last", [1, 3, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_channels_last_batch_is_named_and_its_fix_is_taken(last, channels):
    """(N, H, W, C) pixels stacked as Pillow gives them: the message says channels last and its
    expression, evaluated on the batch, gives the images the model takes, as Pillow reads them."""
    rng = np.random.default_rng(last)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[last]
    hwc = rng.integers(0, 256, (2, 32, 32, last), np.uint8)
    photos = [Image.fromarray(p.squeeze(-1) if last == 1 else p, mode=mode) for p in hwc]
    x = (hwc / 255).astype(np.float32)
    emb = _stub((channels, 32, 32))
    with pytest.raises(ValueError) as err:
        emb.check(x)
    message = str(err.value)
    assert "channel(s) last, (N, H, W, C)" in message, message
    assert "got 32 channels" not in message, message
    target = "L" if channels == 1 else "RGB"
    want = np.stack([np.asarray(p.convert(target), np.float32).reshape(32, 32, channels)
                     for p in photos]).transpose(0, 3, 1, 2) / 255  # fmt: skip
    if channels == 1 and last != 1:
        assert "image.convert('L')" in message and "x[:, None]" in message, message
        grey = np.stack([np.asarray(p.convert("L"), np.float32) / 255 for p in photos])
        fixed = emb.check(grey[:, None])  # converted as it says, then given their channel axis
    else:
        expression = message.split(" with ")[1].split(" (a tensor) or ")[1].split(" (a NumPy")[0]
        assert expression.startswith(("x.transpose(0, 3, 1, 2)", "x[..., :3].transpose")), message
        fixed = emb.check(eval(expression, {"x": x}))  # the refusal's own expression
    np.testing.assert_allclose(fixed, want, atol=1e-6)


def test_a_channels_first_batch_of_other_channels_is_not_called_channels_last():
    emb = _stub((1, 32, 32))
    with pytest.raises(ValueError, match=r"got 3 channels; convert the images to grey"):
        emb.check(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"inputs of shape \(1, 32, 32\), got \(1, 28, 3\)"):
        emb.check(np.zeros((2, 1, 28, 3), np.float32))  # its channel first: another size
    assert emb.check(np.zeros((2, 1, 32, 32), np.float32)).shape == (2, 1, 32, 32)
