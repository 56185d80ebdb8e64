"""``task: ssl``: a collapse, a NaN loss, a bad value or a refused resume is one ``Error:``
sentence naming the key, checked before anything is written; a resume keeps what the run was
(collapsed, started from a model, seconds trained); hidden files are not images; --no-progress
is quiet."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner, Result
from PIL import Image

from siamkit import progress
from siamkit.applications.ssl import trainer as ssl_trainer
from siamkit.applications.ssl.config import (
    apply_ssl_overrides,
    ssl_config_from_dict,
    ssl_config_to_dict,
)
from siamkit.applications.ssl.data import folder_images
from siamkit.applications.ssl.task import run
from siamkit.applications.ssl.trainer import CollapseError, check_resume
from siamkit.cli.main import cli
from siamkit.export.bundle import read_model_config
from siamkit.training.checkpoint import load_checkpoint, save_checkpoint
from siamkit.training.config_sections import ConfigError
from siamkit.training.tasks import TaskOptions

SMALL: dict[str, Any] = {
    "method": "simclr",
    "data": {"dataset": "digits"},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32, "pred_hidden": 8},
    "train": {"epochs": 1, "batch_size": 32, "steps_per_epoch": 2, "knn_k": 5, "device": "cpu"},
}
QUIET = TaskOptions(progress=False, log=lambda s: None)
RESUME = TaskOptions(resume=True, progress=False, log=lambda s: None)


def _doc(**sections: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(SMALL)
    for name, values in sections.items():
        doc[name] = {**doc.get(name, {}), **values}
    return doc


#: why ssl.collapse_std is below 1: the figure it is compared with never reaches it
COLLAPSE_NOTE = (
    "0 turns the collapse check off; the figure it is compared with, per-dimension std x "
    "sqrt(D) of the L2-normalised embedding, is at most sqrt(n/(n-1)) for n monitored images "
    "(about 1), reached only by an embedding spread evenly over every dimension, so 1 or more "
    "would stop every run as collapsed after its first epoch"
)


def _collapsing() -> dict[str, Any]:
    # just under the figure's bound (about 1), which no run here spreads evenly enough to reach
    return _doc(ssl={"collapse_std": 0.99})


def _cli(tmp_path: Path, doc: dict[str, Any], *args: str) -> Result:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"task": "ssl", **doc}))
    return CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress", *args]
    )


def _one_sentence(res: Result, text: str) -> None:
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), res.exception  # a ClickException, no traceback
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and text in last, res.output
    assert "Traceback" not in res.output


def test_a_collapse_is_one_sentence(tmp_path: Path) -> None:
    res = _cli(tmp_path, _collapsing())
    _one_sentence(res, "epoch 1: the embedding collapsed")
    assert "below ssl.collapse_std = 0.99" in res.output
    assert not (tmp_path / "o" / "model").exists()


def test_a_collapse_with_a_high_weight_decay_names_it(tmp_path: Path) -> None:
    """simsiam with optim.weight_decay = 200 collapsed, and the hint named optim.lr, the views
    and the method, not the weight decay; an ordinary weight decay keeps the usual hint."""
    res = _cli(tmp_path, _doc(ssl={"collapse_std": 0.99}, optim={"weight_decay": 200}))
    _one_sentence(
        res,
        "no model saved: try a lower optim.weight_decay (now 200), a lower optim.lr, stronger "
        "views or method: vicreg / barlow_twins",
    )
    res = _cli(tmp_path, _doc(ssl={"collapse_std": 0.99}, optim={"weight_decay": 200}), "--resume")
    _one_sentence(res, "start it again (--overwrite) with a lower optim.weight_decay (now 200), ")
    shutil.rmtree(tmp_path / "o")
    res = _cli(tmp_path, _doc(ssl={"collapse_std": 0.99}, optim={"weight_decay": 0.1}))
    _one_sentence(res, "no model saved: try a lower optim.lr, stronger views or method: ")
    assert "weight_decay" not in res.output


def test_a_nan_loss_is_one_sentence(tmp_path: Path) -> None:
    doc = _doc(optim={"optimizer": "sgd", "lr": 1e30, "schedule": "constant"})
    _one_sentence(_cli(tmp_path, doc), "the loss became nan; lower optim.lr")


def test_a_collapsed_run_is_not_saved_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with pytest.raises(CollapseError):
        run(_collapsing(), out, QUIET)
    history = (out / "history.json").read_bytes()
    with pytest.raises(CollapseError, match=r"cannot resume .*: its run stopped at epoch 1: "):
        run(_collapsing(), out, RESUME)
    assert not (out / "model").exists() and not (out / "metrics.json").exists()
    assert (out / "history.json").read_bytes() == history
    # a checkpoint from before the collapse was recorded: its stored collapse figure tells
    state = load_checkpoint(out / "checkpoint.pt")
    state.pop("ssl_monitor", None)
    save_checkpoint(state, out / "checkpoint.pt")
    with pytest.raises(CollapseError, match="cannot resume"):
        run(_collapsing(), out, RESUME)
    assert not (out / "model").exists()
    res = _cli(tmp_path, _collapsing(), "--resume")
    _one_sentence(res, "cannot resume")


def test_a_collapsed_run_folder_is_not_offered_a_resume(tmp_path: Path) -> None:
    """The same command again in the folder of a run stopped on a collapse suggested 'continue
    it with --resume', which is then refused: only --overwrite or another --out are offered,
    for a checkpoint from before the collapse was recorded too; a run that did not collapse is
    still offered --resume."""
    _one_sentence(_cli(tmp_path, _collapsing()), "the embedding collapsed")
    said = (
        "already holds a run (checkpoint.pt): start again with --overwrite, or choose another --out"
    )
    res = _cli(tmp_path, _collapsing())
    assert res.exit_code == 2 and said in res.output and "--resume" not in res.output, res.output
    checkpoint = tmp_path / "o" / "checkpoint.pt"
    state = load_checkpoint(checkpoint)
    state.pop("ssl_monitor", None)
    save_checkpoint(state, checkpoint)
    res = _cli(tmp_path, _collapsing())
    assert res.exit_code == 2 and said in res.output and "--resume" not in res.output, res.output
    shutil.rmtree(tmp_path / "o")
    run(_doc(), tmp_path / "o", QUIET)
    res = _cli(tmp_path, _doc())
    assert res.exit_code == 2 and "continue it with --resume, start again" in res.output


@pytest.mark.parametrize("where", ["yaml", "--set"])
def test_labels_per_class_points_to_the_fine_tuning_config(tmp_path: Path, where: str) -> None:
    """data.labels_per_class was refused as an unknown key of section 'data', not saying where
    it belongs: a supervised run from the SSL model, configs/finetune.yaml."""
    doc, sets = _doc(), ["--set", "data.labels_per_class=10"]
    if where == "yaml":
        doc, sets = _doc(data={"labels_per_class": 10}), []
    res = _cli(tmp_path, doc, *sets)
    _one_sentence(
        res,
        "data.labels_per_class is not a key of task: ssl, which trains without labels: fine-tune "
        "on K labels per class with configs/finetune.yaml, a supervised run started from the SSL "
        "model (e.g. siamkit train configs/finetune.yaml --init-from runs/ssl/model)",
    )
    assert not (tmp_path / "o").exists()


def test_a_refused_resume_rewrites_nothing_and_names_the_key(tmp_path: Path) -> None:
    out = tmp_path / "o"
    run(_doc(), out, QUIET)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(ValueError, match=r"different config \(method\)"):
        run(_doc(), out, TaskOptions(resume=True, overrides=("method=byol",), progress=False))
    with pytest.raises(ValueError, match=r"different config \(optim\.lr\)"):
        run(_doc(), out, TaskOptions(resume=True, overrides=("optim.lr=0.5",), progress=False))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    res = _cli(tmp_path, _doc(), "--resume", "--set", "method=byol")
    _one_sentence(res, "different config (method)")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def _checkpoint_of(tmp_path: Path, doc: dict[str, Any]) -> Path:
    """A checkpoint holding only the config ``doc`` was run with (all a resume checks first)."""
    path = tmp_path / "o" / "checkpoint.pt"
    save_checkpoint({"epoch": 1, "config": ssl_config_to_dict(ssl_config_from_dict(doc))}, path)
    return path


def test_epochs_cannot_change_on_resume_with_a_onecycle_schedule(tmp_path: Path) -> None:
    # OneCycleLR keeps its length in its state: a longer resumed run failed after its first
    # epoch's steps, with config.yaml already rewritten
    onecycle = _doc(optim={"schedule": "onecycle"})
    path = _checkpoint_of(tmp_path, onecycle)
    with pytest.raises(
        ValueError, match=r"train\.epochs cannot change on resume with optim\.schedule = onecycle"
    ):
        check_resume(
            path, ssl_config_from_dict(_doc(optim={"schedule": "onecycle"}, train={"epochs": 2}))
        )
    check_resume(path, ssl_config_from_dict(onecycle))
    cosine = {"schedule": "cosine"}  # rebuilt for the new length
    path = _checkpoint_of(tmp_path, _doc(optim=cosine))
    check_resume(path, ssl_config_from_dict(_doc(optim=cosine, train={"epochs": 2})))


def test_a_checkpoint_from_before_a_methods_constant_resumes(tmp_path: Path) -> None:
    """A run checkpointed before ssl.barlow_lambda existed resumes with the key at its default
    (it was refused as a different config); a value other than the checkpoint's still is."""
    path = _checkpoint_of(tmp_path, _doc())
    state = load_checkpoint(path)
    del state["config"]["ssl"]["barlow_lambda"]
    save_checkpoint(state, path)
    check_resume(path, ssl_config_from_dict(_doc()))
    state["config"]["ssl"]["barlow_lambda"] = 0.01
    save_checkpoint(state, path)
    with pytest.raises(ValueError, match=r"different config \(ssl\.barlow_lambda\)"):
        check_resume(path, ssl_config_from_dict(_doc()))


