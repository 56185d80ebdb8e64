"""``--resume`` of a ``task: text`` run refuses a config other than its checkpoint's, naming the
keys, before anything is written (another lr, loss or epochs was accepted silently, and the saved
model was one no config describes); what only the evaluation after training reads may change,
and a checkpoint from before the config was recorded resumes unchecked."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from _text_runs import cut_run, text_config
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.export.bundle import read_model_config
from siamkit.training.tasks import TaskOptions, get_task


def _cut(cfg: dict[str, Any], out: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> None:
    """Run ``cfg`` into ``out`` until it is killed after its first step's checkpoint."""
    cut_run(cfg, out, monkeypatch, TaskOptions(progress=False, **options))


@pytest.mark.parametrize(
    ("override", "named", "hint"),
    [
        ("train.lr=0.0005", "train.lr", "--set train.lr=0.001"),
        ("loss.name=cosine_mse", "loss.name", "--set loss.name=cosent"),
        ("train.epochs=3", "train.epochs", "--set train.epochs=2"),  # the decay spans them
        ("train.amp=false", "train.amp", "--set train.amp=true"),
    ],
)
def test_a_changed_config_is_refused_by_key_and_nothing_is_rewritten(
    tiny_hf: Path,
    pairs_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    override: str,
    named: str,
    hint: str,
) -> None:
    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=1), tmp_path / "cut"
    _cut(cfg, out, monkeypatch)
    before, written = (out / "checkpoint.pt").read_bytes(), (out / "config.yaml").read_bytes()
    config = tmp_path / "text.yaml"
    config.write_text(yaml.safe_dump({"task": "text", **cfg}))
    args = ["train", str(config), "--out", str(out), "--resume", "--no-progress"]
    res = CliRunner().invoke(cli, [*args, "--set", override])
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert f"the checkpoint was made with a different config ({named}); resume" in res.output
    assert hint in res.output
    assert (out / "checkpoint.pt").read_bytes() == before
    assert (out / "config.yaml").read_bytes() == written  # the cut run's, not the refused one's
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml"]


def test_a_validation_file_may_change_and_a_resume_needs_no_init_from(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under train.val_metric none only the validation after training reads data.val; the
    checkpoint recorded model.path = the --init-from model, which a resume without --init-from
    takes again (start_model)."""
    val, other_val = tmp_path / "val.csv", tmp_path / "other-val.csv"
    shutil.copy(pairs_csv, val)
    shutil.copy(pairs_csv, other_val)
    cfg, out = text_config(pairs_csv, checkpoint_every=1, val_metric="none"), tmp_path / "cut"
    cfg["data"]["val"] = str(val)
    _cut(cfg, out, monkeypatch, init_from=str(tiny_hf))
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["config"]
    assert saved["model"]["path"] == saved["model"]["init_from"] == str(tiny_hf)
    cfg["data"] = {**cfg["data"], "val": str(other_val), "val_fraction": 0.3}
    summary = get_task("text")(cfg, out, TaskOptions(progress=False, resume=True))
    assert "similarity.spearman" in summary.metrics  # validated on the other file
    assert read_model_config(summary.model_dir)["metadata"]["init_from"] == str(tiny_hf)
    resumed = torch.load(out / "checkpoint.pt", weights_only=True)["config"]
    assert resumed["data"]["val"] == str(other_val)  # the checkpoint records the run's config


def test_a_validation_file_validated_each_epoch_may_not_change(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validated each epoch (train.val_metric auto), history.json holds data.val's figures:
    another file on resume joined its figures to the first's without a word. It is refused as
    image runs refuse another data section, with the --set that restores the file."""
    val, other_val = tmp_path / "val.csv", tmp_path / "other-val.csv"
    shutil.copy(pairs_csv, val)
    shutil.copy(pairs_csv, other_val)
    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=2), tmp_path / "cut"
    cfg["data"]["val"] = str(val)
    _cut(cfg, out, monkeypatch)  # after epoch 1, its validation row in the checkpoint
    before = (out / "checkpoint.pt").read_bytes()
    assert torch.load(out / "checkpoint.pt", weights_only=True)["history"][0]["val_spearman"]
    moved = {**cfg, "data": {**cfg["data"], "val": str(other_val), "val_fraction": 0.3}}
    with pytest.raises(ValueError) as err:
        get_task("text")(moved, out, TaskOptions(progress=False, resume=True))
    assert str(err.value) == (
        "the checkpoint was made with a different config (data.val); resume with the same one "
        f"(the checkpoint's values: --set data.val={val})"
    )
    assert (out / "checkpoint.pt").read_bytes() == before
    # data.val_fraction, unused beside data.val, may still change
    kept = {**cfg, "data": {**cfg["data"], "val_fraction": 0.3}}
    get_task("text")(kept, out, TaskOptions(progress=False, resume=True))
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]


