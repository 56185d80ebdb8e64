"""ConvNet multi-level taps (the "hypercolumn" embedding) against a naive loop, and the head that
passes them through unprojected."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from siamkit.encoders import create_encoder
from siamkit.models import Preprocess, SiameseNetwork


def naive_taps(
    enc: torch.nn.Module,
    x: torch.Tensor,
    taps: list[int],
    grids: list[int],
    weight: float,
    power: float,
) -> torch.Tensor:
    """Each block run by hand; each tapped block's output cut into g x g cells with slicing and a
    mean per cell and channel, written out one cell at a time."""
    convs = [m for m in enc.features if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in enc.features if isinstance(m, torch.nn.BatchNorm2d)]
    parts = []
    h = x
    for b, (conv, bn) in enumerate(zip(convs, bns, strict=True)):
        h = torch.relu(bn(conv(h)))
        if b in taps:
            n, c, hh, ww = h.shape
            for g in grids:
                cells = torch.zeros(n, c, g, g)
                for i in range(
                    g
                ):  # cell i spans floor(i H / g) .. ceil((i + 1) H / g): may overlap
                    r0, r1 = (i * hh) // g, -((-(i + 1) * hh) // g)
                    for j in range(g):
                        c0, c1 = (j * ww) // g, -((-(j + 1) * ww) // g)
                        cells[:, :, i, j] = h[:, :, r0:r1, c0:c1].mean(dim=(2, 3))
                if power != 1.0:
                    cells = (cells + 1e-6) ** power
                flat = cells.reshape(n, -1)
                parts.append(flat / flat.norm(dim=1, keepdim=True))
        if b < len(convs) - 1:
            h = torch.nn.functional.max_pool2d(h, 2)
    deep = h.mean(dim=(2, 3))
    scale = weight / math.sqrt(len(parts))
    return torch.cat([deep, *(p * scale for p in parts)], dim=1)


@pytest.mark.parametrize(
    ("taps", "grids", "weight", "power", "side"),
    [
        ([0], [4], 1.0, 1.0, 16),
        ([0, 1], [4, 2], 0.7, 0.5, 16),
        ([1], [2], 2.0, 1.0, 16),
        ([1], [4, 2], 1.0, 0.5, 28),
    ],
)
def test_taps_equal_a_naive_loop(
    taps: list[int], grids: list[int], weight: float, power: float, side: int
) -> None:
    torch.manual_seed(0)
    enc = create_encoder(
        "convnet",
        in_channels=1,
        widths=[4, 6, 8],
        taps=taps,
        tap_grids=grids,
        tap_weight=weight,
        tap_power=power,
    ).eval()
    x = torch.rand(3, 1, side, side)  # 28: block 1 is 14 x 14, cut into 4 x 4 overlapping cells
    out = enc(x)
    ref = naive_taps(enc, x, taps, grids, weight, power)
    assert out.shape == (3, enc.num_features) == ref.shape
    assert enc.num_passthrough == sum(
        enc_w * g * g for enc_w in [[4, 6, 8][t] for t in taps] for g in grids
    )
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # the taps together have length `weight`
    tapped = out[:, -enc.num_passthrough :]
    torch.testing.assert_close(tapped.norm(dim=1), torch.full((3,), weight), atol=1e-5, rtol=1e-5)


def test_the_embedding_joins_the_projection_and_the_taps() -> None:
    torch.manual_seed(0)
    enc = create_encoder(
        "convnet", in_channels=1, widths=[4, 6, 8], taps=[0], tap_grids=[2], tap_weight=0.5
    )
    net = SiameseNetwork(
        enc, embedding_dim=5, preprocess=Preprocess(input_shape=(1, 16, 16))
    ).eval()
    x = torch.rand(3, 1, 16, 16)
    z = net.embed(x)
    assert net.embedding_dim == 5 + 16 == z.shape[1]
    feats = enc(net.preprocess(x))
    proj = torch.nn.functional.normalize(net.head.proj(feats[:, :8]), dim=1)
    ref = torch.cat([proj, feats[:, 8:]], dim=1) / math.sqrt(1 + 0.5**2)
    torch.testing.assert_close(z, ref, atol=1e-5, rtol=1e-5)
    # the taps have no weights: a network without them loads into one with them, and back
    plain = SiameseNetwork(
        create_encoder("convnet", in_channels=1, widths=[4, 6, 8]), embedding_dim=5
    )
    plain.load_state_dict(net.state_dict())
    rebuilt = SiameseNetwork.from_config(net.config())
    rebuilt.load_state_dict(net.state_dict())
    torch.testing.assert_close(rebuilt.eval().embed(x), z)


def test_bad_taps_are_refused_in_one_sentence() -> None:
    with pytest.raises(ValueError, match=r"taps must be distinct block indices in 0\.\.2"):
        create_encoder("convnet", in_channels=1, taps=[3])
    with pytest.raises(ValueError, match="tap_power"):
        create_encoder("convnet", in_channels=1, taps=[0], tap_power=0)


def test_taps_are_selectable_in_the_config() -> None:
    from siamkit.training import apply_overrides, build_model, demo_recipe, load_config

    cfg = apply_overrides(
        demo_recipe(),
        [
            "model.appearance=null",
            "model.encoder_kwargs={widths: [32, 64, 128], taps: [1], tap_grids: [4, 2]}",
        ],
    )
    net = build_model(cfg.model, (1, 28, 28))
    assert isinstance(net, SiameseNetwork)
    assert net.embedding_dim == 64 + 64 * (16 + 4)
    cfg = load_config("configs/hypercolumn.yaml")
    assert cfg.model.appearance is None and cfg.model.encoder_kwargs["taps"]


def test_taps_kept_out_of_training_train_exactly_as_without_them() -> None:
    """tap_train=False: in training mode the embedding, and so the loss's gradient, is the plain
    network's; in eval mode the taps join."""
    torch.manual_seed(0)
    kw = {"in_channels": 1, "widths": [4, 6, 8]}
    plain = SiameseNetwork(create_encoder("convnet", **kw), embedding_dim=5)
    tapped = SiameseNetwork(
        create_encoder("convnet", **kw, taps=[1], tap_grids=[2], tap_train=False), embedding_dim=5
    )
    tapped.load_state_dict(plain.state_dict())
    x = torch.rand(6, 1, 16, 16)
    plain.train(), tapped.train()
    z_plain, z_tapped = plain.embed(x), tapped.embed(x)
    torch.testing.assert_close(z_tapped[:, :5], z_plain)
    assert z_tapped[:, 5:].abs().max() == 0
    w = torch.randn(z_tapped.shape[1])
    (z_tapped * w).sum().backward()
    (z_plain * w[:5]).sum().backward()
    for p, q in zip(plain.parameters(), tapped.parameters(), strict=True):
        assert p.grad is not None and p.grad.abs().max() > 0
        torch.testing.assert_close(p.grad, q.grad)
    tapped.eval()
    assert tapped.embed(x)[:, 5:].abs().max() > 0


