"""benchmarks/val_proto_aux.py (issue 20, round 17, the tuplet loss with a prototypical term): the
objective against a naive loop of both terms on random batches, its gradient, the rule's
candidates, and the fold's objective (T's untouched under ``--aux none``)."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest
import torch
from _bench_scripts import load_script
from _naive_losses import naive_proto, naive_tuplet

from siamkit.encoders import create_encoder
from siamkit.losses import ContrastiveLoss, TupletMarginLoss
from siamkit.models import SiameseNetwork
from siamkit.training import Trainer
from siamkit.training.batch_source import PKBatches


@pytest.fixture(scope="module")
def aux():
    return load_script("val_proto_aux")


def random_batch(seed: int, per_class: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Four classes (labels 3, 0, 7, 1) of ``per_class`` shuffled samples, 5-d, float64."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([3, 0, 7, 1] * per_class)
    labels = labels[torch.randperm(len(labels), generator=g)]
    return torch.randn(len(labels), 5, generator=g, dtype=torch.float64), labels


@pytest.mark.parametrize(("mode", "seed"), [("w1", 0), ("w1", 1), ("w03", 2), ("w03", 3)])
def test_the_objective_against_a_naive_loop(aux, mode: str, seed: int) -> None:
    z, labels = random_batch(seed)
    weight, support, scale = aux.CANDIDATES[mode]
    objective = aux.aux_objective(mode, TupletMarginLoss(margin=0.1, scale=64.0))
    got = float(objective(z, labels))
    tuplet = naive_tuplet(z.tolist(), labels.tolist(), 0.1, 64.0)
    episode = naive_proto(z.tolist(), labels.tolist(), support, scale)
    assert got == pytest.approx(tuplet + weight * episode, rel=1e-6)
    # each term on its own, as the run's log reports them
    assert objective.parts[-1] == pytest.approx((tuplet, episode), rel=1e-6)
    # the prototypical term moves the total: the tuplet loss alone is not the objective
    assert abs(got - tuplet) > 0.05 * weight


def test_the_naive_loops_themselves(aux) -> None:
    # the tuplet loop agrees with siamkit's loss; the prototypical loop with round 16's
    z, labels = random_batch(4)
    assert naive_tuplet(z.tolist(), labels.tolist(), 0.1, 64.0) == pytest.approx(
        float(TupletMarginLoss(0.1, 64.0)(z, labels)), rel=1e-6
    )
    proto = load_script("val_proto")
    assert naive_proto(z.tolist(), labels.tolist(), 1, 16.0) == pytest.approx(
        float(proto.prototypical_loss(z, labels, 1, 16.0)), rel=1e-6
    )


def test_the_gradient_is_the_tuplets_plus_w_times_the_episodes(aux) -> None:
    z, labels = random_batch(5)
    base = TupletMarginLoss(0.1, 64.0)
    proto = load_script("val_proto")
    grads = []
    for f in (
        lambda q: aux.aux_objective("w03", base)(q, labels),
        lambda q: base(q, labels),
        lambda q: proto.prototypical_loss(q, labels, 1, 16.0),
    ):
        q = z.clone().requires_grad_(True)
        f(q).backward()
        grads.append(q.grad)
    assert torch.allclose(grads[0], grads[1] + 0.3 * grads[2], atol=1e-12)
    assert not torch.allclose(grads[0], grads[1], atol=1e-4)


def test_the_candidates_are_the_rules(aux) -> None:
    assert aux.CANDIDATES == {"w1": (1.0, 1, 16.0), "w03": (0.3, 1, 16.0)}
    with pytest.raises(ValueError, match="--aux must be one of w1, w03 here, got 'none'"):
        aux.aux_objective("none", TupletMarginLoss())
    with pytest.raises(SystemExit, match="not to ContrastiveLoss: run it with"):
        aux.aux_objective("w1", ContrastiveLoss())
    with pytest.raises(SystemExit, match=r"run it with loss\.mining=null"):
        aux.aux_objective("w1", TupletMarginLoss())(
            torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), []
        )


def fold(aux, monkeypatch: pytest.MonkeyPatch, batches: PKBatches):
    """``start_fold`` giving a fold of ``batches`` whose trainer records the objective it fits
    with (T's: a tuplet margin loss)."""
    seen = []
    trainer = SimpleNamespace(objective=TupletMarginLoss(0.1, 64.0), batches=batches)
    trainer.fit = lambda: seen.append(trainer.objective) or SimpleNamespace(history=[])
    run = SimpleNamespace(
        cfg=SimpleNamespace(
            train=SimpleNamespace(samples_per_class=batches.k, steps_per_epoch=50),
            data=SimpleNamespace(labels_per_class=None),
        ),
        trainer=trainer,
        log=lambda line: None,
        result=lambda args, history: {"history": history},
    )
    monkeypatch.setattr(aux, "start_fold", lambda args, fold: run)
    return seen


def pk(k: int) -> PKBatches:
    y = torch.arange(4).repeat_interleave(48)
    return PKBatches(torch.randn(len(y), 2), y, p=4, k=k, seed=0)


def test_none_trains_ts_objective_and_a_candidate_the_sum(
    aux, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = fold(aux, monkeypatch, pk(48))
    aux.run_fold(SimpleNamespace(aux="none"), [2, 5])
    assert len(seen) == 1 and type(seen[0]) is TupletMarginLoss
    seen = fold(aux, monkeypatch, pk(48))
    aux.run_fold(SimpleNamespace(aux="w03"), [2, 5])
    assert len(seen) == 1 and isinstance(seen[0], aux.AuxObjective)
    assert (seen[0].weight, seen[0].support, seen[0].scale) == (0.3, 1, 16.0)
    assert isinstance(seen[0].base, TupletMarginLoss)


def test_a_fold_whose_classes_leave_no_query_is_refused_before_training(
    aux, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = fold(aux, monkeypatch, pk(1))
    sentence = (
        "--aux w1 takes 1 support a class and needs a query: "
        "train.samples_per_class must be above 1, got 1"
    )
    with pytest.raises(SystemExit, match=f"^{re.escape(sentence)}$"):
        aux.run_fold(SimpleNamespace(aux="w1"), [2, 5])
    assert seen == []


def test_the_parts_line(aux) -> None:
    parts = [(4.0, 1.0), (2.0, 0.5), (1.0, 0.25), (0.5, 0.125)]
    assert aux.parts_line(parts, 2) == (
        "tuplet, prototypical: first step 4.000, 1.000; last 0.500, 0.125; "
        "mean of the last 2 steps 0.750, 0.188"
    )


def test_inside_trainer_every_step_takes_both_terms(aux) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(128, 4), torch.arange(4).repeat_interleave(32)
    objective = aux.aux_objective("w1", TupletMarginLoss(0.1, 64.0))
    net = SiameseNetwork(create_encoder("mlp", in_features=4, hidden=(8,)), 3)
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    batches = PKBatches(x, y, p=4, k=8, steps_per_epoch=3, seed=0)
    history = Trainer(net, objective, opt, batches, epochs=2, progress=False).fit().history
    assert len(objective.parts) == 6  # 2 epochs x 3 steps
    assert all(math.isfinite(a) and math.isfinite(b) and b > 0 for a, b in objective.parts)
    # each epoch's reported loss is the mean of its steps' totals, tuplet + 1 x prototypical
    for e, h in enumerate(history):
        steps = objective.parts[3 * e : 3 * e + 3]
        assert h["loss"] == pytest.approx(sum(a + b for a, b in steps) / 3, rel=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
