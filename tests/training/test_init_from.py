"""model.init_from / --init-from, model.freeze_encoder_epochs and data.labels_per_class."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

import siamkit.experiment.run as run_mod
from siamkit import load_model, save_model
from siamkit.cli.main import cli
from siamkit.export.bundle import read_model_config
from siamkit.training import (
    RunConfig,
    RunData,
    Trainer,
    apply_overrides,
    build_model,
    load_run_data,
)
from siamkit.training.config_checks import check_config
from siamkit.training.init_from import freeze_encoder, init_from_model, labels_per_class_subset
from siamkit.training.trainer import seed_everything

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


@pytest.fixture(scope="module")
def source_model(
    tmp_path_factory: pytest.TempPathFactory, tiny_cfg: RunConfig, tiny_data: RunData, make_net
) -> Path:  # type: ignore[no-untyped-def]
    seed_everything(123)
    # input normalisation unlike the data's, so a copy that forgets it shows
    net = build_model(tiny_cfg.model, tiny_data.input_shape, mean=(0.7,), std=(0.2,))
    with torch.no_grad():  # batch-norm statistics that differ from a fresh network's too
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
    return save_model(net, tmp_path_factory.mktemp("src") / "model")


def test_init_from_embeds_exactly_as_the_source(
    source_model: Path, tiny_cfg: RunConfig, tiny_data: RunData, make_net
) -> None:  # type: ignore[no-untyped-def]
    seed_everything(0)
    net = make_net(tiny_cfg, tiny_data).eval()
    x = torch.rand(5, 1, 8, 8)
    src = load_model(source_model)
    assert not torch.allclose(net.embed(x), src.embed(x))  # different weights to begin with
    init_from_model(net, source_model)
    assert torch.allclose(net.embed(x), src.embed(x), atol=1e-6)


def test_a_model_that_does_not_fit_is_refused(
    source_model: Path, tiny_cfg: RunConfig, tiny_data: RunData, make_net
) -> None:  # type: ignore[no-untyped-def]
    cfg = apply_overrides(tiny_cfg, ["model.embedding_dim=8"])
    with pytest.raises(
        ValueError, match=r"embeds to 16 dimensions, this run's model\.embedding_dim is 8"
    ):
        init_from_model(make_net(cfg, tiny_data), source_model)
    wide = apply_overrides(tiny_cfg, ["model.encoder_kwargs={widths: [8, 32]}"])
    with pytest.raises(ValueError, match="encoder is built differently"):
        init_from_model(make_net(wide, tiny_data), source_model)


def test_a_refusal_names_the_saved_models_settings(
    source_model: Path, tiny_cfg: RunConfig, tiny_data: RunData, make_net
) -> None:  # type: ignore[no-untyped-def]
    """configs/demo.yaml --init-from an SSL model said 'embeds to 128 dimensions, this run's
    model.embedding_dim is 64' and, for an encoder, 'use the same ones as the saved model'
    without saying which: each sentence now gives the saved model's settings to copy."""
    where = str(source_model)
    cfg = apply_overrides(tiny_cfg, ["model.embedding_dim=8"])
    with pytest.raises(ValueError) as err:
        init_from_model(make_net(cfg, tiny_data), source_model)
    assert str(err.value) == (
        f"model.init_from: {where} embeds to 16 dimensions, this run's model.embedding_dim is "
        "8; set model.embedding_dim: 16 (--set model.embedding_dim=16) to start from it"
    )
    saved = read_model_config(source_model)["model"]["encoder"]
    kwargs = ", ".join(
        f"{k}: {v}".replace("'", "") for k, v in saved["kwargs"].items() if k != "in_channels"
    )
    wide = apply_overrides(tiny_cfg, ["model.encoder_kwargs={widths: [8, 32]}"])
    with pytest.raises(ValueError) as err:
        init_from_model(make_net(wide, tiny_data), source_model)
    assert str(err.value) == (
        f"model.init_from: {where}'s encoder is built differently from this run's "
        "model.encoder / model.encoder_kwargs; use the same ones as the saved model "
        f"(model.encoder: {saved['name']}, model.encoder_kwargs: {{{kwargs}}})"
    )
    deep = apply_overrides(tiny_cfg, ["model.head_hidden=[12]"])
    with pytest.raises(ValueError) as err:
        init_from_model(make_net(deep, tiny_data), source_model)
    assert str(err.value).endswith("use the same ones as the saved model (model.head_hidden: [])")
    # what the sentence gives is a config that starts from it
    copied = yaml.safe_load(f"{{{str(err.value).rsplit('(', 1)[1].rstrip(')')}}}")
    fits = apply_overrides(tiny_cfg, [f"model.head_hidden={copied['model.head_hidden']}"])
    init_from_model(make_net(fits, tiny_data), source_model)


