"""The int8 check's sentences count in the number a count takes, with the thousands separator
(s60_c4's "Noticed": "no writer has more than 1 genuine signatures", "1000 images in 1000
classes"). The inputs are built directly: no 1,000 files."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from siamkit.cli._int8_check import SignatureCheck, signature_change, too_few_images


def test_too_few_images_counts_its_images_and_classes_with_the_separator() -> None:
    said = too_few_images([*range(1000), 0])
    assert said is not None
    assert "1 genuine pair (1,001 images in 1,000 classes)" in said
    one = too_few_images([0, 0])
    assert one is not None and "1 genuine pair (2 images in 1 class)" in one


def test_one_reference_is_one_genuine_signature() -> None:
    sigs = SimpleNamespace(writer=torch.tensor([0, 1]), forged=torch.tensor([False, False]))
    check = SignatureCheck(sigs, references=1, reduce="mean", where="every writer of X")
    got = signature_change((None, None), check)["signatures"]
    assert got.startswith("no writer has more than 1 genuine signature, the references")
