"""``siamkit train`` with ``task: half_twin`` on synthetic paired vectors of two kinds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.models import HalfTwinNetwork


def _pairs(path, n_per=60, classes=6, seed=0):
    """x (N, 12) and y (N, 7): two different linear views of a class centre, plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 5))
    labels = np.repeat(np.arange(classes), n_per)
    wx, wy = rng.normal(size=(5, 12)), rng.normal(size=(5, 7))
    x = centres[labels] @ wx + 0.3 * rng.normal(size=(len(labels), 12))
    y = centres[labels] @ wy + 0.3 * rng.normal(size=(len(labels), 7))
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.float32), labels=labels)
    return x, y, labels


CONFIG = """task: half_twin
data: {{path: {path}, val_fraction: 0.25}}
model: {{encoder_f: {{name: mlp, kwargs: {{hidden: [32]}}}}, encoder_g: {{name: mlp, kwargs: {{hidden: [32]}}}}, embedding_dim: 8}}
loss: {{margin: 1.0}}
train: {{epochs: 15, batch_size: 64, lr: 0.003, seed: 0}}
"""


def _train(tmp_path, *extra):
    _pairs(tmp_path / "pairs.npz")
    cfg = tmp_path / "ht.yaml"
    cfg.write_text(CONFIG.format(path=tmp_path / "pairs.npz"))
    return CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run"), *extra])


def test_train_builds_a_half_twin_that_matches_across_kinds(tmp_path):
    res = _train(tmp_path)
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["half_twin"]
    assert metrics["val_p_at_1"] >= 0.9
    assert metrics["val_p_at_1"] > metrics["val_p_at_1_untrained"] + 0.2
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    # the printed table shows the untrained network's P@1 beside the trained one's (README)
    assert "val_p_at_1_untrained" in res.output
    net = siamkit.load_model(tmp_path / "run" / "model")
    assert isinstance(net, HalfTwinNetwork)
    x, y, labels = _pairs(tmp_path / "again.npz")  # same seed: the same rows
    with torch.inference_mode():
        zf = net.embed_f(torch.from_numpy(x).float()).numpy()
        zg = net.embed(torch.from_numpy(y).float(), branch="g").numpy()
    nearest = [int(np.argmin(((zg - q) ** 2).sum(1))) for q in zf]  # naive loop over all rows
    assert np.mean(labels[nearest] == labels) >= 0.9


def test_half_twin_bad_config_is_one_sentence(tmp_path):
    res = _train(tmp_path, "--set", "extra.key=1")
    assert res.exit_code != 0
    assert "unknown section 'extra' for task half_twin" in res.output
    assert res.output.rstrip().endswith("valid sections: data, loss, model, train")
    res = _train(tmp_path, "--resume")
    assert res.exit_code != 0 and "--resume and --init-from are not supported" in res.output
    np.savez(tmp_path / "pairs.npz", x=np.zeros((3, 2)))
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"task: half_twin\ndata: {{path: {tmp_path / 'pairs.npz'}}}\n")
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "bad")])
    assert res.exit_code != 0 and "missing arrays ['labels', 'y']" in res.output
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("frac", ["-0.1", "1.0"])
def test_val_fraction_is_checked(tmp_path, frac):
    res = _train(tmp_path, "--set", f"data.val_fraction={frac}")
    assert res.exit_code != 0 and "data.val_fraction is in [0, 1)" in res.output


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.batch_size=0", "train.batch_size must be an integer >= 2, got 0"),
        ("train.batch_size=1", "train.batch_size must be an integer >= 2, got 1"),
        ("data.val_fraction=0.998", "leaves 1 training row; training needs at least 2"),
        ("train.epochs=0", "train.epochs must be an integer >= 1, got 0"),
        ("train.epochs=abc", "train.epochs must be an integer >= 1, got 'abc'"),
        ("train.epochs=2.5", "train.epochs must be an integer >= 1, got 2.5"),
        ("train.lr=-1", "train.lr must be a number > 0, got -1"),
        ("loss.margin=x", "loss.margin must be a number > 0, got 'x'"),
    ],
)
def test_a_number_it_cannot_train_with_is_named(tmp_path, override, message):
    """It was Python's own words (range() arg 3 must not be zero), or, for epochs <= 0, an
    untrained model saved as if trained."""
    res = _train(tmp_path, "--set", override)
    assert res.exit_code != 0 and message in res.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("train.epoch=1", "'epoch' in section 'train' (did you mean 'epochs'?)"),
        (
            "model.embeding_dim=4",
            "'embeding_dim' in section 'model' (did you mean 'embedding_dim'?)",
        ),
    ],
)
def test_a_misspelt_key_is_refused_not_ignored(tmp_path, override, named):
    """Worded as every task's config check words it: the closest keys, then the valid ones."""
    res = _train(tmp_path, "--set", override)
    assert res.exit_code != 0 and f"unknown key {named}; valid keys: " in res.output
    assert not (tmp_path / "run").exists()