@pytest.mark.parametrize(("rows", "cols", "g"), [(14, 14, 4), (7, 9, 2), (28, 28, 4), (5, 5, 3)])
def test_cell_means_are_torch_adaptive_average_pooling(rows: int, cols: int, g: int) -> None:
    from siamkit.encoders.convnet import cell_means

    h = torch.rand(2, 3, rows, cols)
    torch.testing.assert_close(cell_means(h, g, g), torch.nn.functional.adaptive_avg_pool2d(h, g))


def test_a_tapped_network_exports_to_onnx(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from siamkit.export.onnx import export_onnx

    enc = create_encoder(
        "convnet", in_channels=1, widths=[8, 16, 32], taps=[1], tap_grids=[4, 2], tap_power=0.5
    )
    net = SiameseNetwork(enc, 16, preprocess=Preprocess(input_shape=(1, 28, 28))).eval()
    out = export_onnx(net, tmp_path / "taps.onnx")  # checks ONNX Runtime against torch (atol 1e-4)
    assert out.metadata["embedding_dim"] == str(16 + 16 * 20)


def test_the_collapse_monitor_measures_the_learned_projection_not_the_taps() -> None:
    """Pooled early features cannot collapse: with them in the measure, a collapsed projection
    (every image the same 5-d vector) would look healthy. The monitor's measure leaves them out."""
    from siamkit.training.from_config import network_embeddings
    from siamkit.training.validation import embedding_spread

    torch.manual_seed(0)
    enc = create_encoder("convnet", in_channels=1, widths=[4, 6, 8], taps=[0], tap_grids=[2])
    net = SiameseNetwork(enc, embedding_dim=5)
    x = torch.rand(64, 1, 16, 16)
    healthy = network_embeddings(net, x, torch.device("cpu"))
    assert healthy.shape == (64, 5)
    with torch.no_grad():  # collapse the projection: a constant output whatever the input
        last = [m for m in net.head.proj if isinstance(m, torch.nn.Linear)][-1]
        last.weight.zero_()
        last.bias.fill_(1.0)
    collapsed = network_embeddings(net, x, torch.device("cpu"))
    assert embedding_spread(collapsed) < 1e-10
    # the full embedding (projection + taps) still spreads: measuring it would hide the collapse
    net.eval()
    with torch.no_grad():
        assert embedding_spread(net.embed(x)) > 1e-4
    # the measured part is the projection, renormalised
    with torch.no_grad():
        deep = net.encoder(x)[:, : -enc.num_passthrough]
        want = torch.nn.functional.normalize(net.head.proj(deep), dim=1)
    assert torch.allclose(collapsed, want, atol=1e-6)
