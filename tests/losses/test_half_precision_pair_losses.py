"""The pair losses give the float32 loss and gradient for bfloat16 embeddings.

A network run in bfloat16 without autocast hands the loss bfloat16 embeddings. Computed in that
precision a cosine is rounded by up to 2**-9, which circle loss's ``gamma = 256`` turns into a
whole unit of a logit, and contrastive's ``"hardest"`` pairs were chosen from a bfloat16 distance
matrix, where distances tie in steps of 2**-7. The gradients were off by 13% (contrastive
hardest), 11% (circle), 5% (lifted structure), 2.7% (tuplet margin), 1.7% (multi-similarity),
1.5% (supcon) and 1.2% (angular); all-pairs contrastive and N-pair were within bfloat16's own
0.2% and stay as controls. The reference is the same loss on the same (rounded) embeddings in
float32.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamkit.losses.registry import LOSSES

CASES = [
    ("contrastive", {}),
    ("contrastive", {"mining": "hardest"}),
    ("multi_similarity", {}),
    ("multi_similarity", {"mining": "multi_similarity"}),
    ("supcon", {}),
    ("circle", {}),
    ("lifted_structure", {}),
    ("angular", {}),
    ("tuplet_margin", {}),
    ("n_pairs", {}),
]


@pytest.mark.parametrize(("name", "settings"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_bfloat16_embeddings_give_the_float32_loss_and_gradient(
    name: str, settings: dict[str, str]
) -> None:
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(160, 16, generator=g), dim=1).to(torch.bfloat16)
    y = torch.arange(160) % 4

    half = z.clone().requires_grad_(True)
    got = LOSSES.build(name, **settings)(half, y)
    (g_half,) = torch.autograd.grad(got, [half])
    wide = z.float().requires_grad_(True)
    want = LOSSES.build(name, **settings)(wide, y)
    (g_wide,) = torch.autograd.grad(want, [wide])

    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=5e-3, abs=1e-4)
    # bfloat16 itself rounds each gradient entry by up to 2**-9 (0.2%)
    assert float((g_half.float() - g_wide).norm() / g_wide.norm()) < 0.01