def test_torchrun_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    res = _train(tmp_path)
    assert (
        res.exit_code != 0
        and "run `siamkit train` without --nproc-per-node or torchrun" in res.output
    )
    assert not (tmp_path / "run").exists()


def test_a_gpu_asked_for_is_refused_not_ignored(tmp_path):
    res = _train(tmp_path, "--device", "cuda")
    assert res.exit_code != 0 and "task half_twin trains on the CPU" in res.output
    assert not (tmp_path / "run").exists()


def test_a_lone_last_row_of_an_epoch_is_not_a_batch(tmp_path):
    """270 training rows in batches of 269 left a batch of one row, on which batch norm stopped
    the run with torch's 'Expected more than 1 value per channel when training'."""
    res = _train(tmp_path, "--set", "train.batch_size=269", "--set", "train.epochs=1")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "model" / "siamkit.json").is_file()


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b""), "not a readable .npz file"),  # was click's "Aborted!"
        (lambda p: np.save(p, np.zeros((3, 3))), "an .npy file holds one array"),
    ],
)
def test_data_path_that_is_not_an_npz_is_one_sentence(tmp_path, write, message):
    bad = tmp_path / "bad.npy"
    write(bad)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"task: half_twin\ndata: {{path: {bad}}}\n")
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 1 and message in res.output, res.output
    assert "Aborted" not in res.output
    assert not (tmp_path / "run").exists()


def test_a_second_run_into_the_same_out_does_not_offer_resume(tmp_path):
    """A half-twin run leaves no checkpoint.pt, and --resume is refused for the task: the
    refusal of a second run offered it."""
    assert _train(tmp_path, "--set", "train.epochs=1").exit_code == 0
    res = _train(tmp_path, "--set", "train.epochs=1")
    assert res.exit_code == 2, res.output
    assert "already holds a run (model): start again with --overwrite" in res.output
    assert "--resume" not in res.output


@pytest.mark.parametrize("value", ["hamming", "3", "[cosine]", "null"])
def test_a_distance_it_does_not_know_is_named_with_the_key(tmp_path, value):
    """It was the registry's "unknown distance '3'", which named no key."""
    res = _train(tmp_path, "--set", f"model.distance={value}")
    assert res.exit_code != 0
    assert "model.distance must be one of cosine, euclidean, manhattan, sqeuclidean" in res.output
    assert res.output.count("\n") == 1 and not (tmp_path / "run").exists()


def test_a_run_whose_metrics_fail_leaves_no_model_without_them(tmp_path, monkeypatch):
    """The model was saved first: a run killed before metrics.json left a model with none."""
    from siamkit.applications.half_twin import task

    def fail(path, data):
        raise OSError("disk full")

    monkeypatch.setattr(task, "atomic_write", fail)
    res = _train(tmp_path, "--set", "train.epochs=1")
    assert res.exit_code != 0
    assert not (tmp_path / "run" / "model").exists()
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_the_written_config_trains_the_same_run_again(tmp_path):
    """OUT/config.yaml (task: half_twin, every default filled in, --set applied, the run's
    plug-ins) is written as an image run writes it: `siamkit train OUT/config.yaml` trains the
    same network again."""
    import yaml

    res = _train(tmp_path, "--set", "train.epochs=2")
    assert res.exit_code == 0, res.output
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["task"] == "half_twin" and "plugins" not in written
    assert written["train"] == {"epochs": 2, "batch_size": 64, "lr": 0.003, "seed": 0}
    assert written["model"]["distance"] == "euclidean"  # a default, written out
    assert written["data"] == {"path": str(tmp_path / "pairs.npz"), "val_fraction": 0.25}
    again = ["--plugin", "json", "train", str(tmp_path / "run" / "config.yaml"),
             "--out", str(tmp_path / "again")]  # fmt: skip
    res = CliRunner().invoke(cli, again)
    assert res.exit_code == 0, res.output
    first, second = (
        json.loads((tmp_path / name / "metrics.json").read_text())["half_twin"]
        for name in ("run", "again")
    )
    assert second["train_loss"] == pytest.approx(first["train_loss"])
    rewritten = yaml.safe_load((tmp_path / "again" / "config.yaml").read_text())
    assert rewritten == {"plugins": ["json"], **written}


