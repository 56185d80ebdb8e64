"""CoSENT, AnglE, multiple-negatives ranking, online contrastive and Matryoshka against sentence-transformers' losses on the
same embeddings, and against naive loops; the no-duplicates batch sampler's property; the seed
losses on cosine distances."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F

from siamkit.applications.text.losses import (
    angle_loss,
    cosent_loss,
    matryoshka_loss,
    mnrl_loss,
    online_contrastive_loss,
    text_contrastive_loss,
    text_triplet_loss,
    truncate_embeddings,
)
from siamkit.applications.text.pairs import NoDuplicatesBatchSampler

st_losses = pytest.importorskip("sentence_transformers.sentence_transformer.losses")


def _z(n: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, 12, generator=torch.Generator().manual_seed(seed)), dim=1)


@pytest.mark.parametrize("scale", [20.0, 5.0])
def test_cosent_equals_sentence_transformers(scale: float) -> None:
    raw = torch.randn(9, 12, generator=torch.Generator().manual_seed(0), requires_grad=True)
    za, zb = F.normalize(raw, dim=1), _z(9, 1)  # gradients through the L2 head, as in training
    scores = torch.tensor([0.1, 0.5, 0.5, 0.9, 0.0, 0.3, 1.0, 0.7, 0.2])
    ref = st_losses.CoSENTLoss(None, scale=scale).compute_loss_from_embeddings([za, zb], scores)
    ours = cosent_loss(za, zb, scores, scale)
    torch.testing.assert_close(ours, ref)
    (g_ours,) = torch.autograd.grad(ours, raw, retain_graph=True)
    (g_ref,) = torch.autograd.grad(ref, raw)
    torch.testing.assert_close(g_ours, g_ref)


@pytest.mark.parametrize(("scale", "dim"), [(20.0, 12), (5.0, 12), (20.0, 7)])
def test_angle_equals_sentence_transformers(scale: float, dim: int) -> None:
    g = torch.Generator().manual_seed(8)
    raw = torch.randn(9, dim, generator=g, requires_grad=True)
    za, zb = F.normalize(raw, dim=1), F.normalize(torch.randn(9, dim, generator=g), dim=1)
    scores = torch.tensor([0.1, 0.5, 0.5, 0.9, 0.0, 0.3, 1.0, 0.7, 0.2])
    ref = st_losses.AnglELoss(None, scale=scale).compute_loss_from_embeddings([za, zb], scores)
    ours = angle_loss(za, zb, scores, scale)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    (g_ours,) = torch.autograd.grad(ours, raw, retain_graph=True)
    (g_ref,) = torch.autograd.grad(ref, raw)
    torch.testing.assert_close(g_ours, g_ref, atol=1e-5, rtol=1e-5)


def test_angle_matches_a_naive_complex_formula() -> None:
    """Each row as D/2 complex numbers (re: the first half, im: the second): AnglE's similarity
    is |Re + Im| of Σ a_k conj(b_k); the loss is log(1 + Σ_{s_i > s_j} e^{scale (sim_j - sim_i)})."""
    za, zb = _z(4, 9)[:, :6], _z(4, 10)[:, :6]
    za, zb = F.normalize(za, dim=1), F.normalize(zb, dim=1)
    scores = [0.9, 0.1, 0.5, 0.1]
    sims = []
    for a, b in zip(za.tolist(), zb.tolist()):
        s = sum(complex(a[k], a[k + 3]) * complex(b[k], b[k + 3]).conjugate() for k in range(3))
        sims.append(abs(s.real + s.imag))
    terms = [
        math.exp(20 * (sims[j] - sims[i]))
        for i in range(4)
        for j in range(4)
        if scores[i] > scores[j]
    ]
    naive = math.log(1 + sum(terms))
    got = float(angle_loss(za, zb, torch.tensor(scores), 20.0))
    assert got == pytest.approx(naive, rel=1e-5)


@pytest.mark.parametrize("with_negatives", [False, True])
def test_mnrl_equals_sentence_transformers(with_negatives: bool) -> None:
    za, zp, zn = _z(8, 2), _z(8, 3), _z(8, 4)
    loss = st_losses.MultipleNegativesRankingLoss(None, scale=20.0)
    embs = [za, zp, zn] if with_negatives else [za, zp]
    ref = loss.compute_loss_from_embeddings(embs, torch.zeros(8))
    torch.testing.assert_close(mnrl_loss(za, zp, 20.0, zn if with_negatives else None), ref)


@pytest.mark.parametrize(
    "labels",
    [[1, 0, 1, 0, 1, 0, 0, 1, 1, 0], [1] * 10, [0] * 10],
    ids=["mixed", "positives", "negatives"],
)
def test_online_contrastive_equals_sentence_transformers(labels: list[int]) -> None:
    g = torch.Generator().manual_seed(11)
    raw = torch.randn(10, 12, generator=g, requires_grad=True)
    za, zb = F.normalize(raw, dim=1), F.normalize(torch.randn(10, 12, generator=g), dim=1)
    same = torch.tensor(labels, dtype=torch.float32)
    ref = st_losses.OnlineContrastiveLoss(None, margin=0.7).compute_loss_from_embeddings(
        [za, zb], same
    )
    ours = online_contrastive_loss(za, zb, same, 0.7)
    assert float(ours.detach()) > 0  # some pairs are hard: the comparison is not 0 == 0
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    (g_ours,) = torch.autograd.grad(ours, raw, retain_graph=True)
    (g_ref,) = torch.autograd.grad(ref, raw)
    torch.testing.assert_close(g_ours, g_ref, atol=1e-5, rtol=1e-5)


def test_online_contrastive_matches_a_naive_loop() -> None:
    """Cosine distances 0.1 and 0.6 (positives), 0.3 and 0.9 (negatives), margin 0.5: the
    positive 0.6 is past the closest negative (0.3), the negative 0.3 under the farthest
    positive (0.6); the others are easy: 0.6² + (0.5 - 0.3)²."""
    cos = [0.9, 0.4, 0.7, 0.1]
    za = torch.tensor([[1.0, 0.0]] * 4)
    zb = torch.tensor([[c, math.sqrt(1 - c * c)] for c in cos])
    same = torch.tensor([1.0, 1, 0, 0])
    got = float(online_contrastive_loss(za, zb, same, 0.5))
    assert got == pytest.approx(0.6**2 + 0.2**2, abs=1e-6)


class _StubST(torch.nn.Module):
    """A sentence-transformers model whose 'texts' are row numbers of a fixed embedding table,
    for wrapping ST's MatryoshkaLoss around ST's own losses."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sentence_embedding": self.table[features["idx"]]}

    def _get_untruncated_embedding_dimension(self) -> int:
        return int(self.table.shape[1])

    def get_embedding_dimension(self) -> int:
        return int(self.table.shape[1])