@pytest.mark.parametrize(
    ("at", "said"),
    [
        (1, "hold epoch 1 on, epoch 1's loss the mean of its steps from step 2 on"),
        (2, "hold epoch 2 alone"),
        (4, "hold none of its epochs"),
    ],
)
def test_a_checkpoint_from_before_the_history_says_where_history_json_starts(
    tiny_hf: Path,
    pairs_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    at: int,
    said: str,
) -> None:
    """A checkpoint made before runs kept their history resumed with history.json holding the
    epochs from there on only, without a word; a checkpoint of today says nothing."""
    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=1), tmp_path / "cut"
    cut_run(cfg, out, monkeypatch, TaskOptions(progress=False), at=at)
    lines: list[str] = []
    shutil.copytree(out, tmp_path / "today")
    get_task("text")(
        cfg, tmp_path / "today", TaskOptions(progress=False, resume=True, log=lines.append)
    )
    assert not any("per-epoch history" in line for line in lines), lines
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    del state["history"], state["epoch_losses"]  # as a checkpoint from before they were kept
    torch.save(state, out / "checkpoint.pt")
    lines.clear()
    get_task("text")(cfg, out, TaskOptions(progress=False, resume=True, log=lines.append))
    line = (
        f"{out / 'checkpoint.pt'} was made before text runs kept a per-epoch history: "
        f"history.json and the report's curves {said}"
    )
    assert line in lines, lines
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == {1: [1, 2], 2: [2], 4: []}[at]


def test_gradient_checkpointing_and_checkpoint_every_may_change(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither changes the result: gradient checkpointing is the usual fix after running out of
    GPU memory, and was refused on resume."""
    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=1), tmp_path / "cut"
    _cut(cfg, out, monkeypatch)
    config = tmp_path / "text.yaml"
    config.write_text(yaml.safe_dump({"task": "text", **cfg}))
    args = ["train", str(config), "--out", str(out), "--resume", "--no-progress"]
    sets = ["--set", "train.gradient_checkpointing=true", "--set", "train.checkpoint_every=2"]
    res = CliRunner().invoke(cli, [*args, *sets])
    assert res.exit_code == 0, res.output
    train = torch.load(out / "checkpoint.pt", weights_only=True)["config"]["train"]
    assert (train["gradient_checkpointing"], train["checkpoint_every"]) == (True, 2)


def test_a_checkpoint_without_a_recorded_config_resumes_unchecked(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=1), tmp_path / "cut"
    _cut(cfg, out, monkeypatch)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    del state["config"]  # as a checkpoint from before it was recorded
    torch.save(state, out / "checkpoint.pt")
    resume = TaskOptions(progress=False, resume=True, overrides=("train.lr=0.0005",))
    summary = get_task("text")(cfg, out, resume)
    assert summary.model_dir.is_dir()
    assert torch.load(out / "checkpoint.pt", weights_only=True)["config"]["train"]["lr"] == 5e-4


def test_the_error_names_every_changed_key(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=1), tmp_path / "cut"
    _cut(cfg, out, monkeypatch)
    other = tmp_path / "other.csv"
    shutil.copy(pairs_csv, other)
    changed = ("data.train=" + str(other), "train.batch_size=4", "train.lr=0.0005")
    resume = TaskOptions(progress=False, resume=True, overrides=changed)
    named = "data.train, train.batch_size, train.lr"
    with pytest.raises(ValueError, match=re.escape(f"different config ({named}); resume")):
        get_task("text")(cfg, out, resume)


def test_the_same_model_path_spelt_otherwise_is_the_same_model(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As start_model takes it (its --init-from check); another model.path is refused by key."""
    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=1), tmp_path / "cut"
    _cut(cfg, out, monkeypatch)
    other = tmp_path / "other-bert"
    shutil.copytree(tiny_hf, other)
    moved = TaskOptions(progress=False, resume=True, overrides=(f"model.path={other}",))
    with pytest.raises(ValueError, match=re.escape("different config (model.path); resume")):
        get_task("text")(cfg, out, moved)
    spelt = TaskOptions(progress=False, resume=True, overrides=(f"model.path={tiny_hf}/.",))
    assert get_task("text")(cfg, out, spelt).model_dir.is_dir()


def test_an_unreadable_checkpoint_is_one_sentence_and_left_as_it_is(tmp_path: Path) -> None:
    # read with torch.load directly, a truncated checkpoint gave torch's own traceback text
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"PK\x03\x04 not a whole zip")
    cfg = text_config(tmp_path / "pairs.csv")
    with pytest.raises(ValueError, match="is not a readable siamkit checkpoint"):
        get_task("text")(cfg, out, TaskOptions(progress=False, resume=True))
    assert (out / "checkpoint.pt").read_bytes() == b"PK\x03\x04 not a whole zip"
    assert [p.name for p in out.iterdir()] == ["checkpoint.pt"]