def _tiny_yaml(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TINY.read_text() + extra)
    return cfg


def test_cli_refuses_another_input_shape_before_writing(tmp_path: Path, source_model: Path) -> None:
    # the source takes (1, 8, 8) digits; this run reads 3-channel 8x8 images from a folder
    from PIL import Image

    root = tmp_path / "imgs"
    for c in range(2):
        (root / str(c)).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (40 * i, 10 * c, 0)).save(root / str(c) / f"{i}.png")
    cfg = _tiny_yaml(tmp_path)
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, [
        "train", str(cfg), "--out", str(out), "--no-progress", "--init-from", str(source_model),
        "--set", f"data.root={root}", "--set", "data.dataset=image-folder", "--set", "data.image_size=8",
        "--set", "data.train_classes=null", "--set", "eval.shots=[1]",
    ])  # fmt: skip
    assert res.exit_code != 0
    # the folder read as the source's 1-channel images is the first way out (it named none)
    assert (
        f"Error: model.init_from: {source_model} takes inputs of shape (1, 8, 8), this run's "
        "data are (3, 8, 8); read an image folder at the model's shape (--set "
        "data.dataset=image-folder --set data.root=FOLDER --set data.train_classes=null --set "
        "data.image_size=8 --set data.grayscale=true), start from a model trained on inputs of this run's shape, or "
        "train without --init-from / model.init_from"
    ) in " ".join(res.output.split())
    assert not out.exists() and "Traceback" not in res.output
    res = CliRunner().invoke(cli, [
        "train", str(cfg), "--out", str(out), "--no-progress", "--init-from", str(source_model),
        "--set", f"data.root={root}", "--set", "data.dataset=image-folder", "--set", "data.image_size=8",
        "--set", "data.train_classes=null", "--set", "eval.shots=[1]", "--set", "data.grayscale=true",
        "--set", "train.epochs=1", "--episodes", "5",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_cli_fine_tunes_from_a_model(tmp_path: Path, source_model: Path) -> None:
    cfg = _tiny_yaml(tmp_path)
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, [
        "train", str(cfg), "--out", str(out), "--no-progress", "--init-from", str(source_model),
        "--set", "train.epochs=1", "--set", "data.labels_per_class=10", "--episodes", "20",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"starting from the weights of {source_model}" in res.output
    assert "init_from" in (out / "config.yaml").read_text()


@pytest.fixture
def started_run(
    tmp_path: Path, source_model: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, list[str]]:
    """A one-epoch run (no report: seconds) started --init-from a copy of ``source_model``: that
    copy, the run's folder, and the run's command line without --init-from."""
    monkeypatch.setattr(run_mod, "try_write_report", lambda *args, **kwargs: None)
    base = Path(shutil.copytree(source_model, tmp_path / "base"))
    out = tmp_path / "o"
    args = ["train", str(_tiny_yaml(tmp_path)), "--out", str(out), "--no-progress", "--episodes", "5"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--set", "train.epochs=1", "--init-from", str(base)])
    assert res.exit_code == 0, res.output
    return base, out, args


def _recorded_init_from(out: Path) -> tuple[str, str]:
    """The model.init_from of the run's config.yaml and of its saved bundle's metadata."""
    written = yaml.safe_load((out / "config.yaml").read_text())["model"]["init_from"]
    meta = read_model_config(out / "model")["metadata"]
    return written, meta["config"]["model"]["init_from"]


def test_a_resume_needs_no_init_from_and_records_it(
    started_run: tuple[Path, Path, list[str]],
) -> None:
    base, out, args = started_run
    res = CliRunner().invoke(cli, [*args, "--resume", "--set", "train.epochs=2"])
    assert res.exit_code == 0, res.output
    assert "starting from the weights" not in res.output  # the checkpoint's weights instead
    assert read_model_config(out / "model")["metadata"]["run"]["epochs_run"] == 2
    assert _recorded_init_from(out) == (str(base), str(base))


def test_a_resume_works_after_the_init_from_model_is_gone(
    started_run: tuple[Path, Path, list[str]], source_model: Path
) -> None:
    base, out, args = started_run
    shutil.rmtree(base)
    res = CliRunner().invoke(cli, [*args, "--resume", "--set", "train.epochs=2"])
    assert res.exit_code == 0, res.output
    assert _recorded_init_from(out) == (str(base), str(base))
    # the source's input normalisation came back with the checkpoint, not from the folder
    resumed, source = load_model(out / "model"), load_model(source_model)
    assert resumed.preprocess.state_dict().keys() == source.preprocess.state_dict().keys()
    for k, v in source.preprocess.state_dict().items():
        assert torch.equal(resumed.preprocess.state_dict()[k], v), k
    # the same --init-from given again is fine, though it is gone
    res = CliRunner().invoke(cli, [*args, "--resume", "--set", "train.epochs=2", "--init-from", str(base)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _recorded_init_from(out) == (str(base), str(base))


def test_a_resume_from_another_model_is_refused(
    started_run: tuple[Path, Path, list[str]], source_model: Path
) -> None:
    base, out, args = started_run
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    res = CliRunner().invoke(cli, [*args, "--resume", "--init-from", str(source_model)])
    assert res.exit_code == 1, res.output
    assert (
        f"Error: the checkpoint's run started from --init-from / model.init_from {base}, not {source_model}: "
        "resume without --init-from" in res.output
    )
    assert "Traceback" not in res.output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_a_missing_init_from_is_refused_when_a_run_starts(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(_tiny_yaml(tmp_path)), "--out", str(out),
                                   "--init-from", str(tmp_path / "gone")])  # fmt: skip
    assert res.exit_code == 2 and "Invalid value for '--init-from': no saved model at" in res.output
    assert not out.exists()


def test_freeze_keeps_the_encoder_for_n_epochs(
    tiny_cfg: RunConfig, tiny_data: RunData, make_net
) -> None:  # type: ignore[no-untyped-def]
    def train(
        epochs: int, frozen: int
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.nn.Module]:
        cfg = apply_overrides(
            tiny_cfg,
            [
                f"train.epochs={epochs}",
                f"model.freeze_encoder_epochs={frozen}",
                "train.val_metric=none",
            ],
        )
        seed_everything(0)
        net = make_net(cfg, tiny_data)
        enc = {k: v.clone() for k, v in net.encoder.state_dict().items()}
        head = {k: v.clone() for k, v in net.head.state_dict().items()}
        Trainer.from_config(net, cfg, tiny_data, progress=False).fit()
        return enc, head, net

    enc, head, net = train(epochs=1, frozen=1)
    for k, v in net.encoder.state_dict().items():  # weights and batch-norm statistics
        assert torch.equal(v.cpu(), enc[k]), k  # .cpu(): the trainer may use a GPU
    assert any(not torch.equal(v.cpu(), head[k]) for k, v in net.head.state_dict().items())
    assert all(p.requires_grad for p in net.encoder.parameters())  # released at the end
    enc, _, net = train(epochs=2, frozen=1)
    assert any(not torch.equal(v.cpu(), enc[k]) for k, v in net.encoder.state_dict().items())


def test_freezing_the_encoder_for_the_whole_run_is_noted_at_the_start(tmp_path: Path) -> None:
    """model.freeze_encoder_epochs >= train.epochs trained only the head without a word (allowed:
    it may be meant, so a note, not a refusal)."""
    note = "the encoder stays frozen for the whole run: only the head trains"
    args = ["train", str(TINY), "--no-progress", "--episodes", "2"]
    args += ["--set", "train.epochs=1", "--set", "train.steps_per_epoch=1"]
    res = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "a"), "--set", "model.freeze_encoder_epochs=2"]
    )
    assert res.exit_code == 0, res.output
    said = (
        "note: model.freeze_encoder_epochs = 2 covers all train.epochs = 1, so the encoder stays "
        "frozen for the whole run: only the head trains\n"
    )
    assert res.output.count(said) == 1
    assert res.output.index(said) < res.output.index("training on")  # at the start
    res = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "b"), "--set", "train.epochs=2",
              "--set", "model.freeze_encoder_epochs=1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert note not in res.output


def test_freezing_the_encoder_for_the_first_epochs_is_said_at_the_start(tmp_path: Path) -> None:
    """model.freeze_encoder_epochs below train.epochs left no trace in the run's lines: a user
    who set it to freeze a started model's backbone could not tell that it took."""
    args = ["train", str(TINY), "--no-progress", "--episodes", "2", "--out", str(tmp_path / "a")]
    args += ["--set", "train.epochs=3", "--set", "train.steps_per_epoch=1"]
    res = CliRunner().invoke(cli, [*args, "--set", "model.freeze_encoder_epochs=2"])
    assert res.exit_code == 0, res.output
    said = (
        "the encoder stays frozen for the first 2 of 3 epochs (model.freeze_encoder_epochs): "
        "only the head trains until epoch 3\n"
    )
    assert res.output.count(said) == 1, res.output
    assert res.output.index(said) < res.output.index("training on")  # at the start


def test_freeze_hook_is_removed() -> None:
    from siamkit.encoders import create_encoder
    from siamkit.models import SiameseNetwork

    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4]), 4).train()
    freeze_encoder(net, True)
    freeze_encoder(net, True)
    net.embed(torch.rand(2, 1, 8, 8))
    assert not net.encoder.training and net.head.training
    freeze_encoder(net, False)
    net.embed(torch.rand(2, 1, 8, 8))
    assert net.encoder.training and all(p.requires_grad for p in net.encoder.parameters())


