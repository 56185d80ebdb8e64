"""``task: ssl`` end to end on scikit-learn's digits: bundles, exact resume, BYOL's target,
collapse, and bad input refused before anything is written."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from siamkit import load_model
from siamkit.applications.ssl.config import ssl_config_from_dict
from siamkit.applications.ssl.methods import SelfSupervised, SSLHeadConfig
from siamkit.applications.ssl.task import run
from siamkit.applications.ssl.trainer import CollapseError
from siamkit.cli.main import cli
from siamkit.encoders import create_encoder
from siamkit.export.bundle import read_model_config
from siamkit.models import SiameseNetwork
from siamkit.training.tasks import TaskOptions
from siamkit.training.trainer import Trainer

SMALL: dict[str, Any] = {
    "data": {"dataset": "digits"},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32, "pred_hidden": 8},
    "train": {"epochs": 2, "batch_size": 32, "steps_per_epoch": 3, "knn_k": 5, "device": "cpu"},
}
QUIET = TaskOptions(progress=False, log=lambda s: None)


def _cfg(method: str, **train: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SMALL)
    doc["method"] = method
    doc["train"].update(train)
    return doc


@pytest.mark.parametrize("method", ["simclr", "simsiam", "byol", "vicreg", "barlow_twins", "nnclr"])
def test_each_method_saves_a_plain_bundle(tmp_path: Path, method: str) -> None:
    summary = run(_cfg(method), tmp_path / "o", QUIET)
    assert summary.model_dir is not None
    net = load_model(summary.model_dir)
    assert isinstance(net, SiameseNetwork) and net.embedding_dim == 16
    keys = read_model_config(summary.model_dir)
    assert keys["metadata"]["self_supervised"]["method"] == method
    z = net.embed(torch.rand(3, 1, 8, 8))
    assert torch.allclose(z.norm(dim=1), torch.ones(3), atol=1e-5)
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert all(h["knn"] is not None and h["collapse_std"] > 0 for h in history)
    report = (tmp_path / "o" / "report.html").read_text()
    assert "id='collapse'" in report and "data:image/png;base64" in report


@pytest.mark.parametrize("method", ["byol", "nnclr"])
def test_resume_ends_with_the_same_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """BYOL's momentum target and NNCLR's queue of projections (64 rows: filled, then written
    from the top again within the first epoch) carry over a resume: same weights, same queue."""
    doc = _cfg(method)
    doc["ssl"]["queue_size"] = 64
    straight = run(doc, tmp_path / "a", QUIET)
    real_epoch = Trainer._epoch

    def stop_at_second(self: Trainer, epoch: int) -> float:
        if epoch == 1:
            raise KeyboardInterrupt
        return real_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "_epoch", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        run(doc, tmp_path / "b", QUIET)
    monkeypatch.setattr(Trainer, "_epoch", real_epoch)
    resumed = run(doc, tmp_path / "b", TaskOptions(resume=True, progress=False, log=lambda s: None))
    a, b = load_model(straight.model_dir), load_model(resumed.model_dir)  # type: ignore[arg-type]
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), name
    from siamkit.training.checkpoint import load_checkpoint

    sa, sb = (load_checkpoint(tmp_path / d / "checkpoint.pt")["model"] for d in "ab")
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    if method == "nnclr":  # the queue is in the checkpoint, and was written to
        assert sa["queue.bank"].shape == (64, 16) and int(sa["queue.position"]) == 0  # 6 x 32
        assert not torch.allclose(sa["queue.bank"].norm(dim=1), torch.ones(64))  # not the start


@pytest.mark.parametrize("cut", [0, 1])
def test_a_run_stopped_before_its_first_checkpoint_leaves_its_config_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    """Ctrl-C in the first epoch left history.json (the untrained epoch 0's row) beside
    config.yaml; an image run leaves config.yaml alone. After a checkpoint the history is kept."""
    real_epoch = Trainer._epoch

    def stopped(self: Trainer, epoch: int) -> float:
        if epoch == cut:
            raise KeyboardInterrupt
        return real_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "_epoch", stopped)
    with pytest.raises(KeyboardInterrupt):
        run(_cfg("simclr", epochs=2, steps_per_epoch=1), tmp_path / "o", QUIET)
    files = sorted(p.name for p in (tmp_path / "o").iterdir())
    if cut == 0:
        assert files == ["config.yaml"]
        return
    assert files == ["checkpoint.pt", "config.yaml", "history.json"]
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]


def test_byol_target_is_the_moving_average() -> None:
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 8)
    m = SelfSupervised(
        net, "byol", SSLHeadConfig(proj_dim=8, proj_hidden=16, pred_hidden=4, momentum=0.9)
    )
    assert m.target is not None
    before = {k: v.clone() for k, v in m.target.state_dict().items()}
    with torch.no_grad():
        for p in m.online.parameters():
            p.add_(1.0)
    m.after_step(step=0, total=10)  # cosine schedule at step 0: the base momentum
    online = m.online.state_dict()
    for key, value in m.target.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.9 * before[key] + 0.1 * online[key], atol=1e-6), key
    m.after_step(step=10, total=10)  # at the end the momentum is (nearly) 1: the target stays
    kept = {k: v.clone() for k, v in m.target.state_dict().items()}
    with torch.no_grad():
        for p in m.online.parameters():
            p.add_(1.0)
    m.after_step(step=10, total=10)
    assert all(torch.allclose(kept[k], v, atol=1e-5) for k, v in m.target.state_dict().items())
    assert not any(p.requires_grad for p in m.target.parameters())


def test_byol_target_follows_the_network_to_its_device() -> None:
    # the average starts where the network is built (the CPU); the trainer then moves the model
    # to the GPU: the first step must move the average too ("meta" stands in for "cuda")
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 8)
    m = SelfSupervised(net, "byol", SSLHeadConfig(proj_dim=8, proj_hidden=16, pred_hidden=4))
    m.to("meta")
    m.after_step(step=1, total=10)
    assert m.average is not None
    assert {v.device.type for v in m.average.state.values()} == {"meta"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_byol_trains_on_cuda(tmp_path: Path) -> None:
    summary = run(_cfg("byol", device="cuda", epochs=1), tmp_path / "byol", QUIET)
    assert summary.model_dir is not None and (summary.model_dir / "siamkit.json").is_file()


def test_collapse_stops_without_a_model(tmp_path: Path) -> None:
    doc = _cfg("simsiam")
    doc["ssl"]["collapse_std"] = 0.99  # just under the bound (~1): "collapsed" after epoch 1
    with pytest.raises(CollapseError, match="collapsed"):
        run(doc, tmp_path / "o", QUIET)
    assert not (tmp_path / "o" / "model").exists()
    assert len(json.loads((tmp_path / "o" / "history.json").read_text())) == 2


def test_a_collapsed_run_leaves_its_report(tmp_path: Path) -> None:
    """A run stopped on a collapse left only checkpoint.pt, config.yaml and history.json: the
    report's collapse monitor, the figure that shows it, was written only when nothing went
    wrong. It is now written, named in the error, and still no model."""
    doc = _cfg("simsiam")
    doc["ssl"]["collapse_std"] = 0.99  # just under the bound (~1): "collapsed" after epoch 1
    report = tmp_path / "o" / "report.html"
    with pytest.raises(CollapseError, match=f"; the curves: {re.escape(str(report))}$"):
        run(doc, tmp_path / "o", QUIET)
    page = report.read_text()
    assert "id='collapse'" in page and "data:image/png;base64" in page
    assert "no model saved" in page
    assert not (tmp_path / "o" / "model").exists()


def test_image_folder_without_classes(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    root.mkdir()
    gen = torch.Generator().manual_seed(0)
    for i in range(40):
        arr = (torch.rand(12, 12, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(root / f"{i}.png")
    doc = _cfg("vicreg", epochs=1)
    doc["data"] = {"dataset": "image-folder", "root": str(root), "image_size": 16}
    res = _cli(tmp_path, doc)
    assert res.exit_code == 0, res.output
    net = load_model(tmp_path / "o" / "model")
    assert net.input_shape == (3, 16, 16)
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["knn"] is None  # no labels, no kNN monitor
    assert re.search(r"^knn +-$", res.output, re.M), res.output  # said as "-", not "None"


def test_a_relative_data_root_is_recorded_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model recorded data.root as the config gave it ('imgs'), which names another folder
    (or none) once the working folder changes: evaluate run from elsewhere on the training
    folder no longer knew it. The run records it resolved too; the config keeps the user's."""
    root = tmp_path / "work" / "imgs"
    root.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    for i in range(40):
        arr = (torch.rand(12, 12, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(root / f"{i}.png")
    doc = _cfg("vicreg", epochs=1)
    doc["data"] = {"dataset": "image-folder", "root": "imgs", "image_size": 16}
    monkeypatch.chdir(root.parent)
    res = _cli(tmp_path, doc)
    assert res.exit_code == 0, res.output
    monkeypatch.chdir(tmp_path)
    meta = read_model_config(tmp_path / "o" / "model")["metadata"]
    assert meta["config"]["data"]["root"] == "imgs"
    assert meta["run"]["data_root"] == str(root.resolve())
    ev = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "o" / "model"), "--data", str(root)])
    assert ev.exit_code == 1
    assert "(the model learned from them without labels)" in " ".join(ev.output.split())


