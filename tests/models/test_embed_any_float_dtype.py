"""A notebook user's images often come from numpy as float64 (``torch.from_numpy(a / 255)``);
``embed`` took them to the float32 weights and failed deep inside torch's convolution with
'expected scalar type Double but found Float'. The model now casts floats to its weights' dtype,
so float64 gives the float32 embeddings of the same values."""

from __future__ import annotations

import torch

import siamkit
from siamkit.encoders import create_encoder


def test_float64_images_embed_as_their_float32_values() -> None:
    torch.manual_seed(0)
    net = siamkit.SiameseNetwork(create_encoder("convnet", in_channels=1), embedding_dim=16).eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        want = net.embed(x)
        got = net.embed(x.double())
        d = net(x.double(), x[[1, 0, 3, 2]].double())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)
    assert d.shape == (4,)


def test_float64_vectors_embed_with_an_mlp_and_each_half_twin_branch() -> None:
    torch.manual_seed(0)
    enc = create_encoder("mlp", in_features=6)
    net = siamkit.SiameseNetwork(enc, embedding_dim=8).eval()
    x = torch.rand(5, 6)
    with torch.no_grad():
        torch.testing.assert_close(net.embed(x.double()), net.embed(x))
    twin = siamkit.HalfTwinNetwork(
        create_encoder("mlp", in_features=6), create_encoder("mlp", in_features=6), 8
    ).eval()
    with torch.no_grad():
        for branch in ("f", "g"):
            torch.testing.assert_close(twin.embed(x.double(), branch), twin.embed(x, branch))


def test_a_double_model_keeps_float64() -> None:
    net = siamkit.SiameseNetwork(create_encoder("mlp", in_features=3), embedding_dim=4).double()
    assert net.embed(torch.rand(2, 3)).dtype == torch.float64


def test_a_joined_model_embeds_float64_images_as_their_float32_values() -> None:
    """The appearance features were computed on the images as given: float64 images gave
    float64 joined embeddings (and distances), unlike the network's own float32 ones."""
    from siamkit.heads import AppearanceFeatures

    torch.manual_seed(0)
    enc = create_encoder("convnet", in_channels=1, widths=[8, 16])
    pre = siamkit.Preprocess(input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre).eval()
    x = torch.rand(4, 1, 28, 28)
    for features in ("pixels", "hog"):
        joined = siamkit.models.JoinedEmbedding(net, AppearanceFeatures(7, features), 0.5).eval()
        with torch.no_grad():
            want, got = joined.embed(x), joined.embed(x.double())
            parts = joined.parts(x.double())
            d = joined(x.double(), x.flip(0).double())
        assert got.dtype == torch.float32 and d.dtype == torch.float32
        assert all(p.dtype == torch.float32 for p in parts.values())
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(parts["appearance"], AppearanceFeatures(7, features)(x))
    assert joined.double().embed(x).dtype == torch.float64  # a double model keeps float64


def test_a_half_precision_joined_model_gives_a_black_image_finite_features() -> None:
    """Computed in float16, the appearance features' 1e-12 margin (which keeps a black image's
    0/0 away) was 0, and a black image's joined embedding NaN; they are computed in float32
    and come back in float16."""
    from siamkit.heads import AppearanceFeatures

    torch.manual_seed(0)
    enc = create_encoder("convnet", in_channels=1, widths=[8, 16])
    pre = siamkit.Preprocess(input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre).eval()
    x = torch.rand(3, 1, 28, 28)
    x[0] = 0.0
    for features in ("pixels", "hog"):
        joined = siamkit.models.JoinedEmbedding(net, AppearanceFeatures(7, features), 0.5)
        joined = joined.eval().half()
        with torch.no_grad():
            z, parts = joined.embed(x), joined.parts(x)
        assert z.dtype == parts["appearance"].dtype == torch.float16
        assert bool(torch.isfinite(z).all())
        want = AppearanceFeatures(7, features)(x).half()  # in float32, on the float32 images
        torch.testing.assert_close(parts["appearance"], want)
