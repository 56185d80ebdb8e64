"""benchmarks/val_proto.py (issue 20, round 16, prototypical episodes): the loss on a case computed
by hand, against a naive loop on random batches, the support/query split, and the objective
inside Trainer."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest
import torch
from _bench_scripts import load_script
from _naive_losses import naive_proto

from siamkit.encoders import create_encoder
from siamkit.models import SiameseNetwork
from siamkit.training import Trainer
from siamkit.training.batch_source import PKBatches


@pytest.fixture(scope="module")
def proto():
    return load_script("val_proto")


# Two classes, two supports each (S = 2), one query each:
#   supports of 0: (1, 0), (0, 1) -> prototype (0.5, 0.5); supports of 1: (-1, 0), (0, -1) ->
#   prototype (-0.5, -0.5). Query (1, 0) of class 0: d^2 = 0.5 to its own, 2.5 to the other;
#   query (0, 1) of class 1: d^2 = 0.5 to class 0's, 2.5 to its own. With scale s the
#   cross-entropies are log(1 + e^{-2s}) and log(1 + e^{2s}).
HAND_Z = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [0.0, 1.0]]
HAND_Y = [0, 1, 0, 1, 0, 1]


# If each query had also entered its own class's prototype, the prototypes would be the means of
# all three samples of a class: class 0's (2/3, 1/3), class 1's (-1/3, 0). Query (1, 0): d^2 =
# 2/9 to its own, 16/9 to the other; query (0, 1): d^2 = 8/9 to class 0's, 10/9 to its own; the
# cross-entropies log(1 + e^{-14s/9}) and log(1 + e^{2s/9}). LEAK_Z is the batch whose three
# supports a class (S = 3) are those three samples, and whose queries are the same two.
LEAK_Z = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]  # class 0: 3 supports, query
LEAK_Z += [[-1.0, 0.0], [0.0, -1.0], [0.0, 1.0], [0.0, 1.0]]  # class 1: 3 supports, query
LEAK_Y = [0, 0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("scale", [1.0, 16.0])
def test_the_loss_on_a_case_computed_by_hand(proto, scale: float) -> None:
    want = (math.log1p(math.exp(-2 * scale)) + math.log1p(math.exp(2 * scale))) / 2
    leaked = (math.log1p(math.exp(-14 * scale / 9)) + math.log1p(math.exp(2 * scale / 9))) / 2
    # the leaked figure is right: it is the code's loss on LEAK_Z with three supports
    three = proto.prototypical_loss(torch.tensor(LEAK_Z), torch.tensor(LEAK_Y), 3, scale)
    assert float(three) == pytest.approx(leaked, rel=1e-6)
    assert naive_proto(LEAK_Z, LEAK_Y, 3, scale) == pytest.approx(leaked, rel=1e-12)
    got = proto.prototypical_loss(torch.tensor(HAND_Z), torch.tensor(HAND_Y), 2, scale)
    assert float(got) != pytest.approx(leaked, rel=1e-3)  # no query entered its own prototype
    assert float(got) == pytest.approx(want, rel=1e-6)
    assert naive_proto(HAND_Z, HAND_Y, 2, scale) == pytest.approx(want, rel=1e-12)


def test_the_scale_of_the_input_does_not_matter(proto) -> None:
    z = torch.tensor(HAND_Z) * torch.tensor([[3.0], [0.5], [2.0], [7.0], [1.5], [4.0]])
    assert float(proto.prototypical_loss(z, torch.tensor(HAND_Y), 2, 1.0)) == pytest.approx(
        (math.log1p(math.exp(-2)) + math.log1p(math.exp(2))) / 2, rel=1e-6
    )


@pytest.mark.parametrize(("support", "seed"), [(1, 0), (1, 1), (5, 2), (5, 3)])
def test_the_loss_against_a_naive_loop(proto, support: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([3, 0, 7, 1] * 8)[torch.randperm(32, generator=g)]  # 4 classes x 8
    z = torch.randn(32, 5, generator=g, dtype=torch.float64)
    got = proto.prototypical_loss(z, labels, support, 16.0)
    want = naive_proto(z.tolist(), labels.tolist(), support, 16.0)
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_no_query_enters_a_prototype_and_supports_are_not_scored(proto) -> None:
    g = torch.Generator().manual_seed(4)
    labels = torch.tensor([0, 1, 2, 3] * 6)[torch.randperm(24, generator=g)]
    z = torch.randn(24, 5, generator=g, dtype=torch.float64)
    classes, is_support = proto.support_split(labels, 2)
    assert classes.tolist() == [0, 1, 2, 3] and int(is_support.sum()) == 8
    for c in range(4):  # each class's first two samples in batch order
        idx = (labels == c).nonzero().squeeze(1)
        assert is_support[idx].tolist() == [True, True, False, False, False, False]
    # The batch's loss is the mean over its 16 queries of each query's loss against the
    # supports alone (a batch of the 8 supports and that one query, the supports first). A
    # query that entered its own prototype, or a support scored as a query, breaks this.
    full = float(proto.prototypical_loss(z, labels, 2, 16.0))
    sup = is_support.nonzero().squeeze(1)
    alone = [
        float(
            proto.prototypical_loss(
                z[torch.cat([sup, i[None]])], labels[torch.cat([sup, i[None]])], 2, 16.0
            )
        )
        for i in (~is_support).nonzero().squeeze(1)
    ]
    assert len(alone) == 16 and full == pytest.approx(sum(alone) / 16, rel=1e-9)
    # and moving the queries anywhere leaves every prototype where the supports put it: the
    # gradient reaching a query is its own term's alone
    zq = z.clone().requires_grad_(True)
    proto.prototypical_loss(zq, labels, 2, 16.0).backward()
    for k, i in enumerate((~is_support).nonzero().squeeze(1)):
        zi = z.clone().requires_grad_(True)
        keep = torch.cat([sup, i[None]])
        proto.prototypical_loss(zi[keep], labels[keep], 2, 16.0).backward()
        assert torch.allclose(zq.grad[i], zi.grad[i] / 16, atol=1e-12), k


def test_a_class_short_of_supports_or_a_batch_without_queries_is_refused(proto) -> None:
    with pytest.raises(ValueError, match="class 1 has 1 sample in the batch, fewer than the 2 "):
        proto.prototypical_loss(torch.randn(4, 2), torch.tensor([0, 0, 0, 1]), 2, 16.0)
    with pytest.raises(
        ValueError, match=r"every sample of the batch is a support \(1 support a class\): no query"
    ):
        proto.prototypical_loss(torch.randn(2, 2), torch.tensor([0, 1]), 1, 16.0)


def fake_fold(proto, monkeypatch, batches: PKBatches, labels_per_class: int | None = None):
    """``start_fold`` giving a fold of ``batches`` whose trainer refuses to fit."""

    def fit() -> None:
        raise AssertionError(f"the fold trained with {trainer.objective}")

    trainer = SimpleNamespace(objective="T", fit=fit, batches=batches)
    cfg = SimpleNamespace(
        train=SimpleNamespace(samples_per_class=batches.k),
        data=SimpleNamespace(labels_per_class=labels_per_class),
    )
    monkeypatch.setattr(
        proto, "start_fold", lambda args, fold: SimpleNamespace(cfg=cfg, trainer=trainer)
    )
    return trainer


def pk(per_class: list[int], k: int) -> PKBatches:
    """P x K batches of ``len(per_class)`` classes holding ``per_class`` images each."""
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(per_class)])
    return PKBatches(torch.randn(len(y), 2), y, p=len(per_class), k=k, seed=0)


@pytest.mark.parametrize(("mode", "k"), [("s5", 5), ("s5", 3), ("s1", 1)])
def test_a_fold_whose_classes_leave_no_query_is_refused_before_training(
    proto, monkeypatch: pytest.MonkeyPatch, mode: str, k: int
) -> None:
    # --set train.samples_per_class=5 --proto s5 reached the user as the loss's traceback at the
    # first step; the fold now stops before training, in one sentence naming the option
    trainer = fake_fold(proto, monkeypatch, pk([48] * 4, k))
    support = proto.CANDIDATES[mode][0]
    sentence = (
        f"--proto {mode} takes {support} support{'s' if support > 1 else ''} a class and needs a "
        f"query: train.samples_per_class must be above {support}, got {k}"
    )
    with pytest.raises(SystemExit, match=f"^{re.escape(sentence)}$"):
        proto.run_fold(SimpleNamespace(proto=mode), [2, 5])
    assert trainer.objective == "T"


# s62_LR 1: K = 48 passed the check, but data.labels_per_class=5 keeps 5 images a class, so a
# batch holds 5 of each, all supports: the loss raised at the first step and told the user to
# raise train.samples_per_class (already 48). The check now takes what the batches hold.
@pytest.mark.parametrize(
    ("per_class", "k", "kept", "sentence"),
    [
        (
            [5, 5, 5, 5],
            48,
            5,
            "a batch holds 5 images of class 0, all its 5 training images "
            "(data.labels_per_class=5); raise data.labels_per_class above 5",
        ),
        (
            [5, 5, 5, 5],
            4,
            5,
            "train.samples_per_class (4) and data.labels_per_class (5) must both be above 5",
        ),
        (
            [9, 4, 9, 9],
            48,
            None,
            "a batch holds 4 images of class 1, all its 4 training images; the fold has no more "
            "images of it, so it cannot train this candidate",
        ),
        # 7 images at K = 6 are split 4 + 3 (ceil(7 / 6) chunks); at K = 7 they are one batch,
        # but the 9-image classes are then split 5 + 4 (and at K = 8): K = 9 holds every class
        (
            [9, 7, 9, 9],
            6,
            None,
            "a batch holds as few as 3 images of class 1, its 7 training images split into "
            "batches of up to train.samples_per_class=6; raise train.samples_per_class to 9",
        ),
        # 1,203 images at K = 6 are split into 201 chunks of 5 or 6 (1,203 // 201 = 5)
        (
            [1200, 1200, 1203, 1200],
            6,
            1200,
            "a batch holds as few as 5 images of class 2, its 1,203 training images "
            "(data.labels_per_class=1200) split into batches of up to "
            "train.samples_per_class=6; raise train.samples_per_class to 7",
        ),
    ],
)
def test_a_fold_whose_batches_hold_too_few_of_a_class_is_refused_before_training(
    proto, monkeypatch: pytest.MonkeyPatch, per_class, k: int, kept, sentence: str
) -> None:
    batches = pk(per_class, k)
    # the count the check takes is the one the sampler's batches hold (its plans, read here)
    plans = [batches.sampler.plan(e) for e in range(3)]
    y = batches.sampler.labels
    fewest = min(int((y[b] == c).sum()) for p in plans for b in p for c in set(y[b].tolist()))
    assert proto.smallest_class_in_a_batch(batches)[0] == fewest
    trainer = fake_fold(proto, monkeypatch, batches, kept)
    want = "--proto s5 takes 5 supports a class and needs a query: " + sentence
    with pytest.raises(SystemExit, match=f"^{re.escape(want)}$"):
        proto.run_fold(SimpleNamespace(proto="s5"), [2, 5])
    assert trainer.objective == "T"


def test_a_fold_with_a_query_a_class_trains(proto, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    trainer = SimpleNamespace(objective="T", batches=pk([6, 12, 6, 6], 6))  # 12: 6 + 6
    trainer.fit = lambda: seen.append(trainer.objective) or SimpleNamespace(history=[])
    run = SimpleNamespace(
        cfg=SimpleNamespace(
            train=SimpleNamespace(samples_per_class=6), data=SimpleNamespace(labels_per_class=6)
        ),
        trainer=trainer,
        result=lambda args, history: {"history": history},
    )
    monkeypatch.setattr(proto, "start_fold", lambda args, fold: run)
    assert proto.run_fold(SimpleNamespace(proto="s5"), [2, 5]) == {"history": []}
    assert len(seen) == 1 and (seen[0].support, seen[0].scale) == (5, 16.0)


def test_the_candidates_are_the_rules(proto) -> None:
    s1, s5 = proto.proto_objective("s1"), proto.proto_objective("s5")
    assert (s1.support, s1.scale) == (1, 16.0) and (s5.support, s5.scale) == (5, 16.0)
    with pytest.raises(ValueError, match="--proto must be one of s1, s5"):
        proto.proto_objective("none")


def test_inside_trainer_every_step_is_an_episode(proto) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(128, 4), torch.arange(4).repeat_interleave(32)
    seen: list[tuple[int, int]] = []
    objective = proto.proto_objective("s5")
    inner = objective.forward

    def counted(z, labels, indices=None):
        seen.append((len(labels), int(labels.unique().numel())))
        return inner(z, labels, indices)

    objective.forward = counted
    net = SiameseNetwork(create_encoder("mlp", in_features=4, hidden=(8,)), 3)
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    batches = PKBatches(x, y, p=4, k=8, steps_per_epoch=3, seed=0)
    history = Trainer(net, objective, opt, batches, epochs=2, progress=False).fit().history
    assert seen == [(32, 4)] * 6  # 2 epochs x 3 steps, each a 4-way episode of 8 a class
    assert all(math.isfinite(h["loss"]) for h in history)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