def _cli(tmp_path: Path, doc: dict[str, Any]) -> Any:
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"task": "ssl", **doc}))
    return CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )


def test_bad_input_is_one_sentence_and_writes_nothing(tmp_path: Path) -> None:
    res = _cli(tmp_path, _cfg("simclr", batch_size=1))
    assert res.exit_code != 0 and "train.batch_size must be a whole number >= 2" in res.output
    (tmp_path / "empty").mkdir()
    doc = _cfg("simclr")
    doc["data"] = {"dataset": "image-folder", "root": str(tmp_path / "empty")}
    res = _cli(tmp_path, doc)
    assert res.exit_code != 0 and "holds no images" in res.output
    res = _cli(tmp_path, {**_cfg("simclr"), "method": "moco"})
    assert res.exit_code != 0 and "method = 'moco' is not valid" in res.output
    assert not (tmp_path / "o").exists()
    assert "Traceback" not in res.output


def test_labels_other_than_none_are_refused() -> None:
    with pytest.raises(ValueError, match=r"data\.labels must be 'none'"):
        ssl_config_from_dict({"data": {"labels": "yes"}})
    assert math.isfinite(ssl_config_from_dict({}).ssl.temperature)


@pytest.mark.parametrize("section", ["optim", "train"])
def test_a_yaml_without_a_section_runs_the_dataclass_defaults(section: str) -> None:
    # the SSL optim default (adamw, lr 0.002, cosine) was only SSLConfig()'s: a YAML that gave no
    # optim section (or only some of its keys) trained on OptimConfig()'s onecycle at lr 0.003
    import dataclasses

    from siamkit.applications.ssl.config import SSLConfig

    read, default = getattr(ssl_config_from_dict({}), section), getattr(SSLConfig(), section)
    for f in dataclasses.fields(default):
        assert getattr(read, f.name) == getattr(default, f.name), f"{section}.{f.name}"
    if section == "optim":
        some = ssl_config_from_dict({"optim": {"lr": 0.001}}).optim  # the rest: SSLConfig()'s
        assert some == dataclasses.replace(default, lr=0.001)


