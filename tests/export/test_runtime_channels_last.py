"""OnnxEmbedder and the torch model's embed refuse channels-last batches with siamkit's one
channels-last sentence: the runtime had a sentence of its own that called a (N, 32, 32, 3) batch
"32 channels" and advised Pillow's img.convert, which an array cannot take (reviewer s54_FB
finding 3), and the torch model's Preprocess said "got 32 channels" too."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data.image_io import batch_channels_last_problem, channels_last_problem
from siamkit.encoders import create_encoder
from siamkit.export import ModelFileError, load_model, runtime, save_model
from siamkit.export.bundle import CONFIG_FILE
from siamkit.export.runtime import OnnxEmbedder, OnnxModelInfo
from siamkit.models import Preprocess, SiameseNetwork


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
    sizes = (1, 3, 4, 5, 28)
    for shape in itertools.product((2,), sizes, sizes, sizes):
        for want in itertools.product((1, 3), (5, 28), (1, 3, 4, 28)):
            got = runtime._batch_channels_last_problem(shape, want)
            assert got == batch_channels_last_problem(shape, want), (shape, want)


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
    said = f"{last} channel last" if last == 1 else f"{last} channels last"
    assert f"have their {said}, (N, H, W, C)" in message, message
    assert "got 32 channels" not in message, message
    target = "L" if channels == 1 else "RGB"
    want = np.stack([np.asarray(p.convert(target), np.float32).reshape(32, 32, channels)
                     for p in photos]).transpose(0, 3, 1, 2) / 255  # fmt: skip
    if channels == 1 and last != 1:
        assert "image.convert('L')" in message and "(N, 1, H, W): x[:, None]" in message, message
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


@pytest.mark.parametrize("last", [1, 3, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_torch_model_refuses_a_channels_last_batch_as_the_runtime_does(last, channels):
    """The torch model's embed (Preprocess.check) said "the model takes 3-channel images, got
    32 channels" of the same batches; it says what the exported model says of them."""
    x = np.random.default_rng(0).random((2, 32, 32, last), dtype=np.float32)
    prep = Preprocess(mean=(0.5,) * channels, std=(0.5,) * channels, input_shape=(channels, 32, 32))
    with pytest.raises(ValueError) as torch_err:
        prep.check(torch.from_numpy(x))
    with pytest.raises(ValueError) as onnx_err:
        _stub((channels, 32, 32)).check(x)
    assert str(torch_err.value) == str(onnx_err.value)
    said = f"{last} channel last" if last == 1 else f"{last} channels last"
    assert f"have their {said}, (N, H, W, C)" in str(torch_err.value)
    with pytest.raises(ValueError, match=r"^the model takes 1-channel images, got 3 channels$"):
        Preprocess(mean=(0.5,), std=(0.5,), input_shape=(1, 32, 32)).check(torch.rand(2, 3, 32, 32))


def test_a_model_that_has_not_seen_a_batch_refuses_a_channels_last_one_by_name():
    """Without an input shape the encoder's check answered "(28 channels)" of (2, 28, 28, 3)."""
    from siamkit.encoders import create_encoder
    from siamkit.models import SiameseNetwork

    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[8]), embedding_dim=4)
    for last in (1, 3):
        x = torch.rand(2, 28, 28, last)
        with pytest.raises(ValueError) as err:
            net.eval().embed(x)
        assert str(err.value) == batch_channels_last_problem(tuple(x.shape), (1, 28, 28))
    with pytest.raises(ValueError, match=r"takes 1-channel images, got .*\(3 channels\)"):
        net.embed(torch.rand(2, 3, 28, 28))
    assert net.input_shape is None


@pytest.mark.parametrize(
    ("want", "shape"),
    [((3, 28, 3), (2, 1, 28, 3)), ((1, 28, 1), (2, 3, 28, 1)), ((3, 5, 3), (2, 4, 5, 3))],
)
def test_a_channels_first_batch_of_the_models_size_is_not_called_channels_last(want, shape):
    """A model as wide as its channel count (W == 3 for RGB): a channels-first batch of its H and
    W with another channel count was called channels-last, and the permute it advised was
    refused in turn (reviewer s55_R4 finding 2). Both the torch model and the runtime name the
    channel count it has, as they do for a model of any other width."""
    x = np.zeros(shape, np.float32)
    prep = Preprocess(mean=(0.5,) * want[0], std=(0.5,) * want[0], input_shape=want)
    got = f"the model takes {want[0]}-channel images, got {shape[1]} channels"
    with pytest.raises(ValueError, match=rf"^{got}$"):
        prep.check(torch.from_numpy(x))
    with pytest.raises(ValueError, match=rf"^{got}; "):
        _stub(want).check(x)
    for sizes in itertools.product((1, 3, 4), (1, 3, 4, 28), (1, 3, 4, 28)):  # every such pair
        for channels in (1, 3, 4):
            batch = (2, channels, *sizes[1:])
            if channels != sizes[0]:
                assert batch_channels_last_problem(batch, sizes) is None, (batch, sizes)
                assert runtime._batch_channels_last_problem(batch, sizes) is None, (batch, sizes)


@pytest.mark.parametrize("input_shape", [[3, 28, 1], [4, 28, 3], [3, 28, 3]])
def test_a_hand_edited_input_shape_is_named_by_its_channels_not_as_channels_last(
    tmp_path, input_shape
):
    """The bundle's dry run embeds a zero batch of the config's own (C, H, W), channels first by
    construction; for a grayscale encoder, [3, 28, 1] was refused with "have their 1 channel(s)
    last ... x.permute(0, 3, 1, 2)", advice for an array that is no help in a config file."""
    prep = Preprocess(input_shape=(1, 28, 28))
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4]), 4, preprocess=prep)
    dest = save_model(net, tmp_path / "model")
    doc = json.loads((dest / CONFIG_FILE).read_text())
    doc["model"]["preprocess"]["input_shape"] = input_shape
    (dest / CONFIG_FILE).write_text(json.dumps(doc))
    shape = (1, *input_shape)
    with pytest.raises(ModelFileError) as err:
        load_model(dest)
    assert f"takes 1-channel images, got a batch shaped {shape} ({input_shape[0]} channels)" in str(
        err.value
    ), str(err.value)
    assert "last" not in str(err.value)
