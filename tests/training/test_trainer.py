"""Trainer behaviour on tiny digits runs: every loss kind, early stopping, best weights, validation."""

from __future__ import annotations

import warnings

import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from siamkit.distances import get_distance
from siamkit.evaluation import precision_at_1
from siamkit.heads import AppearanceFeatures
from siamkit.models import JoinedEmbedding, SiameseNetwork
from siamkit.training import Trainer, apply_overrides, embedding_model
from siamkit.training.checkpoint import load_checkpoint
from siamkit.training.validation import embedding_spread, one_shot_accuracy

ONE_EPOCH = ["train.epochs=1", "train.steps_per_epoch=3"]


def _parameters(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trainable weights alone: batch-norm statistics move without any optimiser step."""
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def _changed(net: torch.nn.Module, before: dict[str, torch.Tensor]) -> list[str]:
    return [k for k, v in net.named_parameters() if not torch.equal(v.detach().cpu(), before[k])]


def test_a_missing_optimizer_step_is_caught(make_net, tiny_cfg, tiny_data, monkeypatch) -> None:
    """With the optimiser's step a no-op, the batch-norm statistics still move (the forward
    passes ran), but no weight does: the check the loss-kind test uses sees that."""
    cfg = apply_overrides(tiny_cfg, ONE_EPOCH)
    net = make_net(cfg, tiny_data)
    weights, buffers = _parameters(net), {k: v.clone() for k, v in net.named_buffers()}
    trainer = Trainer.from_config(net, cfg, tiny_data, progress=False)
    monkeypatch.setattr(trainer.optimizer, "step", lambda *a, **k: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler stepped before the optimizer"
        trainer.fit()
    moved = [
        k
        for k, v in net.named_buffers()
        if v.is_floating_point() and not torch.equal(v.cpu(), buffers[k])
    ]
    assert any("running_mean" in k for k in moved)
    assert _changed(net, weights) == []


@pytest.mark.parametrize(
    "sets",
    [
        ["loss.kind=contrastive", "loss.margin=1.0", "loss.mining=hardest"],
        ["loss.kind=bce", "model.distance=mlp", "loss.mining=null"],
        ["loss.kind=multi_similarity", "loss.mining=auto"],
        ["loss.kind=supcon"],
        ["loss.kind=triplet", "loss.mining=semihard", "model.distance=mahalanobis"],
        [
            "loss.kind=triplet",
            "loss.mining=semihard",
            "loss.offline_mining=true",
            "loss.offline_pool=300",
        ],
        [
            "optim.optimizer=sgd",
            "optim.schedule=onecycle",
            "optim.grad_clip=1.0",
            "data.augmentation=standard",
        ],
    ],
    ids=[
        "contrastive",
        "bce",
        "multi_similarity",
        "supcon",
        "mahalanobis",
        "offline",
        "sgd-onecycle",
    ],
)
def test_every_objective_trains_and_changes_the_weights(
    make_net, tiny_cfg, tiny_data, sets
) -> None:
    cfg = apply_overrides(tiny_cfg, [*ONE_EPOCH, *sets])
    net = make_net(cfg, tiny_data)
    before = _parameters(net)
    result = Trainer.from_config(net, cfg, tiny_data, progress=False).fit()
    (row,) = result.history
    assert row["loss"] == row["loss"]  # finite, not NaN
    assert 0.0 <= row["val_metric"] <= 1.0
    changed = _changed(net, before)
    assert any("encoder" in k for k in changed)
    if cfg.model.distance in ("mlp", "mahalanobis"):
        assert any(k.startswith("distance.") for k in changed)  # the learned metric trains too


def test_early_stopping_and_restore_best(make_net, tiny_cfg, tiny_data, tmp_path) -> None:
    cfg = apply_overrides(
        tiny_cfg,
        [
            "train.epochs=6",
            "train.steps_per_epoch=2",
            "train.early_stopping=2",
            "train.restore_best=true",
        ],
    )
    net = make_net(cfg, tiny_data)
    scores, snapshots = iter([0.5, 0.9, 0.8, 0.7, 0.95, 0.99]), []

    def validate(n) -> float:
        snapshots.append({k: v.clone() for k, v in n.state_dict().items()})
        return next(scores)

    result = Trainer.from_config(
        net, cfg, tiny_data, out_dir=tmp_path, progress=False, validate=validate
    ).fit()
    assert result.stopped_early and len(result.history) == 4  # 0.8 and 0.7 did not beat 0.9
    assert result.best_epoch == 2 and result.best_metric == 0.9
    for k, v in net.state_dict().items():
        assert torch.equal(v, snapshots[1][k]), k
    assert load_checkpoint(tmp_path / "checkpoint.pt")["stopped"] is True
    # resuming a stopped run does not train further
    again = Trainer.from_config(
        make_net(cfg, tiny_data),
        cfg,
        tiny_data,
        out_dir=tmp_path,
        progress=False,
        validate=validate,
    )
    assert len(again.fit(resume=True).history) == 4


def test_same_seed_same_weights_other_seed_differs(make_net, tiny_cfg, tiny_data) -> None:
    cfg = apply_overrides(tiny_cfg, [*ONE_EPOCH, "data.augmentation=shift-flip"])

    def run(c):
        torch.manual_seed(0)
        net = make_net(c, tiny_data)
        Trainer.from_config(net, c, tiny_data, progress=False).fit()
        return net.state_dict()

    a, b = run(cfg), run(cfg)
    c = run(apply_overrides(cfg, ["train.seed=5"]))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_cuda_request_without_gpu_is_a_clear_error(make_net, tiny_cfg, tiny_data) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    cfg = apply_overrides(tiny_cfg, ["train.device=cuda"])
    with pytest.raises(ValueError, match="--device cpu"):
        Trainer.from_config(make_net(cfg, tiny_data), cfg, tiny_data, progress=False)


def test_precision_at_1_matches_sklearn_1nn() -> None:
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(60, 3, generator=g), torch.randint(0, 3, (60,), generator=g)
    ours = precision_at_1(z, y, get_distance("euclidean"))
    hits = 0
    for i in range(60):
        keep = torch.arange(60) != i
        knn = KNeighborsClassifier(1).fit(z[keep].numpy(), y[keep].numpy())
        hits += int(knn.predict(z[i : i + 1].numpy())[0] == y[i])
    assert ours == pytest.approx(hits / 60)


def test_one_shot_accuracy_extremes() -> None:
    y = torch.arange(5).repeat_interleave(10)
    separated = torch.nn.functional.one_hot(y, 5).float() * 10 + 0.01 * torch.randn(50, 5)
    assert one_shot_accuracy(separated, y, get_distance("euclidean"), n_way=5, episodes=50) == 1.0
    noise = torch.randn(50, 5)
    assert one_shot_accuracy(noise, y, get_distance("euclidean"), n_way=5, episodes=400) < 0.4


@pytest.mark.parametrize("offline", [False, True])
def test_appearance_out_of_the_loss_trains_the_network_alone(
    make_net, tiny_cfg, tiny_data, offline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``model.appearance.in_loss: false``: the trained weights are those of the same run without
    appearance features (same seed), offline mining included (it mines on the network too), and
    the features are never computed at a training step; the run's model is the network joined
    with them. With the features in the loss the weights differ (the loss sees them)."""
    base = apply_overrides(tiny_cfg, ONE_EPOCH + ["loss.offline_mining=true"] * offline)
    on = ["model.appearance={weight: 1.0, pool: 4}"]

    def run(sets):
        c = apply_overrides(base, sets)
        torch.manual_seed(0)
        net = make_net(c, tiny_data)
        Trainer.from_config(net, c, tiny_data, progress=False).fit()
        return net, c

    plain, _ = run([])
    out, out_cfg = run([*on, "model.appearance.in_loss=false"])
    inside, _ = run(on)
    assert isinstance(out, SiameseNetwork) and isinstance(inside, JoinedEmbedding)
    joined = embedding_model(out, out_cfg.model)
    assert isinstance(joined, JoinedEmbedding) and joined.net is out
    assert joined.embedding_dim == plain.embedding_dim + 4
    a, b, c = plain.state_dict(), out.state_dict(), inside.state_dict()
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)

    def no_features(self, x):
        raise AssertionError("appearance features computed during training")

    monkeypatch.setattr(AppearanceFeatures, "forward", no_features)
    run([*on, "model.appearance.in_loss=false", "train.val_metric=none"])  # completes
    with pytest.raises(AssertionError, match="during training"):
        run(on)  # the loss sees them: computed at every step
    with pytest.raises(ValueError, match="in_loss = false needs a fixed distance"):
        apply_overrides(base, [*on, "model.appearance.in_loss=false", "model.distance=mahalanobis"])