def test_shipped_configs_load() -> None:
    import yaml

    from siamkit.training import load_config

    root = Path(__file__).resolve().parents[3] / "configs"
    doc = yaml.safe_load((root / "simclr.yaml").read_text())
    assert doc.pop("task") == "ssl" and ssl_config_from_dict(doc).method == "simclr"
    ft = load_config(root / "finetune.yaml")
    # the recipe benchmarks/bench_ssl.py measures: 10 labels a class, nothing frozen, Adam 5e-4
    assert ft.data.labels_per_class == 10 and ft.model.freeze_encoder_epochs == 0
    assert (ft.optim.optimizer, ft.optim.lr, ft.train.epochs) == ("adam", 0.0005, 10)
    # finetune.yaml --init-from an SSL model: both files must build the same network
    from siamkit.training import build_model

    ssl_net = build_model(ssl_config_from_dict(doc).model, (1, 28, 28), [0.5], [0.5])
    ft_net = build_model(ft.model, (1, 28, 28), [0.5], [0.5])
    assert isinstance(ssl_net, SiameseNetwork) and isinstance(ft_net, SiameseNetwork)
    shapes = [(k, v.shape) for k, v in ssl_net.state_dict().items()]
    assert shapes == [(k, v.shape) for k, v in ft_net.state_dict().items()]
    assert ssl_net.embedding_dim == ft_net.embedding_dim


