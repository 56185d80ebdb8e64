"""Class ids -> the rows of a loss's per-class parameters (proxies, centres, per-class beta).

A dataset's class ids need not be ``0..C-1``: a subset of classes, or identities numbered by an
outside system (``10**12``). The lookup must cost memory by the number of classes, not by the
largest id, and give the same loss as the batch renumbered ``0..C-1``.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from siamkit.losses import MarginLoss, ProxyAnchorLoss, SoftTripleLoss
from siamkit.losses.class_rows import class_lookup, class_rows

BIG = [3, 10**9, 2**40]  # a table indexed by id would take 8 TB


def test_rows_follow_a_loop_over_the_sorted_ids() -> None:
    classes = [2**40, 3, 10**9, 3, 17]
    lookup = class_lookup(classes)
    labels = torch.tensor([10**9, 3, 2**40, 17, 3])
    ids = sorted(set(classes))
    want = [ids.index(int(v)) for v in labels]

    assert lookup.numel() == len(ids)
    assert class_rows(lookup, labels).tolist() == want


@pytest.mark.parametrize("label", [-1, 0, 4, 10**9 + 1, 2**41])
def test_an_id_without_a_row_is_named(label: int) -> None:
    with pytest.raises(ValueError, match=rf"^label {label} has no proxy; .* \[3, 1000000000, "):
        class_rows(class_lookup(BIG), torch.tensor([3, label]))


@pytest.mark.parametrize(
    "make",
    [
        lambda classes: ProxyAnchorLoss(classes, 8),
        lambda classes: SoftTripleLoss(classes, 8, centers_per_class=2),
        lambda classes: MarginLoss(per_class_beta=True, classes=classes),
    ],
)
def test_large_class_ids_give_the_loss_of_the_renumbered_batch(make) -> None:  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(9, 8, generator=g), dim=1)
    rows = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    big, small = make(BIG), make([0, 1, 2])
    if isinstance(big, MarginLoss):  # betas set apart, so a wrong row changes the loss
        with torch.no_grad():
            big.beta.copy_(torch.tensor([0.9, 1.2, 1.5]))
    small.load_state_dict(big.state_dict())  # the same proxies / betas, row for row

    want = small(z, rows)
    got = big(z, torch.tensor(BIG)[rows])

    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda classes: ProxyAnchorLoss(classes, 8),
        lambda classes: SoftTripleLoss(classes, 8, centers_per_class=2),
        lambda classes: MarginLoss(per_class_beta=True, classes=classes),
    ],
)
def test_a_strided_view_of_labels_gives_no_warning_and_the_same_loss(make) -> None:  # type: ignore[no-untyped-def]
    # a long column view passes .long() and .to() unchanged, and searchsorted warned on it
    z = F.normalize(torch.randn(6, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    table = torch.tensor([[3, 7], [10**9, 7], [2**40, 7], [3, 7], [10**9, 7], [2**40, 7]])
    labels = table[:, 0]
    assert not labels.is_contiguous()
    loss = make(BIG)

    always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)  # torch gives this warning once a process, not once a test
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = loss(z, labels)
    finally:
        torch.set_warn_always(always)

    assert float(got.detach()) == float(loss(z, labels.contiguous()).detach())