def _image_pairs(path, n_per=12, classes=3, seed=0):
    """x (N, 1, 12, 12) and y (N, 1, 8, 8): a bright square whose place is the class, y inverted."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per)
    x = 0.1 * rng.random((len(labels), 1, 12, 12))
    y = 1 - 0.1 * rng.random((len(labels), 1, 8, 8))
    for i, c in enumerate(labels):
        x[i, 0, 4 * c : 4 * c + 4, 4 * c : 4 * c + 4] = 1
        y[i, 0, 2 * c + 1 : 2 * c + 3, :] = 0
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.float32), labels=labels)


def test_train_takes_images_of_two_sizes_for_an_image_half_twin(tmp_path):
    """x and y may be (N, C, H, W) images, each kind at its own size (they were refused as not
    (N, F)): each branch keeps its input shape, so enroll and identify read image files for it."""
    _image_pairs(tmp_path / "img.npz")
    conv = "{name: convnet, kwargs: {widths: [4, 8]}}"
    cfg = tmp_path / "img.yaml"
    cfg.write_text(
        f"task: half_twin\ndata: {{path: {tmp_path / 'img.npz'}, val_fraction: 0.25}}\n"
        f"model: {{encoder_f: {conv}, encoder_g: {conv}, embedding_dim: 4}}\n"
        "train: {epochs: 2, batch_size: 16}\n"
    )
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    net = siamkit.load_model(tmp_path / "run" / "model")
    assert isinstance(net, HalfTwinNetwork)
    assert net.preprocess_f.input_shape == (1, 12, 12)
    assert net.preprocess_g.input_shape == (1, 8, 8)
    # an mlp over images is one sentence naming the key and what to do
    cfg.write_text(cfg.read_text().replace(f"encoder_f: {conv}, ", ""))
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "bad")])
    assert res.exit_code != 0
    assert "model.encoder_f: mlp takes vectors but x holds images (1, 12, 12)" in res.output
    assert not (tmp_path / "bad").exists()


def test_images_outside_0_1_are_refused_before_training(tmp_path):
    """Images saved as 0..255 trained a model that CLI image files (read into [0, 1]) never
    matched; they are one sentence saying to save them in [0, 1], and no run folder is made."""
    _image_pairs(tmp_path / "img.npz")
    with np.load(tmp_path / "img.npz") as f:
        np.savez(tmp_path / "img.npz", x=f["x"], y=f["y"] * 255, labels=f["labels"])
    cfg = tmp_path / "img.yaml"
    conv = "{name: convnet}"
    cfg.write_text(
        f"task: half_twin\ndata: {{path: {tmp_path / 'img.npz'}}}\n"
        f"model: {{encoder_f: {conv}, encoder_g: {conv}}}\n"
    )
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code != 0
    assert "y holds images with values from" in res.output
    assert "save them in [0, 1] (e.g. divided by 255)" in res.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("n", "frac", "seed"), [(200, 0.2, 0), (37, 0.3, 5), (10, 0.0, 3)])
def test_a_runs_split_and_the_int8_checks_rows_are_one_draw(n, frac, seed):
    """The int8 check re-drew a half-twin run's validation rows with its own copy of the run's
    seeded split; both now call split_rows. The run's split is the one it drew before (a
    permutation from a generator seeded with train.seed, its first round(frac * n) held out),
    the check's rows are its validation rows, sorted, and split_rows leaves torch's global
    generator alone while the run still seeds it for the encoders' initial weights."""
    from siamkit.applications.half_twin.task import HalfTwinData, _split, split_rows
    from siamkit.cli._half_twin_check_data import validation_rows

    idx = torch.arange(n)
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    train_rows, val_rows = split_rows(n, frac, torch.Generator().manual_seed(seed))
    assert torch.equal(torch.get_rng_state(), before)

    tr, val = _split(HalfTwinData(idx, idx, idx), frac, {"seed": seed})
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))  # the run's draw
    assert torch.equal(val.labels, perm[: round(frac * n)])
    assert torch.equal(tr.labels, perm[round(frac * n) :])
    assert torch.equal(tr.labels, train_rows) and torch.equal(val.labels, val_rows)
    assert torch.equal(torch.get_rng_state(), torch.manual_seed(seed).get_state())
    assert torch.equal(validation_rows(n, frac, seed), val.labels.sort().values)