def test_user_flow_ssl_then_evaluate_then_finetune(tmp_path: Path) -> None:
    doc = _cfg("simclr", epochs=1)
    doc["data"]["train_classes"] = [0, 1, 2, 3, 4, 5, 6]
    res = _cli(tmp_path, doc)
    assert res.exit_code == 0, res.output
    model = tmp_path / "o" / "model"
    ev = CliRunner().invoke(
        cli, ["evaluate", str(model), "--data", "digits", "--episodes", "20", "--json"]
    )
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.output)["data"]["n_classes"] == 3  # 7-9: the classes SSL never saw
    tiny = Path(__file__).resolve().parents[3] / "configs" / "digits-tiny.yaml"
    ft = CliRunner().invoke(cli, [
        "train", str(tiny), "--out", str(tmp_path / "ft"), "--no-progress", "--init-from", str(model),
        "--set", "train.epochs=1", "--episodes", "20",
    ])  # fmt: skip
    assert ft.exit_code == 0, ft.output


@pytest.mark.parametrize("method", ["barlow_twins", "nnclr"])
def test_a_config_naming_the_method_trains_and_evaluates(tmp_path: Path, method: str) -> None:
    """``siamkit train`` with ``method:`` in the YAML (1 epoch, 160 images), then ``siamkit
    evaluate`` loads the model; the collapse monitor recorded the embedding's std."""
    doc = _cfg(method, epochs=1, steps_per_epoch=None, monitor_images=60)
    doc["data"].update(limit=160, train_classes=[0, 1, 2, 3, 4, 5, 6])
    res = _cli(tmp_path, doc)
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"{method}: self-supervised"), res.output
    model = tmp_path / "o" / "model"
    assert read_model_config(model)["metadata"]["self_supervised"]["method"] == method
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]
    assert all(0 < h["collapse_std"] <= 1.5 for h in history)
    ev = CliRunner().invoke(
        cli, ["evaluate", str(model), "--data", "digits", "--episodes", "10", "--json"]
    )
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.output)["data"]["n_classes"] == 3


def test_overrides_set_the_method_and_keys() -> None:
    from siamkit.applications.ssl.config import apply_ssl_overrides

    doc = apply_ssl_overrides({"train": {"epochs": 1}}, ["method=vicreg", "train.batch_size=8"])
    cfg = ssl_config_from_dict(doc)
    assert (cfg.method, cfg.train.epochs, cfg.train.batch_size) == ("vicreg", 1, 8)


def test_ssl_can_start_from_a_model_that_fits_only(tmp_path: Path) -> None:
    first = run(_cfg("simclr", epochs=1), tmp_path / "a", QUIET)
    doc = _cfg("simclr", epochs=1)
    doc["model"]["embedding_dim"] = 8
    with pytest.raises(ValueError, match="embeds to 16 dimensions"):
        run(
            doc,
            tmp_path / "b",
            TaskOptions(progress=False, log=lambda s: None, init_from=str(first.model_dir)),
        )
    assert not (tmp_path / "b").exists()
    again = run(
        _cfg("byol", epochs=1),
        tmp_path / "c",
        TaskOptions(progress=False, log=lambda s: None, init_from=str(first.model_dir)),
    )
    assert again.metrics["epochs"] == 1


