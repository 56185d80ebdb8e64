"""Siamese and half-twin models: shared weights, embeddings, input checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.distances import MahalanobisDistance, MLPMetric
from siamkit.models import HalfTwinNetwork, Preprocess, SiameseNetwork


def small_net(**kw) -> SiameseNetwork:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    return SiameseNetwork(
        enc, embedding_dim=12, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28)), **kw
    ).eval()


def test_twin_branches_are_one_parameter_set() -> None:
    net = small_net()
    params = list(net.parameters())
    assert len({id(p) for p in params}) == len(params)
    # one encoder, one head: the number of parameters equals encoder + head, nothing duplicated per branch
    n_enc = sum(p.numel() for p in net.encoder.parameters())
    n_head = sum(p.numel() for p in net.head.parameters())
    assert sum(p.numel() for p in params) == n_enc + n_head
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(net(x, x), torch.zeros(4))
    za, zb = net.branches(x, x.flip(0))
    assert torch.equal(za, zb.flip(0))


def test_gradient_from_both_branches_lands_in_the_same_weights() -> None:
    net = small_net().train()
    a, b = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    net(a, b).sum().backward()
    grad_pair = net.head.proj[0].weight.grad.clone()
    net.zero_grad()
    za = net.embed(a)
    zb = net.embed(b)
    (za - zb).norm(dim=1).sum().backward()
    torch.testing.assert_close(net.head.proj[0].weight.grad, grad_pair)


def test_embeddings_are_l2_normalised_unless_switched_off() -> None:
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(small_net().embed(x).norm(dim=1), torch.ones(5))
    z = small_net(normalize=False).embed(x)
    assert not torch.allclose(z.norm(dim=1), torch.ones(5))


def test_input_checks_name_the_problem() -> None:
    net = small_net()
    with pytest.raises(ValueError, match="1-channel images, got 3 channels"):
        net.embed(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"inputs of shape \(1, 28, 28\), got \(1, 32, 32\)"):
        net.embed(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="NaN"):
        net.embed(torch.full((1, 1, 28, 28), float("nan")))
    with pytest.raises(TypeError, match="divide uint8"):
        net.embed(torch.zeros(1, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        net.embed(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match="pair batches differ"):
        net(torch.rand(2, 1, 28, 28), torch.rand(3, 1, 28, 28))


def test_a_model_that_has_not_seen_a_batch_yet_names_the_input_problem() -> None:
    # the README's network: no input shape given, so the first batch would set it
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    net = SiameseNetwork(enc, embedding_dim=12).eval()
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*got shape \(2, 28, 28\).*unsqueeze"):
        net.embed(torch.rand(2, 28, 28))  # the channel dimension forgotten
    with pytest.raises(ValueError, match=r"takes 1-channel images, got .*\(3 channels\)"):
        net.embed(torch.rand(2, 3, 28, 28))
    assert net.input_shape is None  # a refused batch does not set the shape
    mlp = siamkit.encoders.create_encoder("mlp", in_features=6, hidden=[8])
    with pytest.raises(ValueError, match=r"takes 6-feature vectors, got .*\(7 features\)"):
        SiameseNetwork(mlp, embedding_dim=4).embed(torch.randn(3, 7))
    f = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=[16])
    g = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=[16])
    with pytest.raises(ValueError, match=r"takes 5-feature vectors, got .*\(8 features\)"):
        HalfTwinNetwork(f, g, embedding_dim=4).embed_g(torch.randn(3, 8))


def test_learned_distances_train_with_the_network() -> None:
    enc = siamkit.encoders.create_encoder("mlp", in_features=6, hidden=[8])
    net = SiameseNetwork(enc, embedding_dim=4, distance=MahalanobisDistance(4, rank=2))
    assert any(p is net.distance.L for p in net.parameters())
    head = MLPMetric(4)
    net2 = SiameseNetwork(
        siamkit.encoders.create_encoder("mlp", in_features=6, hidden=[8]), 4, distance=head
    )
    x, y = torch.randn(3, 6), torch.randn(3, 6)
    logits = net2.pair_logits(x, y)
    torch.testing.assert_close(net2(x, y), torch.sigmoid(-logits))
    with pytest.raises(TypeError, match="MLPMetric"):
        net.pair_logits(x, y)


def test_half_twin_uses_two_unshared_encoders_in_one_space() -> None:
    f = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=[16])
    g = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=[16])
    net = HalfTwinNetwork(f, g, embedding_dim=4, distance="cosine").eval()
    x, y = torch.randn(3, 8), torch.randn(3, 5)
    d = net(x, y)
    torch.testing.assert_close(d, siamkit.distances.pairwise_cosine(net.embed_f(x), net.embed_g(y)))
    assert net.embed(y, branch="g").shape == (3, 4)
    assert not set(map(id, net.encoder_f.parameters())) & set(map(id, net.encoder_g.parameters()))
    assert not set(map(id, net.head_f.parameters())) & set(map(id, net.head_g.parameters()))
    n_params = sum(p.numel() for p in net.parameters())  # nothing shared between the towers
    assert n_params == sum(
        p.numel() for m in (f, g, net.head_f, net.head_g) for p in m.parameters()
    )
    with pytest.raises(ValueError, match="branch"):
        net.embed(x, branch="h")


def test_half_twin_refuses_towers_that_share_weights(tmp_path: Path) -> None:
    """One encoder given as both towers trained as a shared trunk and then failed to save, in
    safetensors' words ("Some tensors share memory"); a half-twin's towers are unshared."""
    f = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=[16])
    g = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=[16])
    with pytest.raises(ValueError, match="encoder_f and encoder_g share weights"):
        HalfTwinNetwork(f, f, embedding_dim=4)
    g.net[0] = f.net[0]  # one layer in common is sharing too
    with pytest.raises(ValueError, match="create the second encoder with create_encoder again"):
        HalfTwinNetwork(f, g, embedding_dim=4)
    g = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=[16])
    net = HalfTwinNetwork(f, g, embedding_dim=4, preprocess_f=Preprocess(input_shape=(8,)),
                          preprocess_g=Preprocess(input_shape=(8,))).eval()  # fmt: skip
    siamkit.save_model(net, tmp_path / "m")
    x, y = torch.randn(3, 8), torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(siamkit.load_model(tmp_path / "m")(x, y), net(x, y))


class _Scaled(torch.nn.Module):
    """A user's encoder: a weight made from ``weight`` and a fixed, unsaved ``kernel``."""

    def __init__(self, weight: torch.Tensor, kernel: torch.Tensor) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(weight)  # shares weight's memory
        self.register_buffer("kernel", kernel, persistent=False)
        self.num_features = weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ (self.weight * self.kernel).T