def test_labels_per_class_subset(tiny_cfg: RunConfig) -> None:
    y = torch.tensor([0] * 10 + [1] * 4 + [2] * 7)
    pick = labels_per_class_subset(y, 3, seed=0)
    assert torch.bincount(y[pick]).tolist() == [3, 3, 3]
    assert torch.equal(pick, labels_per_class_subset(y, 3, seed=0))
    assert not torch.equal(pick, labels_per_class_subset(y, 3, seed=1))
    with pytest.raises(
        ValueError,
        match=r"labels_per_class = 5 is more than class 1 has \(4 training images\): set it to at most 4$",
    ):
        labels_per_class_subset(y, 5, seed=0)
    data = load_run_data(dataclasses.replace(tiny_cfg.data, labels_per_class=10))
    assert torch.bincount(data.train_y).tolist() == [10] * 6
    full = load_run_data(tiny_cfg.data)
    assert torch.equal(data.val_y, full.val_y)  # the validation hold-out does not move


@pytest.mark.parametrize("k", [0, -2])
def test_labels_per_class_subset_refuses_k_below_one_as_check_config_does(
    tiny_cfg: RunConfig, k: int
) -> None:
    """It said 'data.labels_per_class must be at least 1, got 0', where check_config words the
    same key through siamkit.params.count (30e5188); both now give that one sentence."""
    said = f"data.labels_per_class must be a whole number >= 1 (or null for every label), got {k}."
    with pytest.raises(ValueError) as err:
        labels_per_class_subset(torch.tensor([0, 0, 1, 1]), k, seed=0)
    assert str(err.value) == said
    with pytest.raises(ValueError) as err:
        check_config(
            dataclasses.replace(
                tiny_cfg, data=dataclasses.replace(tiny_cfg.data, labels_per_class=k)
            )
        )
    assert str(err.value) == said


