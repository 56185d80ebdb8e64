"""Cross-batch memory: values against pytorch-metric-learning's CrossBatchMemory and naive loops,
the FIFO memory's content, the warm-up, and the gradient."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _loss_runs import trains
from _pml import assert_same_as_peer, value_and_grads

from siamkit.losses import (
    AngularLoss,
    ContrastiveLoss,
    GeneralizedLiftedStructureLoss,
    MarginLoss,
    MultiSimilarityLoss,
    TripletMarginLoss,
    TupletMarginLoss,
)
from siamkit.losses.xbm import CrossBatchMemory, reference_loss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")

B, D, M = 12, 8, 20  # M is no multiple of B: the queue wraps mid-batch


def _batches(n: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        classes = torch.randperm(6, generator=g)[:3]
        y = classes.repeat_interleave(4)
        out.append((F.normalize(torch.randn(B, D, generator=g), dim=1), y))
    return out


def _pml_xbm(loss, miner):
    return pml_losses.CrossBatchMemory(loss, D, memory_size=M + B, miner=miner)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda: TripletMarginLoss(0.2, mining="batch_hard", reduction="nonzero"),
            lambda: (pml_losses.TripletMarginLoss(margin=0.2), pml_miners.BatchHardMiner()),
        ),
        (
            lambda: TripletMarginLoss(0.2, mining="semihard", reduction="nonzero"),
            lambda: (
                pml_losses.TripletMarginLoss(margin=0.2),
                pml_miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard"),
            ),
        ),
        (
            lambda: TripletMarginLoss(0.2, mining=None, reduction="nonzero"),
            lambda: (pml_losses.TripletMarginLoss(margin=0.2), None),
        ),
        (
            lambda: MultiSimilarityLoss(2.0, 50.0, 0.5, mining="multi_similarity"),
            lambda: (
                pml_losses.MultiSimilarityLoss(alpha=2.0, beta=50.0, base=0.5),
                pml_miners.MultiSimilarityMiner(epsilon=0.1),
            ),
        ),
    ],
    ids=["batch_hard", "semihard", "all", "multi_similarity"],
)
def test_values_and_memory_match_pml(ours, theirs) -> None:
    """Step by step the same loss as PML's CrossBatchMemory (whose queue of M + B also holds the
    current batch), and after each step our memory is the newest M entries of theirs."""
    xbm = CrossBatchMemory(ours(), D, memory_size=M)
    ref = _pml_xbm(*theirs())
    differs = 0
    for step, (z, y) in enumerate(_batches(6)):
        mine, their = xbm(z, y), ref(z, y)
        assert float(mine) == pytest.approx(float(their), abs=1e-5), f"step {step}"
        differs += abs(float(mine) - float(xbm.loss(z, y))) > 1e-4  # the memory counts
        n = min(M + B, (step + 1) * B)
        order = torch.arange(ref.queue_idx - n, ref.queue_idx) % (M + B)
        mem_z, mem_y = xbm.contents()
        assert torch.equal(mem_y, ref.label_memory[order][-M:])
        assert torch.allclose(mem_z, ref.embedding_memory[order][-M:])
    assert xbm.filled == M and differs >= 3


def _naive(z, y, mem_z, mem_y, strategy: str, margin: float = 0.2) -> torch.Tensor:
    """Triplets listed with loops: anchors the batch, candidates the batch (live) + the memory."""
    ref, ref_y = torch.cat([z, mem_z]), torch.cat([y, mem_y])
    hinges = []
    for a in range(z.shape[0]):
        d = [torch.linalg.vector_norm(z[a] - ref[j]) for j in range(ref.shape[0])]
        pos = [j for j in range(ref.shape[0]) if j != a and ref_y[j] == y[a]]
        neg = [j for j in range(ref.shape[0]) if ref_y[j] != y[a]]
        if strategy == "batch_hard":
            p = max(pos, key=lambda j: float(d[j].detach()))
            n = min(neg, key=lambda j: float(d[j].detach()))
            trip = [(p, n)]
        else:
            trip = [(p, n) for p in pos for n in neg]
            if strategy == "semihard":
                trip = [(p, n) for p, n in trip if 0 < float((d[n] - d[p]).detach()) < margin]
        hinges += [torch.relu(d[p] - d[n] + margin) for p, n in trip]
    h = torch.stack(hinges)
    return h[h > 0].mean()


@pytest.mark.parametrize("strategy", ["batch_hard", "semihard", "all"])
def test_value_and_gradient_match_a_naive_loop(strategy: str) -> None:
    """After the memory has filled: value and gradient (through the batch's anchors and its own
    candidates; the memory is detached) equal a loop over the listed triplets."""
    mining = None if strategy == "all" else strategy
    xbm = CrossBatchMemory(TripletMarginLoss(0.2, mining=mining, reduction="nonzero"), D, M)
    batches = _batches(4, seed=1)
    for z, y in batches[:3]:
        xbm(z, y)
    mem_z, mem_y = xbm.contents()
    z0, y = batches[3]
    z = (z0 * 1.5).requires_grad_(True)  # off the sphere: more triplets stay active
    loss = xbm(z, y)
    (grad,) = torch.autograd.grad(loss, z)
    zn = (z0 * 1.5).requires_grad_(True)
    naive = _naive(zn, y, mem_z, mem_y, strategy)
    (grad_naive,) = torch.autograd.grad(naive, zn)
    assert float(loss.detach()) == pytest.approx(float(naive.detach()), rel=1e-5)
    assert torch.allclose(grad, grad_naive, atol=1e-6)


def test_multi_similarity_and_contrastive_match_naive_loops() -> None:
    """Multi-similarity (all pairs) and contrastive (all pairs) against per-anchor loops."""
    batches = _batches(3, seed=2)
    ms = CrossBatchMemory(MultiSimilarityLoss(2.0, 50.0, 0.5), D, M)
    con = CrossBatchMemory(ContrastiveLoss(margin=1.0), D, M)
    for z, y in batches[:2]:
        ms(z, y), con(z, y)
    z, y = batches[2]
    for xbm in (ms, con):
        mem_z, mem_y = xbm.contents()
        ref, ref_y = torch.cat([z, mem_z]), torch.cat([y, mem_y])
        per_anchor, terms = [], []
        for a in range(B):
            others = [j for j in range(len(ref)) if j != a]
            if xbm is ms:
                s = {j: float(z[a] @ ref[j]) for j in others}
                pos = sum(math.exp(-2.0 * (s[j] - 0.5)) for j in others if ref_y[j] == y[a])
                neg = sum(math.exp(50.0 * (s[j] - 0.5)) for j in others if ref_y[j] != y[a])
                per_anchor.append(math.log1p(pos) / 2.0 + math.log1p(neg) / 50.0)
            else:
                for j in others:
                    d = float(torch.linalg.vector_norm(z[a] - ref[j]))
                    terms.append(d * d if ref_y[j] == y[a] else max(0.0, 1.0 - d) ** 2)
        naive = sum(per_anchor) / B if xbm is ms else sum(terms) / len(terms)
        assert float(xbm(z, y)) == pytest.approx(naive, rel=1e-5)


def test_warmup_is_the_plain_loss_and_fills_nothing() -> None:
    inner = TripletMarginLoss(0.2, mining="batch_hard")
    xbm = CrossBatchMemory(inner, D, M, warmup_steps=2)
    batches = _batches(3, seed=3)
    for z, y in batches[:2]:
        assert float(xbm(z, y)) == float(inner(z, y))
        assert xbm.filled == 0
    z, y = batches[2]
    xbm(z, y)
    assert xbm.steps == 3 and xbm.filled == B
    xbm.reset()
    assert xbm.steps == 0 and xbm.filled == 0


def test_state_dict_restores_the_memory_exactly() -> None:
    """A fresh module loaded with the state continues with the same values as the original."""
    batches = _batches(5, seed=4)
    a = CrossBatchMemory(TripletMarginLoss(0.2, mining="batch_hard"), D, M, warmup_steps=1)
    for z, y in batches[:3]:
        a(z, y)
    b = CrossBatchMemory(TripletMarginLoss(0.2, mining="batch_hard"), D, M, warmup_steps=1)
    b.load_state_dict(a.state_dict())
    for z, y in batches[3:]:
        assert float(a(z, y)) == float(b(z, y))
    assert torch.equal(a.contents()[0], b.contents()[0]) and a.steps == b.steps == 5


def test_bad_uses_say_what_is_wrong() -> None:
    from siamkit.losses import SupConLoss
    from siamkit.miners import SemiHardMiner

    with pytest.raises(TypeError, match="SupConLoss"):
        CrossBatchMemory(SupConLoss(), D, M)
    with pytest.raises(ValueError, match="distance_weighted"):
        CrossBatchMemory(TripletMarginLoss(mining="distance_weighted"), D, M)
    with pytest.raises(ValueError, match="memory_size"):
        CrossBatchMemory(TripletMarginLoss(), D, 0)
    xbm = CrossBatchMemory(TripletMarginLoss(0.2, mining=SemiHardMiner(margin=0.2)), D, M)
    z, y = _batches(1)[0]
    with pytest.raises(ValueError, match="4-d"):
        xbm(z[:, :4], y)
    with pytest.raises(ValueError, match="indices"):
        xbm(z, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))


# --- margin, lifted structure, angular and tuplet margin inside the memory -------------------

_PAIR_LOSSES = {  # ours, then PML's same loss and miner (None: all pairs)
    "margin": (
        lambda: MarginLoss(0.2, beta=1.2, learn_beta=False),
        lambda: (pml_losses.MarginLoss(margin=0.2, beta=1.2), None),
    ),
    "margin_learned_beta": (
        lambda: MarginLoss(0.2, beta=1.2, nu=0.1),
        lambda: (pml_losses.MarginLoss(margin=0.2, beta=1.2, nu=0.1, learn_beta=True), None),
    ),
    "margin_batch_hard": (
        lambda: MarginLoss(0.2, beta=1.2, learn_beta=False, mining="batch_hard"),
        lambda: (pml_losses.MarginLoss(margin=0.2, beta=1.2), pml_miners.BatchHardMiner()),
    ),
    "margin_semihard": (
        lambda: MarginLoss(0.2, beta=1.2, learn_beta=False, mining="semihard"),
        lambda: (
            pml_losses.MarginLoss(margin=0.2, beta=1.2),
            pml_miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard"),
        ),
    ),
    "lifted_structure": (
        lambda: GeneralizedLiftedStructureLoss(neg_margin=1.0, pos_margin=0.0),
        lambda: (pml_losses.GeneralizedLiftedStructureLoss(neg_margin=1.0, pos_margin=0.0), None),
    ),
    "angular": (
        lambda: AngularLoss(alpha=40.0),
        lambda: (pml_losses.AngularLoss(alpha=40), None),
    ),
    "tuplet_margin": (
        lambda: TupletMarginLoss(margin=0.1, scale=64.0),
        lambda: (pml_losses.TupletMarginLoss(margin=math.degrees(0.1), scale=64.0), None),
    ),
}


def _pml_live(loss, miner, z, y, mem_z, mem_y):
    """PML's loss over batch × (live batch + memory), with the pairs (or triplets) its
    CrossBatchMemory would mine, an anchor never its own positive."""
    from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

    ref, ref_y = torch.cat([z, mem_z]), torch.cat([y, mem_y])
    if miner is None:
        a1, p, a2, n = lmu.get_all_pairs_indices(y, ref_y)
        keep = a1 != p
        indices = (a1[keep], p[keep], a2, n)
    else:
        a, p, n = miner(z, y, ref, ref_y)
        keep = a != p
        indices = (a[keep], p[keep], n[keep])
    return loss(z, y, indices, ref, ref_y)


@pytest.mark.parametrize("name", list(_PAIR_LOSSES))
def test_pair_losses_match_pml_cross_batch_memory(name: str) -> None:
    """Margin, lifted structure, angular and tuplet margin: step by step the value of PML's
    CrossBatchMemory over the same loss (same memory, same batch); then, with the memory full,
    the value and gradient w.r.t. the batch both of PML's (memory and the batch's own candidates
    detached: `reference_loss` on a detached batch) and of PML's loss over the live batch plus
    the memory (ours: both ends of an in-batch pair train)."""
    ours, theirs = _PAIR_LOSSES[name]
    xbm = CrossBatchMemory(ours(), D, memory_size=M)
    peer_loss, peer_miner = theirs()
    peer = _pml_xbm(peer_loss, peer_miner)
    batches = [(z * 1.5, y) for z, y in _batches(5, seed=5)]  # normalised inside, with a gradient
    differs = 0
    for step, (raw, y) in enumerate(batches[:4]):
        z = F.normalize(raw, dim=1)
        mine, their = float(xbm(z, y).detach()), float(peer(z, y).detach())
        assert mine == pytest.approx(their, rel=1e-5, abs=1e-7), f"step {step}"
        differs += abs(mine - float(xbm.loss(z, y).detach())) > 1e-4  # the memory counts
    assert differs >= 2
    mem_z, mem_y = xbm.contents()
    raw, y = batches[4]
    full = value_and_grads(lambda x, lab: xbm(x, lab), raw, y)
    want_full = value_and_grads(
        lambda x, lab: _pml_live(peer_loss, peer_miner, x, lab, mem_z, mem_y), raw, y
    )
    assert_same_as_peer(*full, *want_full)
    anchors_only = value_and_grads(
        lambda x, lab: reference_loss(
            xbm.loss, x, lab, torch.cat([x.detach(), mem_z]), torch.cat([lab, mem_y])
        ),
        raw,
        y,
    )
    assert_same_as_peer(*anchors_only, *value_and_grads(lambda x, lab: peer(x, lab), raw, y))


def test_n_pairs_is_refused() -> None:
    """N-pairs classifies each anchor among one positive per class of the batch; a memory does
    not extend that (PML's NPairsLoss refuses reference embeddings too)."""
    from siamkit.losses import NPairsLoss

    with pytest.raises(TypeError, match="NPairsLoss"):
        CrossBatchMemory(NPairsLoss(), D, M)


@pytest.mark.parametrize(
    "sets",
    [
        ["loss.kind=margin", "loss.mining=null"],
        ["loss.kind=margin", "loss.mining=semihard"],
        ["loss.kind=lifted_structure", "loss.mining=null"],
        ["loss.kind=angular", "loss.mining=null"],
        ["loss.kind=tuplet_margin", "loss.mining=null"],
    ],
    ids=["margin", "margin_semihard", "lifted_structure", "angular", "tuplet_margin"],
)
def test_pair_losses_train_with_a_memory_from_the_config(sets: list[str]) -> None:
    """A tiny run with loss.xbm_memory_size set trains the encoder (and margin's beta) through
    the memory, which fills."""
    trainer = trains([*sets, "loss.xbm_memory_size=64"])
    assert isinstance(trainer.objective, CrossBatchMemory) and trainer.objective.filled == 64


@pytest.mark.parametrize(
    "make",
    [
        lambda: TripletMarginLoss(0.2, mining="batch_hard"),
        lambda: ContrastiveLoss(mining="hardest"),
        GeneralizedLiftedStructureLoss,
        TupletMarginLoss,
    ],
    ids=["triplet_batch_hard", "contrastive_hardest", "lifted_structure", "tuplet_margin"],
)
def test_bfloat16_embeddings_give_the_float32_loss_and_gradient(make) -> None:  # type: ignore[no-untyped-def]
    # bfloat16 matrices tie distances in steps of 2**-7 and round cosines by 2**-9: batch-hard
    # against the memory was 28% off in its gradient, contrastive hardest 13%, lifted structure
    # 9%, tuplet margin 4.5%
    g = torch.Generator().manual_seed(0)
    first, z = (F.normalize(torch.randn(160, 16, generator=g), dim=1) for _ in range(2))
    first, z, y = first.to(torch.bfloat16), z.to(torch.bfloat16), torch.arange(160) % 4
    out = []
    for dtype in (torch.bfloat16, torch.float32):  # float32: the same rounded embeddings
        xbm = CrossBatchMemory(make(), embedding_dim=16, memory_size=320)
        xbm(first.to(dtype), y)
        x = z.to(dtype).requires_grad_(True)
        value = xbm(x, y)
        (grad,) = torch.autograd.grad(value, [x])
        out.append((float(value.detach()), grad.float()))
    (got, g_half), (want, g_wide) = out

    assert got == pytest.approx(want, rel=5e-3)
    assert float((g_half - g_wide).norm() / g_wide.norm()) < 0.01