def test_embedding_spread_against_the_variance_formula() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 16, generator=g) + 3.0  # off-centre: spread well below 1
    naive = sum(float(((z[i] - z.mean(0)) ** 2).sum()) for i in range(len(z))) / sum(
        float((z[i] ** 2).sum()) for i in range(len(z))
    )
    assert embedding_spread(z) == pytest.approx(naive, rel=1e-6)
    assert embedding_spread(5 * z) == pytest.approx(naive, rel=1e-6)  # scale-free
    unit = torch.nn.functional.normalize(torch.randn(2000, 16, generator=g), dim=1)
    assert embedding_spread(unit) > 0.95
    assert embedding_spread(unit[:1].repeat(50, 1)) == pytest.approx(0.0, abs=1e-12)


def test_a_collapsed_embedding_is_reported(
    make_net, tiny_cfg, tiny_data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Learned embeddings spread out before training and all on one point after an epoch: the
    history records both spreads' drop and the log says what to try; a normal run says nothing."""
    import siamkit.training.from_config as trainer_mod

    cfg = apply_overrides(tiny_cfg, ONE_EPOCH)
    lines: list[str] = []
    hist = Trainer.from_config(
        make_net(cfg, tiny_data), cfg, tiny_data, progress=False, log=lines.append
    ).fit()
    assert hist.history[0]["spread"] > 0 and not any("collapsed" in line for line in lines)

    calls: list[int] = []

    def fake_embeddings(net, x, device, batch_size=512):
        calls.append(len(x))
        g = torch.Generator().manual_seed(0)
        z = torch.nn.functional.normalize(torch.randn(len(x), 16, generator=g), dim=1)
        return z if len(calls) == 1 else z[:1].repeat(len(x), 1) + 1e-4 * z

    monkeypatch.setattr(trainer_mod, "network_embeddings", fake_embeddings)
    two = apply_overrides(  # warn only: CollapseRecovery's own test is test_collapse_recovery.py
        tiny_cfg, ["train.epochs=2", "train.steps_per_epoch=3", "train.on_collapse=warn"]
    )
    hist = Trainer.from_config(
        make_net(two, tiny_data), two, tiny_data, progress=False, log=lines.append
    ).fit()
    assert len(calls) == 3 and all(h["spread"] < 1e-6 for h in hist.history)
    said = [line for line in lines if "collapsed" in line]
    assert len(said) == 1 and "epoch 1" in said[0] and "loss.mining=all" in said[0]  # said once
    calls.clear()
    with pytest.warns(RuntimeWarning, match="collapsed"):
        Trainer.from_config(make_net(cfg, tiny_data), cfg, tiny_data, progress=False).fit()


def test_a_collapse_that_recovers_is_reported_once_each_way(
    make_net, tiny_cfg, tiny_data, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spread, collapsed after epoch 1, spread again after epochs 2 and 3: one line for the
    collapse, one for the recovery."""
    import siamkit.training.from_config as trainer_mod

    calls: list[int] = []

    def fake_embeddings(net, x, device, batch_size=512):
        calls.append(len(x))
        g = torch.Generator().manual_seed(len(calls))
        z = torch.nn.functional.normalize(torch.randn(len(x), 16, generator=g), dim=1)
        return z[:1].repeat(len(x), 1) + 1e-4 * z if len(calls) == 2 else z

    monkeypatch.setattr(trainer_mod, "network_embeddings", fake_embeddings)
    cfg = apply_overrides(tiny_cfg, ["train.epochs=3", "train.steps_per_epoch=2"])
    lines: list[str] = []
    Trainer.from_config(
        make_net(cfg, tiny_data), cfg, tiny_data, progress=False, log=lines.append
    ).fit()
    said = [line for line in lines if "collapsed" in line or "spread out again" in line]
    assert len(calls) == 4 and len(said) == 2
    assert said[0].startswith("epoch 1: the learned embeddings have collapsed")
    assert said[1].startswith("epoch 2: the learned embeddings have spread out again")


def test_a_seeded_run_gives_the_same_weights_with_two_threads(
    make_net, tiny_cfg, tiny_data
) -> None:
    """A learned pair head gathers embeddings by index (``z[i]``), whose backward pass sums in a
    thread-dependent order unless PyTorch's deterministic kernels are on: two seeded runs with
    2 threads differed (1e-4 in the weights after 5 steps). ``fit`` turns them on for CPU
    training and restores the setting after."""
    cfg = apply_overrides(
        tiny_cfg,
        [
            "train.epochs=1",
            "train.steps_per_epoch=3",
            "train.samples_per_class=32",
            "train.threads=2",
            "model.embedding_dim=64",
            "loss.kind=bce",
            "model.distance=mlp",
        ],
    )
    threads = torch.get_num_threads()  # train.threads sets the process's
    try:
        runs = []
        for _ in range(2):
            torch.manual_seed(0)
            net = make_net(cfg, tiny_data)
            Trainer.from_config(net, cfg, tiny_data, progress=False).fit()
            runs.append(_parameters(net))
            assert not torch.are_deterministic_algorithms_enabled()  # the setting before
    finally:
        torch.set_num_threads(threads)
    assert runs[0].keys() == runs[1].keys()
    assert [k for k in runs[0] if not torch.equal(runs[0][k], runs[1][k])] == []
