"""benchmarks/val_pseudo.py (issue 17's thirteenth SSL rule): the pseudo-labels against a naive
loop on a hand case, each arm of a real (tiny, synthetic) ``bench_ssl.finetune`` run labelling the
pool with its own fine-tuned network and retraining from its own start, and the fold's pool read
from the fold's training classes only."""

from __future__ import annotations

import sys

import pytest
import torch
from _bench_scripts import load_script, synthetic, synthetic_run_data

from siamkit.applications.ssl.data import SSLData
from siamkit.training import Trainer
from siamkit.training.config import ModelConfig


@pytest.fixture(scope="module")
def pl():
    return load_script("val_pseudo")


def naive_pseudo_labels(z_pool, z_lab, y_lab, per_class):
    """The rule's step 2, one image and one class at a time in plain Python."""

    def unit(v):
        n = sum(a * a for a in v) ** 0.5
        return [a / n for a in v]

    classes = sorted(set(y_lab))
    protos = {}
    for c in classes:
        members = [unit(z) for z, y in zip(z_lab, y_lab, strict=True) if y == c]
        protos[c] = unit([sum(col) / len(members) for col in zip(*members, strict=True)])
    picked = {c: [] for c in classes}
    for i, z in enumerate(z_pool):
        u = unit(z)
        sims = sorted(
            ((sum(a * b for a, b in zip(u, protos[c], strict=True)), c) for c in classes),
            key=lambda t: -t[0],
        )
        picked[sims[0][1]].append((sims[0][0] - sims[1][0], i))
    out = []
    for c in classes:
        ranked = sorted(picked[c], key=lambda t: (-t[0], t[1]))  # most confident, then pool order
        out += [(i, c) for _, i in ranked[:per_class]]
    return sorted(out)


def _as_pairs(idx, y):
    return list(zip(idx.tolist(), y.tolist(), strict=True))


def test_pseudo_labels_by_hand(pl) -> None:
    # labels of classes 3 and 7 (ids kept as they are); the prototypes point at x and at y
    z_lab = torch.tensor([[2.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 3.0]])
    y_lab = torch.tensor([3, 3, 7, 7])
    z_pool = torch.tensor(
        [
            [1.0, 0.0],  # 3, sure
            [0.0, 5.0],  # 7, sure
            [1.0, 0.9],  # 3, barely
            [0.5, 0.6],  # 7, barely
            [3.0, 0.2],  # 3, sure (a long vector: only the direction counts)
            [0.2, 1.0],  # 7
        ]
    )
    for m in (1, 2, 3, 10):
        idx, y = pl.pseudo_labels(z_pool, z_lab, y_lab, m)
        want = naive_pseudo_labels(z_pool.tolist(), z_lab.tolist(), y_lab.tolist(), m)
        assert _as_pairs(idx, y) == want
    # by hand: of class 3 the two surest are 0 and 4, of class 7 the two surest 1 and 5
    idx, y = pl.pseudo_labels(z_pool, z_lab, y_lab, 2)
    assert _as_pairs(idx, y) == [(0, 3), (1, 7), (4, 3), (5, 7)]
    # the labels are the labelled images' class ids, never an index into them
    assert set(y.tolist()) == {3, 7}


def test_pseudo_labels_against_the_naive_loop_at_random(pl) -> None:
    g = torch.Generator().manual_seed(0)
    z_pool, z_lab = torch.randn(200, 5, generator=g), torch.randn(12, 5, generator=g)
    y_lab = torch.tensor([0, 1, 4, 5]).repeat_interleave(3)
    for m in (5, 30, 100):
        idx, y = pl.pseudo_labels(z_pool, z_lab, y_lab, m)
        assert _as_pairs(idx, y) == naive_pseudo_labels(
            z_pool.tolist(), z_lab.tolist(), y_lab.tolist(), m
        )


def test_the_labelled_images_leave_the_pool(pl) -> None:
    pool = torch.arange(5 * 4, dtype=torch.uint8).reshape(5, 1, 2, 2)
    out = pl.images_not_in(pool, pool[[1, 3]])
    assert torch.equal(out, pool[[0, 2, 4]])