def test_cli_refuses_too_many_labels_per_class(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(_tiny_yaml(tmp_path)), "--out", str(out), "--no-progress",
                                   "--set", "data.labels_per_class=1000"])  # fmt: skip
    assert res.exit_code != 0 and "data.labels_per_class = 1000 is more than class" in res.output
    assert not out.exists()


def test_cli_refuses_a_limit_below_the_labels_per_class(tmp_path: Path) -> None:
    """data.limit = 30 with data.labels_per_class = 10 of 6 classes trained on 5 a class without
    a word (the limit applied after the per-class draw): refused, nothing written."""
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(_tiny_yaml(tmp_path)), "--out", str(out), "--no-progress",
                                   "--set", "data.labels_per_class=10", "--set", "data.limit=30"])  # fmt: skip
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert (
        "Error: data.limit = 30 is fewer than the 60 images data.labels_per_class = 10 keeps (10 of "
        "each of the 6 training classes), so the run would train on about 5 a class: drop one of "
        "the two keys" in res.output
    )
    assert not out.exists()


def test_a_limit_of_every_kept_label_trains_on_them(tiny_cfg: RunConfig) -> None:
    data = load_run_data(dataclasses.replace(tiny_cfg.data, labels_per_class=10, limit=60))
    assert torch.bincount(data.train_y).tolist() == [10] * 6
    # more labels than a class has is still said as it was, a limit or not
    with pytest.raises(ValueError, match=r"labels_per_class = 1000 is more than class \d+ has"):
        load_run_data(dataclasses.replace(tiny_cfg.data, labels_per_class=1000, limit=10))