def test_a_resume_keeps_the_init_from_it_started_with(tmp_path: Path) -> None:
    started = _doc(model={"init_from": "runs/base/model"})
    path = _checkpoint_of(tmp_path, started)
    assert check_resume(path, ssl_config_from_dict(_doc())) == ssl_config_from_dict(started)
    assert check_resume(path, ssl_config_from_dict(started)) == ssl_config_from_dict(started)
    with pytest.raises(
        ValueError,
        match=r"started from --init-from / model.init_from runs/base/model, not runs/other/model: resume",
    ):
        check_resume(path, ssl_config_from_dict(_doc(model={"init_from": "runs/other/model"})))


def test_a_resume_needs_no_init_from_and_not_its_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started from a model resumes without --init-from after that model was deleted
    (the checkpoint holds the weights), and its saved bundle still records where it started."""
    from siamkit.applications.ssl import report

    monkeypatch.setattr(report, "write_ssl_report", lambda path, *args: path)  # (seconds)
    source = run(_doc(), tmp_path / "a", QUIET).model_dir
    out = tmp_path / "b"
    run(_doc(), out, TaskOptions(progress=False, log=lambda s: None, init_from=str(source)))
    before = load_checkpoint(out / "checkpoint.pt")["model"]
    shutil.rmtree(tmp_path / "a")
    summary = run(_doc(), out, RESUME)
    meta = read_model_config(summary.model_dir)["metadata"]  # type: ignore[arg-type]
    assert meta["config"]["model"]["init_from"] == str(source)
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["model"]["init_from"] == str(source)
    after = load_checkpoint(out / "checkpoint.pt")["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing trained, nothing lost
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"task": "ssl", **_doc()}))
    args = ["train", str(cfg), "--out", str(out), "--resume", "--init-from", str(tmp_path)]
    res = CliRunner().invoke(cli, args)
    _one_sentence(
        res, f"started from --init-from / model.init_from {source}, not {tmp_path}: resume without"
    )


def test_an_override_into_an_empty_section_fills_it() -> None:
    # `train:` left empty in the file plus --set train.epochs=2 was a NoneType TypeError
    assert apply_ssl_overrides({"train": None}, ["train.epochs=2"]) == {"train": {"epochs": 2}}
    with pytest.raises(ConfigError, match=r"^section 'train' must be a mapping"):
        apply_ssl_overrides({"train": 3}, ["train.epochs=2"])


@pytest.mark.parametrize("device", [[], ["--device", "cpu"]], ids=["auto", "cpu"])
def test_a_section_set_to_a_value_names_the_override(tmp_path: Path, device: list[str]) -> None:
    """`--set train=3` replaced the whole section with 3, and the refusal named no option:
    "section 'train' must be a mapping of keys to values, got 3" (with --device, until the
    commit before, "'int' object does not support item assignment": s58_r1, noticed). It now
    names the override and the form that sets a key."""
    said = (
        "override 'train=3': train is a section, a mapping of keys to values, not 3: set one "
        "of its keys with --set train.KEY=VALUE"
    )
    with pytest.raises(ConfigError) as err:
        apply_ssl_overrides(_doc(), ["train=3"])
    assert str(err.value) == said
    _one_sentence(_cli(tmp_path, _doc(), "--set", "train=3", *device), said)
    assert not (tmp_path / "o").exists()
    # a whole section as a mapping, or emptied (its defaults), is still taken
    assert apply_ssl_overrides({}, ["train={epochs: 2}", "views="]) == {
        "train": {"epochs": 2},
        "views": None,
    }


@pytest.mark.parametrize("train", [None, 3], ids=["empty", "not-a-mapping"])
def test_device_reaches_a_train_section_left_empty_or_refuses_it_named(
    tmp_path: Path, train: Any
) -> None:
    """--device of a config whose train: is empty (its defaults) or not a mapping was a
    TypeError ("'NoneType' / 'int' object does not support item assignment"). An empty one now
    takes the device and the run goes on to its next check (here a bad data.val_fraction); one
    that is not a mapping is refused in the sentence a run without --device says."""
    doc = {**_doc(data={"val_fraction": -0.2}), "train": train}
    res = _cli(tmp_path, doc, "--device", "cpu")
    if train is None:
        _one_sentence(res, "data.val_fraction must be a number in [0, 1), got -0.2.")
    else:
        _one_sentence(res, "section 'train' must be a mapping of keys to values, got 3")
        assert res.output == _cli(tmp_path, doc).output  # as without --device
    assert not (tmp_path / "o").exists()


def test_a_malformed_override_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the value in override 'train.epochs=\[1'"):
        apply_ssl_overrides({}, ["train.epochs=[1"])
    _one_sentence(_cli(tmp_path, _doc(), "--set", "train.epochs=[1"), "cannot read the value")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        ("ssl", "barlow_lambda", float("nan"), "ssl.barlow_lambda must be a number"),
        ("views", "crop_scale", [0.5], "views.crop_scale must be two numbers"),
        # the supervised losses' proxies have it; an ssl run would ignore it
        ("optim", "loss_lr_factor", 100.0, "optim.loss_lr_factor = 100.0 is for supervised"),
    ],
)
def test_bad_values_name_their_key(section: str, key: str, value: Any, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict(_doc(**{section: {key: value}}))
    assert says in str(err.value)


_BATCH = (
    "each image's view needs other images to be told apart from; NT-Xent has no negatives with 1"
)


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        ("train", "batch_size", 1, f"a whole number >= 2 ({_BATCH}), got 1"),
        ("train", "epochs", 0, "a whole number >= 1, got 0"),
        ("train", "knn_k", 0, "a whole number >= 1, got 0"),
        ("train", "monitor_images", -3, "a whole number >= 1, got -3"),
        (
            "train",
            "steps_per_epoch",
            0,
            "a whole number >= 1 (batches per epoch, or null for one full pass over the "
            "training images), got 0",
        ),
        (
            "data",
            "limit",
            -5,
            "a whole number >= 1 (training images kept, or null for all of them), got -5",
        ),
        ("ssl", "temperature", 0.0, "a finite number > 0, got 0.0"),
        ("ssl", "temperature", float("inf"), "a finite number > 0, got inf"),
        ("ssl", "momentum", 1.0, "a number in (0, 1), got 1.0"),
        ("ssl", "momentum", 0.0, "a number in (0, 1), got 0.0"),
        ("ssl", "barlow_lambda", -0.1, "a finite number >= 0 (the paper's 5e-3), got -0.1"),
        ("ssl", "barlow_lambda", float("inf"), "a finite number >= 0 (the paper's 5e-3), got inf"),
        (
            "ssl",
            "queue_size",
            0,
            "a whole number >= 1 (NNCLR's support set of projections), got 0",
        ),
        (
            "ssl",
            "collapse_std",
            -1.0,
            f"a number in [0, 1) ({COLLAPSE_NOTE}), got -1.0",
        ),
        ("ssl", "collapse_std", 1.0, f"a number in [0, 1) ({COLLAPSE_NOTE}), got 1.0"),
        ("ssl", "collapse_std", 5.0, f"a number in [0, 1) ({COLLAPSE_NOTE}), got 5.0"),
    ],
)
def test_numbers_are_refused_in_the_run_configs_sentence(
    section: str, key: str, value: Any, says: str
) -> None:
    """task: ssl wrote its own older sentences for its counts and numbers ('must be at least 1'
    without the value, 'ssl.temperature must be positive and ssl.momentum in (0, 1)' for
    either); they now read as the run config's, which siamkit.params writes, reasons kept."""
    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict(_doc(**{section: {key: value}}))
    assert str(err.value) == f"{section}.{key} must be {says}."


