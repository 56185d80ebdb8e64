"""The signature run's reference refusals count genuine signatures in their number: at
eval.references = 1 they said "more than eval.references = 1 genuine signatures" and "at most 1
genuine signatures each" (s60_c4's "Noticed")."""

from __future__ import annotations

import pytest
import torch

from siamkit.applications.signatures.task import _check_references
from siamkit.data.signature_set import SignatureSet


def _set(genuine: list[int], forged: list[int]) -> SignatureSet:
    writer = torch.tensor(
        [w for w, (g, f) in enumerate(zip(genuine, forged)) for _ in range(g + f)]
    )
    is_forged = torch.tensor([i >= g for g, f in zip(genuine, forged) for i in range(g + f)])
    return SignatureSet(torch.rand(len(writer), 1, 8, 8), writer, is_forged, ["a", "b"])


def test_at_most_one_genuine_signature_is_one() -> None:
    with pytest.raises(ValueError) as err:
        _check_references(_set([1, 1], [1, 1]), "test", 1)
    assert "the test writers have at most 1 genuine signature each and " in str(err.value)


def test_one_reference_is_one_genuine_signature() -> None:
    with pytest.raises(ValueError) as err:  # one writer evaluated, no skilled forgery of its own
        _check_references(_set([2, 1], [0, 1]), "validation", 1)
    assert "more than eval.references = 1 genuine signature, and it has no " in str(err.value)