@pytest.mark.parametrize("init_from", [False, True])
def test_cli_refuses_one_label_per_class_for_a_pair_loss(
    tmp_path: Path, source_model: Path, init_from: bool
) -> None:
    out = tmp_path / "o"
    extra = ["--init-from", str(source_model)] if init_from else []  # fine-tuning, e.g. after SSL
    res = CliRunner().invoke(cli, ["train", str(_tiny_yaml(tmp_path)), "--out", str(out), "--no-progress",
                                   "--set", "data.labels_per_class=1", *extra])  # fmt: skip
    assert res.exit_code != 0
    assert (
        "data.labels_per_class = 1 keeps one image of each class, but loss.kind = triplet"
        in res.output
    )
    assert "Traceback" not in res.output and not out.exists()


@pytest.mark.parametrize("cut", [9, 15])  # a step of epoch 2 (frozen), of epoch 3 (released)
def test_a_run_resumed_inside_or_after_the_frozen_epochs_equals_the_uninterrupted_one(
    tiny_cfg: RunConfig, tiny_data: RunData, make_net, tmp_path: Path, interrupted_at, cut: int
) -> None:  # type: ignore[no-untyped-def]
    """The freeze is counted from the run's history: a run cut in epoch 2 of 2 frozen ones
    resumes it frozen, one cut in epoch 3 resumes it released, both ending bit for bit as the
    run never stopped (AdamW with weight decay: a frozen encoder gets no step, not even its
    decay, and starts its moments when released)."""
    sets = ["train.epochs=3", "model.freeze_encoder_epochs=2", "optim.optimizer=adamw"]
    cfg = apply_overrides(tiny_cfg, [*sets, "train.val_metric=none"])

    def train(out: Path, resume: bool = False) -> dict[str, torch.Tensor]:
        seed_everything(0)
        net = make_net(cfg, tiny_data)
        trainer = Trainer.from_config(net, cfg, tiny_data, out_dir=out, progress=False)
        trainer.fit(resume=resume)
        return net.state_dict()

    full = train(tmp_path / "full")
    with interrupted_at(cut):
        train(tmp_path / "cut")
    resumed = train(tmp_path / "cut", resume=True)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k