MATRYOSHKA_CASES = {  # loss.name -> (format, ST loss of the stub, label of a column set)
    "cosent": ("pairs", lambda m: st_losses.CoSENTLoss(m, scale=20.0)),
    "angle": ("pairs", lambda m: st_losses.AnglELoss(m, scale=20.0)),
    "online_contrastive": ("pairs", lambda m: st_losses.OnlineContrastiveLoss(m, margin=0.5)),
    "mnrl": ("triplets", lambda m: st_losses.MultipleNegativesRankingLoss(m, scale=20.0)),
}


@pytest.mark.parametrize("base", sorted(MATRYOSHKA_CASES))
def test_matryoshka_training_loss_equals_sentence_transformers(base: str) -> None:
    """The fine-tuning loss of ``loss: {name: matryoshka, base: ...}`` (batch_loss on a twin
    whose embeddings are a table's rows) against ST's MatryoshkaLoss around ST's loss of the
    same kind, on the same rows: value and gradient. Sizes given unsorted with their weights."""
    from siamkit.applications.text.pairs import TextExamples
    from siamkit.applications.text.train_config import parse_config
    from siamkit.applications.text.train_loop import batch_loss

    fmt, st_loss = MATRYOSHKA_CASES[base]
    cols = 2 if fmt == "pairs" else 3
    texts = [f"text {k}" for k in range(8 * cols)]
    raw = torch.randn(len(texts), 12, generator=torch.Generator().manual_seed(12))
    raw.requires_grad_(True)
    table = F.normalize(raw, dim=1)

    class Twin:
        share_weights = True

        def embed(self, batch: list[str]) -> torch.Tensor:
            return table[[texts.index(t) for t in batch]]

    labels = (
        [1.0, 0, 1, 1, 0, 0, 1, 0]
        if base == "online_contrastive"
        else [0.1, 0.5, 0.9, 0.0, 0.3, 1.0, 0.7, 0.2]
    )
    loss = {"name": "matryoshka", "base": base, "dims": [4, 12, 7], "weights": [2.0, 1.0, 0.5]}
    cfg = parse_config({"data": {"train": "x.csv", "format": fmt}, "loss": loss})
    columns = tuple(tuple(texts[c * 8 : (c + 1) * 8]) for c in range(cols))
    ex = TextExamples(fmt, columns, labels if fmt == "pairs" else None)
    ours = batch_loss(Twin(), cfg, ex)  # type: ignore[arg-type]
    stub = _StubST(table)
    ref_loss = st_losses.MatryoshkaLoss(stub, st_loss(stub), [4, 12, 7], [2.0, 1.0, 0.5])
    feats = [{"idx": torch.arange(c * 8, (c + 1) * 8)} for c in range(cols)]
    ref = ref_loss(feats, torch.tensor(labels) if fmt == "pairs" else torch.zeros(8))
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    (g_ours,) = torch.autograd.grad(ours, raw, retain_graph=True)
    (g_ref,) = torch.autograd.grad(ref, raw)
    torch.testing.assert_close(g_ours, g_ref, atol=1e-5, rtol=1e-5)