def test_half_twin_tells_shared_weights_from_a_shared_constant() -> None:
    """Two parameters over one tensor are shared weights too (safetensors refuses them); a
    constant both towers hold but a model does not save (a non-persistent buffer) is not."""
    kernel = torch.ones(4, 3)
    one = torch.randn(4, 3)
    with pytest.raises(ValueError, match="share weights"):
        HalfTwinNetwork(_Scaled(one, kernel.clone()), _Scaled(one, kernel.clone()), 2)
    net = HalfTwinNetwork(_Scaled(one, kernel), _Scaled(torch.randn(4, 3), kernel), 2).eval()
    assert net(torch.randn(5, 3), torch.randn(5, 3)).shape == (5,)


def test_joined_pooled_pixels_are_the_naive_join_and_stay_unit_length() -> None:
    from siamkit.heads import AppearanceFeatures
    from siamkit.models import JoinedEmbedding

    net = small_net()
    joined = JoinedEmbedding(net, AppearanceFeatures(pool=4), weight=0.5).eval()
    x = torch.rand(3, 1, 28, 28)
    z = joined.embed(x)
    assert joined.embedding_dim == 12 + 49 and z.shape == (3, 61)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(3))
    # the head is the network's embedding, the tail the pooled image by a naive loop over 4×4
    # windows, both scaled by hand: [e ; 0.5 * p / |p|] / sqrt(1 + 0.5²)
    pooled = torch.tensor(
        [
            [
                x[n, 0, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].mean()
                for i in range(7)
                for j in range(7)
            ]
            for n in range(3)
        ]
    )
    expected_tail = 0.5 * pooled / pooled.norm(dim=1, keepdim=True) / (1 + 0.25) ** 0.5
    torch.testing.assert_close(z[:, 12:], expected_tail)
    torch.testing.assert_close(z[:, :12], net.embed(x) / (1 + 0.25) ** 0.5)
    with pytest.raises(ValueError, match="input_shape"):
        vectors = SiameseNetwork(
            siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[4]), 2
        )
        JoinedEmbedding(vectors, AppearanceFeatures())
    with pytest.raises(ValueError, match="positive"):
        JoinedEmbedding(net, AppearanceFeatures(), weight=0)