def test_a_run_from_a_model_says_so_and_its_resume_does_not(tmp_path: Path) -> None:
    """An ssl run with --init-from said nothing of it in its log (a supervised, text or tracker
    run says 'starting from the weights of MODEL'); its resume reads the checkpoint instead."""
    first = run(_cfg("simclr", epochs=1), tmp_path / "a", QUIET)
    said: list[str] = []
    start = TaskOptions(progress=False, log=said.append, init_from=str(first.model_dir))
    run(_cfg("simclr", epochs=1), tmp_path / "b", start)
    assert f"starting from the weights of {first.model_dir}" in said
    said.clear()
    resumed = TaskOptions(progress=False, log=said.append, resume=True)
    run(_cfg("simclr", epochs=2), tmp_path / "b", resumed)
    assert said and not any("starting from the weights" in s for s in said), said


def test_the_saved_model_embeds_with_the_backbone_and_the_monitor_measures_it(
    tmp_path: Path,
) -> None:
    from siamkit.applications.ssl.data import load_ssl_data
    from siamkit.applications.ssl.monitor import leave_one_out_knn
    from siamkit.encode import encode

    doc = _cfg("simclr")
    doc["model"]["embedding_dim"] = 12  # the training head's size; the backbone gives 16
    doc["ssl"]["embed"] = "backbone"
    summary = run(doc, tmp_path / "o", QUIET)
    assert summary.model_dir is not None
    net = load_model(summary.model_dir)
    assert isinstance(net, SiameseNetwork) and net.embedding_dim == 16
    assert summary.metrics["embed"] == "backbone, 16-d"
    assert (
        read_model_config(summary.model_dir)["metadata"]["self_supervised"]["embed"] == "backbone"
    )
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        pooled = torch.nn.functional.normalize(net.encoder(net.preprocess(x)), dim=1)
        assert torch.allclose(net.embed(x), pooled, atol=1e-6)
    # the kNN monitor's last figure is the saved model's leave-one-out kNN on the validation images
    data = load_ssl_data(ssl_config_from_dict(doc).data)
    assert data.val_x is not None and data.val_y is not None
    z = encode(net, data.val_x, device="cpu")
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert history[-1]["knn"] == pytest.approx(leave_one_out_knn(z, data.val_y, 5))

    doc["ssl"]["embed"] = "head"
    head = load_model(run(doc, tmp_path / "h", QUIET).model_dir)  # type: ignore[arg-type]
    assert isinstance(head, SiameseNetwork) and head.embedding_dim == 12


def test_backbone_embedding_keeps_the_taps_and_refuses_an_unknown_choice() -> None:
    from siamkit.applications.ssl.methods import embedding_network

    enc = create_encoder("convnet", in_channels=1, widths=[8, 16], taps=[0], tap_grids=[2])
    net = SiameseNetwork(enc, 6).eval()
    bb = embedding_network(net, "backbone")
    assert bb.embedding_dim == 16 + 8 * 2 * 2
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        feats = enc(net.preprocess(x))
        deep, taps = feats[:, :16], feats[:, 16:]
        want = torch.nn.functional.normalize(
            torch.cat([torch.nn.functional.normalize(deep, dim=1), taps], dim=1), dim=1
        )
        assert torch.allclose(bb.embed(x), want, atol=1e-6)
    assert embedding_network(net, "head") is net
    wide = embedding_network(net.double(), "backbone")  # made where the trained head is
    assert next(wide.head.parameters()).dtype == torch.float64
    assert wide.embed(x.double()).dtype == torch.float64
    with pytest.raises(ValueError, match=r"ssl\.embed = 'pooled' is not valid"):
        embedding_network(net, "pooled")
    with pytest.raises(ValueError, match=r"ssl\.embed = 'pooled' is not valid; choose backbone"):
        ssl_config_from_dict({"ssl": {"embed": "pooled"}})