def test_matryoshka_matches_a_naive_sum_over_truncations() -> None:
    """Σ_k w_k · triplet loss on rows cut to dims[k] and re-normalised, by hand."""
    za, zp, zn = _z(5, 13), _z(5, 14), _z(5, 15)

    def cut(z: torch.Tensor, d: int) -> list[list[float]]:
        rows = [r[:d] for r in z.tolist()]
        return [[x / math.sqrt(sum(v * v for v in r)) for x in r] for r in rows]

    naive = 0.0
    for d, w in ((12, 1.0), (6, 0.5), (3, 2.0)):
        a, p, n = cut(za, d), cut(zp, d), cut(zn, d)
        dist = [
            (1 - sum(x * y for x, y in zip(a[i], p[i])), 1 - sum(x * y for x, y in zip(a[i], n[i])))
            for i in range(5)
        ]
        naive += w * sum(max(0.0, dp - dn + 0.2) for dp, dn in dist) / 5
    got = matryoshka_loss(
        [za, zp, zn], lambda zs: text_triplet_loss(*zs, margin=0.2), [12, 6, 3], [1.0, 0.5, 2.0]
    )
    assert float(got) == pytest.approx(naive, abs=1e-6)
    cut3 = truncate_embeddings(za, 3)
    assert cut3.shape == (5, 3) and torch.allclose(cut3.norm(dim=1), torch.ones(5))


def test_seed_losses_on_cosine_distance_match_naive_loops() -> None:
    za, zb, zn = _z(6, 5), _z(6, 6), _z(6, 7)
    same = torch.tensor([1.0, 0, 1, 0, 1, 0])
    d = [1 - float(za[i] @ zb[i]) for i in range(6)]
    naive = (
        sum(s * di**2 + (1 - s) * max(0.0, 0.5 - di) ** 2 for s, di in zip(same.tolist(), d)) / 6
    )
    assert float(text_contrastive_loss(za, zb, same, 0.5)) == pytest.approx(naive, abs=1e-6)
    dn = [1 - float(za[i] @ zn[i]) for i in range(6)]
    naive_t = sum(max(0.0, a - n + 0.2) for a, n in zip(d, dn)) / 6
    assert float(text_triplet_loss(za, zb, zn, 0.2)) == pytest.approx(naive_t, abs=1e-6)


def test_no_duplicates_sampler_never_repeats_a_text_and_covers_everything() -> None:
    rng = random.Random(0)
    pool = [f"t{i}" for i in range(25)]  # few distinct texts: many would-be duplicates
    rows = [(rng.choice(pool), rng.choice(pool)) for _ in range(200)]
    sampler = NoDuplicatesBatchSampler(rows, batch_size=8, seed=3)
    for _epoch in range(3):
        batches = list(sampler)
        seen = sorted(i for b in batches for i in b)
        assert seen == list(range(200))  # every example exactly once per epoch
        for b in batches:
            texts = [t for i in b for t in set(rows[i])]
            assert len(texts) == len(set(texts))
            assert 1 <= len(b) <= 8
    assert [len(b) for b in NoDuplicatesBatchSampler(rows, 8, seed=3)] != [] and list(
        NoDuplicatesBatchSampler(rows, 8, seed=3)
    ) == list(NoDuplicatesBatchSampler(rows, 8, seed=3))  # seeded


def test_the_training_loss_is_float32_under_bf16_autocast() -> None:
    """Fine-tuning runs the twin under bf16 autocast on a GPU; the loss itself must not: the
    scaled cosine logits (scale 20) came out in bf16 steps of 0.125. CPU autocast shows it."""
    from siamkit.applications.text.pairs import TextExamples
    from siamkit.applications.text.train_config import parse_config
    from siamkit.applications.text.train_loop import batch_loss

    texts = [f"text {k}" for k in range(16)]
    g = torch.Generator().manual_seed(0)
    table = F.normalize(torch.randn(len(texts), 32, generator=g), dim=1)

    class Twin:  # float32 embeddings, as the transformer's pooled output is normalised in float32
        share_weights = True

        def embed(self, batch: list[str]) -> torch.Tensor:
            return table[[texts.index(t) for t in batch]]

    fmt = "anchor_positive"  # multiple-negatives ranking: in-batch logits at scale 20
    cfg = parse_config({"data": {"train": "x.csv", "format": fmt}, "loss": {"name": "mnrl"}})
    ex = TextExamples(fmt, (tuple(texts[:8]), tuple(texts[8:])), None)
    want = batch_loss(Twin(), cfg, ex)  # type: ignore[arg-type]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = batch_loss(Twin(), cfg, ex)  # type: ignore[arg-type]
    assert got.dtype == torch.float32
    assert abs(float(got) - float(want)) < 1e-6