@pytest.mark.parametrize("value", [-0.2, 1.5])
def test_val_fraction_is_refused_in_the_run_configs_sentence(value: float) -> None:
    """task: ssl checked data.val_fraction with its own older sentence ('must be in [0, 1)');
    it now reads as the supervised run config's, which siamkit.params.number writes."""
    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict(_doc(data={"val_fraction": value}))
    assert str(err.value) == f"data.val_fraction must be a number in [0, 1), got {value!r}."


def test_bad_values_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    res = _cli(tmp_path, _doc(), "--set", "data.val_fraction=-0.2")
    _one_sentence(res, "data.val_fraction must be a number in [0, 1), got -0.2.")
    assert not (tmp_path / "o").exists()


_SHARE = "a number in [0, 1] (a share of the views)"


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        ("ssl", "proj_dim", 0, "a whole number >= 1, got 0"),
        ("ssl", "proj_hidden", -1, "a whole number >= 1, got -1"),
        ("ssl", "pred_hidden", 0, "a whole number >= 1, got 0"),
        (
            "train",
            "embed_batch_size",
            0,
            "a whole number >= 1 (images embedded at a time), got 0",
        ),
        ("train", "threads", -1, "a whole number >= 0 (0 or null for torch's default), got -1"),
        (
            "data",
            "image_size",
            0,
            "a whole number >= 1 (image-folder images are resized to it), got 0",
        ),
        ("views", "jitter", 1.0, "a number in [0, 1), got 1.0"),
        ("views", "jitter", -0.1, "a number in [0, 1), got -0.1"),
        ("views", "jitter_p", 1.5, f"{_SHARE}, got 1.5"),
        ("views", "gray_p", -0.1, f"{_SHARE}, got -0.1"),
        ("views", "blur_p", 2.0, f"{_SHARE}, got 2.0"),
        ("views", "erase_p", float("inf"), f"{_SHARE}, got inf"),
    ],
)
def test_settings_training_reads_are_refused_before_anything_is_written(
    tmp_path: Path, section: str, key: str, value: Any, says: str
) -> None:
    """These were not checked: a projector or predictor of size 0 trained and saved a model, a
    negative size or thread count was a PyTorch traceback, embed_batch_size 0 failed after the
    run folder was written, a jitter share above 1 jittered every view, image_size 0 passed
    unread, and the other view settings failed in a sentence without their key. Now each is
    the run config's sentence, and the CLI writes nothing."""
    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict(_doc(**{section: {key: value}}))
    assert str(err.value) == f"{section}.{key} must be {says}."
    _one_sentence(_cli(tmp_path, _doc(**{section: {key: value}})), f"{section}.{key} must be")
    assert not (tmp_path / "o").exists()