def _weights(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.fixture()
def tiny(pl, monkeypatch):
    """``bench_ssl.finetune`` on synthetic data of classes 0-3 whose test split holds 6-9, with a
    spy recording the network and data each Trainer gets, a small network shape, and M of 4 and
    8 images a class (the pool below holds 12 a class)."""
    bench = pl.bench_ssl
    data = synthetic_run_data()
    monkeypatch.setattr(bench, "load_run_data", lambda cfg, *a, **k: data)
    seen = []

    class Spy:
        @staticmethod
        def from_config(net, cfg, d, **k):
            seen.append((net, d, _weights(net).clone()))  # the start, before it trains
            return Trainer.from_config(net, cfg, d, **k)

    monkeypatch.setattr(bench, "Trainer", Spy)
    monkeypatch.setattr(pl, "PER_CLASS", {"pl 200": 4, "pl 1000": 8})
    mcfg = ModelConfig(encoder="convnet", encoder_kwargs={"widths": [4, 8]}, embedding_dim=8)
    shape = bench.build_model(mcfg, (1, 28, 28))
    pool_x, _ = synthetic((0, 1, 2, 3), 12, 7)
    vx, vy = synthetic((4, 5), 20, 3)
    return shape, seen, data, pool_x, vx, vy


@pytest.mark.parametrize("from_ssl", [True, False], ids=["ssl", "scratch"])
def test_each_arm_labels_with_its_own_network(pl, tiny, tmp_path, from_ssl) -> None:
    shape, seen, data, pool_x, vx, vy = tiny
    torch.manual_seed(5)
    with torch.no_grad():
        for p in shape.parameters():
            p.add_(torch.randn_like(p))  # weights no seeded init would give
    source = pl.save_model(shape, tmp_path / "model") if from_ssl else None
    # two of the labelled images are in the pool too: they must not be pseudo-labelled again
    pool = torch.cat([pool_x, data.train_x[[0, 25]]])
    rows = pl.arm_rows(0, source, shape, [0, 1, 2, 3], pool, vx, vy)
    assert list(rows) == ["ref", "pl 200", "pl 1000"]
    assert len(seen) == 3  # ref, then one fine-tune a candidate
    ref_net, ref_data, ref_start = seen[0]
    assert torch.equal(ref_data.train_x, data.train_x)  # ref: the 40 labels alone
    # the labeller: this arm's ref network as it came out of its fine-tune (the spy holds it)
    ref_net.eval()
    z_pool = pl.encode(ref_net, pool_x, device="cpu")
    z_lab = pl.encode(ref_net, data.train_x, device="cpu")
    for (_, d, _), m in zip(seen[1:], (4, 8), strict=True):
        want = naive_pseudo_labels(z_pool.tolist(), z_lab.tolist(), data.train_y.tolist(), m)
        n = data.train_x.shape[0]
        assert torch.equal(d.train_x[:n], data.train_x) and torch.equal(d.train_y[:n], data.train_y)
        got_x, got_y = d.train_x[n:], d.train_y[n:]
        assert torch.equal(got_x, pool_x[[i for i, _ in want]])
        assert got_y.tolist() == [c for _, c in want]
        assert d.test_y.numel() == 0 and d.test_x.shape[0] == 0  # no test image trained on
    # the candidates retrain from the arm's start (ref's, the SSL model's weights from SSL), not
    # from ref's fine-tuned network
    assert torch.equal(seen[1][2], ref_start) and torch.equal(seen[2][2], ref_start)
    assert torch.equal(ref_start, _weights(shape)) == from_ssl
    assert not torch.equal(_weights(ref_net), ref_start)
    assert sum(v for k, v in rows["pl 200"].items() if k.startswith("pseudo ")) <= 4 * 4


def test_the_labeller_matters(pl, tiny) -> None:
    # the check above can tell the arms' labellers apart: on this pool, the ref network's labels
    # and the untrained start's differ (were they equal, a script labelling with the wrong
    # network would pass it)
    shape, _, data, pool_x, _, _ = tiny
    start, tuned = pl.finetune_with_start(0, None, shape, ["data.train_classes=[0,1,2,3]", "train.classes_per_batch=4"])  # fmt: skip
    by = {}
    for name, net in (("start", start), ("tuned", tuned)):
        z_pool = pl.encode(net, pool_x, device="cpu")
        z_lab = pl.encode(net, data.train_x, device="cpu")
        by[name] = _as_pairs(*pl.pseudo_labels(z_pool, z_lab, data.train_y, 8))
    assert by["start"] != by["tuned"]


def test_pseudo_labels_of_another_class_are_refused(pl, tiny) -> None:
    shape, _, _, pool_x, _, _ = tiny
    sets = ["data.train_classes=[0,1,2,3]", "train.classes_per_batch=4"]
    with (
        pytest.raises(SystemExit, match=r"pseudo-labels \[2, 5\] outside"),
        pl.fine_tune_data(pool_x[:2], torch.tensor([2, 5])),
    ):
        pl.finetune_with_start(0, None, shape, sets)


def test_the_pool_is_the_folds_training_classes(pl, monkeypatch) -> None:
    # fold_pool reads the fold's SSL data (the SimCLR run's config) and refuses any other class
    ssl_val = sys.modules["ssl_val"]
    asked = []

    def load(cfg, holds=None):
        asked.append(cfg)
        x, _ = synthetic(tuple(cfg.train_classes), 3, 0)
        return SSLData(x, None, None, "synthetic", tuple(holds or cfg.train_classes), (6, 7))

    monkeypatch.setattr(ssl_val, "load_ssl_data", load)
    args = pl.argparse.Namespace(config="configs/simclr.yaml", epochs=6, seed=0, threads=1, limit=6000)  # fmt: skip
    pool = pl.fold_pool(args, [2, 5])
    assert tuple(asked[0].train_classes) == (0, 1, 3, 4) and asked[0].limit == 6000
    assert pool.shape[0] == 12
    # a loader that slipped a held-out class in is refused
    monkeypatch.setattr(ssl_val, "load_ssl_data", lambda cfg: load(cfg, (0, 1, 2, 3, 4)))
    with pytest.raises(SystemExit, match="not only"):
        pl.fold_pool(args, [2, 5])


def test_the_recorded_loads_hold_no_test_image(pl, monkeypatch):
    """The data ``fine_tune_data`` records as loaded has its test split (classes 6-9) emptied as
    it is read: it was recorded whole, so the test images stayed in memory through every
    fine-tune (s64_rq2 finding 1)."""
    import bench_ssl

    monkeypatch.setattr(bench_ssl, "load_run_data", lambda cfg, *a, **k: synthetic_run_data())
    with pl.fine_tune_data() as loads:
        data = bench_ssl.load_run_data(None)
    assert synthetic_run_data().test_x.shape[0] == 12
    assert loads[0].test_x.shape[0] == 0 and loads[0].test_y.numel() == 0
    assert data.test_x.shape[0] == 0