def test_joined_parts_are_the_pieces_embed_joins() -> None:
    from siamkit.heads import AppearanceFeatures
    from siamkit.models import JoinedEmbedding

    w = 0.7
    net = small_net()
    joined = JoinedEmbedding(net, AppearanceFeatures(pool=7, features="hog", bins=6), w).eval()
    x = torch.rand(3, 1, 28, 28)
    parts = joined.parts(x)
    assert set(parts) == {"learned", "appearance"} and parts["appearance"].shape == (3, 6 * 16)
    torch.testing.assert_close(parts["learned"], net.embed(x))
    by_hand = torch.cat([parts["learned"], w * parts["appearance"]], dim=1) / (1 + w * w) ** 0.5
    torch.testing.assert_close(joined.embed(x), by_hand)
    torch.testing.assert_close(joined(x, x.flip(0)), (by_hand - by_hand.flip(0)).norm(dim=1))


def _naive_hog(x: torch.Tensor, bins: int, cell: int, signed: bool) -> torch.Tensor:
    """One image's histograms ``(bins, H // cell, W // cell)`` by plain loops over pixels."""
    import math

    h, w = x.shape[-2:]
    period = 2 * math.pi if signed else math.pi
    img = torch.nn.functional.pad(x[0, 0], (1, 1, 1, 1))
    hist = torch.zeros(bins, h // cell, w // cell, dtype=torch.float64)
    for i in range(h):
        for j in range(w):
            p = img[i : i + 3, j : j + 3]
            gx = (p[:, 2] - p[:, 0]) @ torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
            gy = (p[2, :] - p[0, :]) @ torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
            mag = math.sqrt(gx**2 + gy**2 + 1e-12)
            a = (math.atan2(gy, gx) % period) * bins / period
            for b in range(bins):
                d = min(abs(a - b), bins - abs(a - b))
                hist[b, i // cell, j // cell] += mag * max(0.0, 1 - d) / cell**2
    return hist


def test_hog_appearance_features_match_a_naive_loop() -> None:
    from siamkit.heads.appearance import hog_features

    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    want = _naive_hog(x, 4, 4, signed=False).flatten().sqrt()
    torch.testing.assert_close(hog_features(x, 4, 4)[0], want / want.norm())


def test_signed_hog_pyramid_matches_a_naive_loop() -> None:
    """Signed orientations over 360°; two levels (4- and 8-pixel cells), each unit length, joined
    with equal weight."""
    from siamkit.heads import AppearanceFeatures
    from siamkit.heads.appearance import hog_features

    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    fine = _naive_hog(x, 6, 4, signed=True).flatten().sqrt()
    coarse = _naive_hog(x, 6, 8, signed=True).flatten().sqrt()
    want = torch.cat([fine / fine.norm(), coarse / coarse.norm()]) / 2**0.5
    got = hog_features(x, 6, 4, signed=True, levels=2)[0]
    torch.testing.assert_close(got, want)
    # signed differs from unsigned: a light-to-dark edge is not a dark-to-light one
    assert not torch.allclose(hog_features(x, 6, 4, signed=True), hog_features(x, 6, 4))
    features = AppearanceFeatures(4, features="hog", bins=6, signed=True, levels=2)
    assert features.extra_dim((1, 8, 8)) == 6 * (4 + 1) == got.numel()
    torch.testing.assert_close(features(x)[0], want)
    with pytest.raises(ValueError, match="smaller than the pooling window 8"):
        features.extra_dim((1, 6, 6))
    with pytest.raises(ValueError, match="levels"):
        AppearanceFeatures(4, features="pixels", levels=2)


class _Tower(torch.nn.Module):
    """A user's encoder around any inner module, with 16 features."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.num_features = 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)  # type: ignore[no-any-return]


def test_half_twin_takes_lazy_towers_and_refuses_one_lazy_tower_twice() -> None:
    """Lazy layers have no memory before their first batch (numel raised); they are shared only
    when they are the same module, as the second call is."""
    net = HalfTwinNetwork(_Tower(torch.nn.LazyLinear(16)), _Tower(torch.nn.LazyLinear(16)), 8)
    assert net.embed_f(torch.randn(3, 5)).shape == net.embed_g(torch.randn(3, 7)).shape == (3, 8)
    lazy = _Tower(torch.nn.LazyLinear(16))
    with pytest.raises(ValueError, match="share weights"):
        HalfTwinNetwork(lazy, lazy, 8)


def test_half_twin_takes_a_tower_with_a_sparse_buffer() -> None:
    """A sparse tensor's storage cannot be read (that raised); it is not another tower's."""
    f, g = _Tower(torch.nn.Linear(4, 16)), _Tower(torch.nn.Linear(4, 16))
    f.register_buffer("mask", torch.eye(3).to_sparse())
    net = HalfTwinNetwork(f, g, 8)
    assert net(torch.randn(2, 4), torch.randn(2, 4)).shape == (2,)


def test_half_twin_takes_disjoint_slices_of_one_matrix_and_refuses_overlapping_ones(
    tmp_path: Path,
) -> None:
    """Towers initialised from disjoint rows of one pretrained matrix keep nothing in common:
    they save, load and train apart. Slices that overlap by one row share weights."""
    pre = {
        "preprocess_f": Preprocess(input_shape=(4,)),
        "preprocess_g": Preprocess(input_shape=(4,)),
    }
    w = torch.randn(33, 4)
    f = siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[16])
    g = siamkit.encoders.create_encoder("mlp", in_features=4, hidden=[16])
    f.net[0].weight = torch.nn.Parameter(w[:16])
    g.net[0].weight = torch.nn.Parameter(w[16:32])
    net = HalfTwinNetwork(f, g, 4, **pre).eval()
    siamkit.save_model(net, tmp_path / "m")
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(siamkit.load_model(tmp_path / "m")(x, y), net(x, y))
    g.net[0].weight = torch.nn.Parameter(w[15:31])  # row 15 is f's too
    with pytest.raises(ValueError, match="share weights"):
        HalfTwinNetwork(f, g, 4, **pre)


def test_half_twin_refuses_one_meta_tower_twice_and_takes_two() -> None:
    """Meta tensors have no memory (every pointer 0, which the check skipped): one tower given
    twice is told by identity."""
    with torch.device("meta"):
        f, g = _Tower(torch.nn.Linear(4, 16)), _Tower(torch.nn.Linear(4, 16))
    with pytest.raises(ValueError, match="share weights"):
        HalfTwinNetwork(f, f, 8)
    HalfTwinNetwork(f, g, 8)


class _FreshInStateDict(_Tower):
    """A tower whose state dict holds a tensor made anew on each call (as a quantized layer
    unpacks its packed weights)."""

    def __init__(self) -> None:
        super().__init__(torch.nn.Linear(4, 16))
        self._register_state_dict_hook(
            lambda m, sd, prefix, local: sd.update({prefix + "scale": torch.ones(1000)})
        )


def test_half_twin_takes_towers_whose_state_dicts_make_tensors_anew() -> None:
    """One tower's state dict was let go before the other's was read, so the other's new
    tensor could take the memory of the first's (freed) and pass for shared."""
    for _ in range(20):  # the allocator hands back the freed block most times
        HalfTwinNetwork(_FreshInStateDict(), _FreshInStateDict(), 8)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.ao moves to torchao
def test_half_twin_takes_two_quantized_towers_and_refuses_one_twice() -> None:
    """A dynamically quantized layer saves a dtype and a tuple of tensors (the check read
    ``is_meta`` of each and raised AttributeError), and unpacks its weights anew on each
    call, so one quantized tower twice is told by the module both towers hold."""
    quantize = torch.ao.quantization.quantize_dynamic
    f = siamkit.encoders.create_encoder("mlp", in_features=8, hidden=[16])
    g = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=[16])
    qf = quantize(f, {torch.nn.Linear}, dtype=torch.qint8)
    qg = quantize(g, {torch.nn.Linear}, dtype=torch.qint8)
    net = HalfTwinNetwork(qf, qg, embedding_dim=4).eval()
    x, y = torch.randn(3, 8), torch.randn(3, 5)
    with torch.no_grad():
        d = net(x, y)
        torch.testing.assert_close(d, net.distance.pairwise(net.head_f(qf(x)), net.head_g(qg(y))))
    with pytest.raises(ValueError, match="share weights"):
        HalfTwinNetwork(qf, qf, embedding_dim=4)
    # without a bias, every tensor its state dict holds is made anew: only the module tells
    bare = quantize(_Tower(torch.nn.Linear(8, 16, bias=False)), {torch.nn.Linear})
    with pytest.raises(ValueError, match="share weights"):
        HalfTwinNetwork(bare, bare, embedding_dim=4)
