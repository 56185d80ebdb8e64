"""A user's own loop hands a proxy loss a batch that does not fit it: labels of another length,
embeddings of another size than the loss was built for, float labels or no items at all. Each
is one sentence naming the argument, not torch's shape error from inside a matmul or a reshape,
and never a NaN loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.losses import (
    NormalizedSoftmaxLoss,
    ProxyAnchorLoss,
    ProxyNCALoss,
    SoftTripleLoss,
    SubCenterArcFaceLoss,
)

LOSSES = [
    ProxyAnchorLoss,
    ProxyNCALoss,
    NormalizedSoftmaxLoss,
    SoftTripleLoss,
    SubCenterArcFaceLoss,
]
CLASSES = [0, 1, 2]


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return F.normalize(torch.randn(12, 8, generator=g), dim=1), torch.arange(12) % 3


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_labels_of_another_length_are_named(loss_cls: type[torch.nn.Module]) -> None:
    z, y = _batch()
    with pytest.raises(ValueError, match=r"^labels must be 1-D with one label per embedding"):
        loss_cls(CLASSES, 8)(z, y[:4])


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_embeddings_of_another_size_name_embedding_dim(loss_cls: type[torch.nn.Module]) -> None:
    z, y = _batch()
    with pytest.raises(
        ValueError,
        match=r"^embeddings are 8-d but the loss was built with "
        r"embedding_dim=16; build it with the network's embedding size$",
    ):
        loss_cls(CLASSES, 16)(z, y)


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_an_empty_batch_is_refused_not_nan(loss_cls: type[torch.nn.Module]) -> None:
    z, y = _batch()
    with pytest.raises(ValueError, match=r"^embeddings is empty \(a batch of 0\)"):
        loss_cls(CLASSES, 8)(z[:0].requires_grad_(), y[:0])


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_float_labels_are_refused(loss_cls: type[torch.nn.Module]) -> None:
    z, y = _batch()
    with pytest.raises(
        TypeError, match=r"labels must be integer class ids, got dtype torch\.float32"
    ):
        loss_cls(CLASSES, 8)(z, y.float())


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_a_good_batch_still_trains(loss_cls: type[torch.nn.Module]) -> None:
    z, y = _batch()
    z.requires_grad_()
    loss = loss_cls(CLASSES, 8)(z, y)
    loss.backward()
    assert torch.isfinite(loss) and z.grad is not None


def test_sub_center_outliers_check_the_batch_too() -> None:
    z, y = _batch()
    loss = SubCenterArcFaceLoss(CLASSES, 8, sub_centers=2)
    assert loss.outliers(z, y).dim() == 1
    with pytest.raises(ValueError, match="one label per embedding"):
        loss.dominant(z, y[:3])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("loss_cls", LOSSES)
def test_half_precision_embeddings_meet_float32_proxies(
    loss_cls: type[torch.nn.Module], dtype: torch.dtype
) -> None:
    # a network run in half precision without autocast gives half embeddings; the proxies stay
    # float32, and the loss is the float32 loss of the same (rounded) embeddings, not torch's
    # "expected m1 and m2 to have the same dtype" from inside the matmul
    z, y = _batch()
    torch.manual_seed(0)
    loss = loss_cls(CLASSES, 8)
    half = z.to(dtype).requires_grad_(True)
    wide = half.detach().float().requires_grad_(True)
    got, want = loss(half, y), loss(wide, y)
    (g_half,) = torch.autograd.grad(got, [half])
    (g_wide,) = torch.autograd.grad(want, [wide])

    assert got.dtype == torch.float32
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-6)
    assert g_half.dtype == dtype
    torch.testing.assert_close(g_half.float(), g_wide.to(dtype).float())