def test_crop_scale_is_refused_below_the_crops_own_bound() -> None:
    """crop_scale (0.0005, 1) passed the config's (0, 1] and failed when the views were built,
    in a sentence naming 'scale', not the key."""
    with pytest.raises(ConfigError, match=r"^views.crop_scale must be \(min, max\) with 0.001"):
        ssl_config_from_dict(_doc(views={"crop_scale": [0.0005, 1.0]}))
    assert ssl_config_from_dict(_doc(views={"crop_scale": [0.001, 1.0]})).views.crop_scale == (
        0.001,
        1.0,
    )
    assert ssl_config_from_dict(_doc(train={"threads": 0})).train.threads == 0  # torch's default


def test_init_from_is_recorded(tmp_path: Path) -> None:
    first = run(_doc(), tmp_path / "a", QUIET)
    source = str(first.model_dir)
    second = run(_doc(), tmp_path / "b", TaskOptions(progress=False, init_from=source))
    written = yaml.safe_load((tmp_path / "b" / "config.yaml").read_text())
    assert written["model"]["init_from"] == source
    meta = read_model_config(second.model_dir)["metadata"]  # type: ignore[arg-type]
    assert meta["config"]["model"]["init_from"] == source


def test_image_folders_skip_hidden_files_and_folders(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    (root / "c1").mkdir(parents=True)
    (root / ".ipynb_checkpoints").mkdir()
    gen = torch.Generator().manual_seed(0)
    for i in range(3):
        arr = (torch.rand(12, 12, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(root / "c1" / f"{i:03d}.png")
        Image.fromarray(arr).save(root / ".ipynb_checkpoints" / f"{i:03d}.png")
    (root / "c1" / "._000.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble junk")
    assert folder_images(str(root), 16, False).shape == (3, 3, 16, 16)
    (root / "c1").rename(root / ".hidden")
    with pytest.raises(ValueError, match="holds no images"):
        folder_images(str(root), 16, False)


def test_a_folder_of_images_with_the_default_dataset_is_refused(tmp_path: Path) -> None:
    """--set data.root=PHOTOS on configs/simclr.yaml (dataset: fashion-mnist) trained on
    Fashion-MNIST found elsewhere, the photos unread; now one sentence naming the key to set,
    and nothing written."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (8, 8)).save(photos / "a.png")
    res = _cli(tmp_path, _doc(data={"dataset": "fashion-mnist", "root": str(photos)}))
    _one_sentence(res, "is a folder of images, not of the Fashion-MNIST files")
    assert "--set data.dataset=image-folder" in res.output
    assert not (tmp_path / "o").exists()


def test_a_batch_larger_than_the_folder_names_a_size_that_fits(tmp_path: Path) -> None:
    """configs/simclr.yaml (batch 256) on a folder of 100 photos said only 'train.batch_size =
    256 is more than the 100 training images'; it now says what to set, and writes nothing."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        Image.new("RGB", (8, 8), (50 * i, 0, 0)).save(photos / f"{i}.png")
    doc = _doc(
        data={"dataset": "image-folder", "root": str(photos), "image_size": 8},
        ssl={"collapse_std": 0.0},  # plain squares: whether they collapse is not the point
    )
    res = _cli(tmp_path, doc, "--set", "train.batch_size=8")
    _one_sentence(
        res,
        "train.batch_size = 8 is more than the 5 training images: set it to at most 5 (e.g. "
        "--set train.batch_size=4), or give more images",
    )
    assert not (tmp_path / "o").exists()
    assert _cli(tmp_path, doc, "--set", "train.batch_size=4").exit_code == 0


def test_an_image_folder_run_says_it_has_no_knn_accuracy(tmp_path: Path) -> None:
    """On an image folder (no labels, no kNN monitor) every epoch line said 'kNN@20 -' with no
    word why; the first line now says there is none and the epoch lines leave it out. A labeled
    data set keeps its kNN accuracy in each epoch line."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(8):
        Image.new("RGB", (8, 8), (30 * i, 0, 0)).save(photos / f"{i}.png")
    doc = _doc(
        data={"dataset": "image-folder", "root": str(photos), "image_size": 8},
        ssl={"collapse_std": 0.0},  # plain squares: whether they collapse is not the point
    )
    res = _cli(tmp_path, doc, "--set", "train.batch_size=4")
    assert res.exit_code == 0, res.output
    first, epoch = res.output.splitlines()[:2]
    assert first.endswith(f"8 images under {photos} (no labels, so no kNN accuracy) on cpu")
    assert epoch.startswith("epoch 1/1: loss ") and ", collapse std " in epoch
    assert "kNN" not in epoch and " -" not in epoch
    res = _cli(tmp_path, _doc(), "--overwrite")
    assert res.exit_code == 0, res.output
    assert "(labels unused) on cpu" in res.output
    assert re.search(r"^epoch 1/1: loss [\d.]+, kNN@5 [\d.]+, collapse std", res.output, re.M)


def test_train_seconds_add_up_over_a_resume(tmp_path: Path) -> None:
    out = tmp_path / "o"
    run(_doc(), out, QUIET)
    state = load_checkpoint(out / "checkpoint.pt")
    state["seconds"] = 100.0  # the trainer's clock, as if trained 100 s
    save_checkpoint(state, out / "checkpoint.pt")
    # a second epoch (a finished run's resume ends there, changing nothing)
    summary = run(_doc(train={"epochs": SMALL["train"]["epochs"] + 1}), out, RESUME)
    assert summary.metrics["train_seconds"] >= 100.0
    assert json.loads((out / "metrics.json").read_text())["train_seconds"] >= 100.0
    meta = read_model_config(summary.model_dir)["metadata"]  # type: ignore[arg-type]
    assert meta["run"]["train_seconds"] >= 100.0


def test_no_progress_silences_the_monitors_embedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = ssl_trainer.encode

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        seen.append(progress.is_enabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl_trainer, "encode", spy)
    monkeypatch.setattr(progress, "_enabled", True)  # as the siamkit command turns it on
    run(_doc(), tmp_path / "o", QUIET)
    assert seen and not any(seen)
    assert progress.is_enabled()  # turned back on after the run
    seen.clear()
    run(_doc(), tmp_path / "p", TaskOptions(log=lambda s: None))
    assert seen and all(seen)


def test_a_misspelt_section_is_worded_as_every_task_words_it() -> None:
    """It said 'valid: method, ...'; the shared wording names the closest section first."""
    from siamkit.applications.ssl.config import ssl_config_from_dict

    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict({"trian": {"epochs": 1}})
    assert str(err.value).startswith(
        "unknown section 'trian' for task: ssl (did you mean 'train'?); valid sections: method, "
    )


def test_a_folder_of_one_image_is_said_in_the_singular() -> None:
    """A folder holding one image said 'train.batch_size = 256 is more than the 1 training
    images'."""
    with pytest.raises(ValueError) as err:
        ssl_trainer.check_batch_fits(256, 1)
    assert str(err.value) == (
        "train.batch_size = 256 is more than the 1 training image: a batch needs 2 or more "
        "images; give more images"
    )


def test_the_first_line_names_the_classes_and_the_monitor_s_images(tmp_path: Path) -> None:
    """The first line said 'self-supervised on 975 digits images of classes [0, 1, 2, 3, 4, 5]
    (labels unused)', ids where the supervised run names its classes, and not a word of the
    labeled images held out for the kNN monitor its epoch lines report."""
    doc = _doc(data={"train_classes": [0, 1, 2, 3, 4, 5]})
    res = _cli(tmp_path, doc)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == (
        "simclr: self-supervised on 975 digits images of 6 classes (0, 1, 2, 3, 4, 5) (labels "
        "unused) on cpu; 108 more images of them held out for the kNN monitor"
    )


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"dataset": "digits", "image_size": 32}, "data.image_size = 32 is not honoured by "
         "data.dataset = digits (8×8 images, not resized): leave data.image_size out"),
        ({"dataset": "digits", "grayscale": False}, "data.grayscale = false is not honoured by "
         "data.dataset = digits (one-channel 8×8 images): leave data.grayscale out"),
        ({"dataset": "fashion-mnist", "image_size": 64}, "data.image_size = 64 is not honoured "
         "by data.dataset = fashion-mnist (28×28 images, not resized)"),
    ],
)  # fmt: skip
def test_a_size_or_colour_a_built_in_data_set_cannot_honour_is_refused(
    tmp_path: Path, data: dict[str, Any], said: str
) -> None:
    """task: ssl trained on digits' 8×8 / fashion-mnist's 28×28 one-channel images whatever
    data.image_size and data.grayscale said; it now refuses them as a supervised run does."""
    res = _cli(tmp_path, _doc(data=data))
    _one_sentence(res, said)
    assert not (tmp_path / "o").exists()