def test_taps_kept_out_of_training_train_as_without_them_and_join_when_embedding(
    tmp_path: Path,
) -> None:
    """ConvNet taps with ``tap_train: false``: the SSL loss, the projector and the collapse
    monitor see the network without taps (same history, same weights); the saved model joins
    the taps of those weights when embedding."""
    plain = run(_cfg("simclr"), tmp_path / "a", QUIET)
    doc = _cfg("simclr")
    doc["model"]["encoder_kwargs"].update(taps=[0], tap_grids=[2], tap_train=False)
    tapped = run(doc, tmp_path / "b", QUIET)
    assert tapped.metrics["embed"] == "head + 32 tap features, 48-d"
    ha, hb = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("a", "b"))
    # equal up to float rounding (the zero taps change the normalisation's summation order)
    assert [h["loss"] for h in hb[1:]] == pytest.approx([h["loss"] for h in ha[1:]], rel=1e-5)
    assert [h["collapse_std"] for h in hb] == pytest.approx(
        [h["collapse_std"] for h in ha], rel=1e-4
    )
    a, b = load_model(plain.model_dir), load_model(tapped.model_dir)  # type: ignore[arg-type]
    assert isinstance(a, SiameseNetwork) and isinstance(b, SiameseNetwork)
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(va.float(), vb.float(), atol=1e-4), name
    assert b.embedding_dim == 16 + 8 * 2 * 2
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        za, zb = a.embed(x), b.embed(x)
        assert torch.allclose(torch.nn.functional.normalize(zb[:, :16], dim=1), za, atol=1e-4)
        taps = b.encoder(b.preprocess(x))[:, 16:]
        assert taps.abs().sum() > 0  # the taps are real features when embedding
        own = torch.nn.functional.normalize(b.head.proj(b.encoder(b.preprocess(x))[:, :16]), dim=1)
        joined = torch.nn.functional.normalize(torch.cat([own, taps], dim=1), dim=1)
        assert torch.allclose(zb, joined, atol=1e-6)


@pytest.mark.parametrize("embed", ["head", "backbone"])
def test_the_monitor_measures_the_saved_model(tmp_path: Path, embed: str) -> None:
    """The last epoch's kNN accuracy and collapse figure, recomputed from the saved model with
    naive loops: the kNN of the saved embedding over the labeled validation images; the collapse
    of the trained head's dimensions over the first ``monitor_images`` of them."""
    import numpy as np

    from siamkit.applications.ssl.data import load_ssl_data
    from siamkit.encode import encode

    doc = _cfg("simclr", monitor_images=40)
    doc["model"]["encoder_kwargs"].update(taps=[0], tap_grids=[2], tap_train=False)
    doc["ssl"]["embed"] = embed
    summary = run(doc, tmp_path / "o", QUIET)
    last = json.loads((tmp_path / "o" / "history.json").read_text())[-1]
    data = load_ssl_data(ssl_config_from_dict(doc).data)
    assert data.val_x is not None and data.val_y is not None and len(data.val_y) > 40
    net = load_model(summary.model_dir)  # type: ignore[arg-type]
    z = encode(net, data.val_x).double().numpy()
    y = data.val_y.numpy()
    sim = z @ z.T
    np.fill_diagonal(sim, -np.inf)
    hits = 0
    for i in range(len(y)):
        votes = np.bincount(y[np.argsort(-sim[i], kind="stable")[:5]], minlength=y.max() + 1)
        hits += int(np.argmax(votes) == y[i])
    assert last["knn"] == pytest.approx(hits / len(y), abs=1.5 / len(y))
    if embed == "head":  # the bundle is the trained head (+ taps): its first 16 dims
        head = z[:40, :16] / np.linalg.norm(z[:40, :16], axis=1, keepdims=True)
        want = head.std(axis=0, ddof=1).mean() * math.sqrt(16)
        assert last["collapse_std"] == pytest.approx(want, rel=1e-4)