def test_an_unset_image_size_reads_a_folder_at_64_and_old_checkpoints_resume(
    tmp_path: Path,
) -> None:
    """data.image_size / data.grayscale now default to unset (the data set's own): an image
    folder is read at 64 px in colour as before, digits at 8×8, and a checkpoint that recorded
    the old defaults (64, false) resumes."""
    from siamkit.applications.ssl.data import load_ssl_data
    from siamkit.applications.ssl.trainer import ssl_config_guard

    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20), (i * 60, 10, 10)).save(root / f"{i}.png")
    cfg = ssl_config_from_dict(_doc(data={"dataset": "image-folder", "root": str(root)}))
    assert (cfg.data.image_size, cfg.data.grayscale) == (None, None)
    assert load_ssl_data(cfg.data).train_x.shape[1:] == (3, 64, 64)
    digits = ssl_config_from_dict(SMALL)
    assert load_ssl_data(digits.data).train_x.shape[1:] == (1, 8, 8)
    guard = ssl_config_guard(digits)
    old = copy.deepcopy(guard.config)
    old["data"] = {**old["data"], "image_size": 64, "grayscale": False}
    guard.load_state_dict(old)
    old["data"]["image_size"] = 32
    with pytest.raises(ValueError, match=r"different config \(data\.image_size\)"):
        guard.load_state_dict(old)
