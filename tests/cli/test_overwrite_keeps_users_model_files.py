"""``siamkit train --overwrite`` set the earlier run's model folder aside whole and deleted it
once the new run finished: a file of the user's in OUT/model went with it, unsaid, and the
earlier model's export too. The user's files now go into the new model folder, and the stale
export is removed and named, as by every save over a model folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.atomic import sha256_file
from siamkit.cli._run_folder import _earlier_run_set_aside, _refuse_set_aside_run
from siamkit.cli.main import cli
from siamkit.export.bundle import save_model
from siamkit.models import Preprocess, SiameseNetwork

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SHORT = ["--no-progress", "--episodes", "2", "--set", "train.steps_per_epoch=1"]


def test_overwrite_keeps_the_users_files_in_the_model_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(TINY), "--out", str(out), *SHORT])
    assert res.exit_code == 0, res.output
    model = out / "model"
    (model / "notes.txt").write_text("mine")
    fingerprint = json.loads((model / "siamkit.json").read_text())["fingerprint"]
    (model / "model.onnx").write_bytes(b"graph of the earlier model")
    graph = {"precision": "fp32", "sha256": sha256_file(model / "model.onnx")}  # as exported
    doc = {"format": "siamkit-onnx-exports", "format_version": 1, "fingerprint": fingerprint,
           "exports": {"model.onnx": graph}}  # fmt: skip
    (model / "onnx.json").write_text(json.dumps(doc))
    res = CliRunner().invoke(
        cli,
        ["train", str(TINY), "--out", str(out), "--overwrite", *SHORT,
         "--set", "train.epochs=1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((model / "siamkit.json").read_text())["fingerprint"] != fingerprint
    assert (model / "notes.txt").read_text() == "mine"
    assert not (model / "model.onnx").exists() and not (model / "onnx.json").exists()
    assert f"Removed {model}/model.onnx and {model}/onnx.json: the replaced model's" in res.stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def _net(seed: int) -> SiameseNetwork:
    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    return SiameseNetwork(enc, 16, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28))).eval()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_save_killed_as_it_removed_model_old_costs_overwrite_none_of_the_users_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s62_LR2 Q0: a save killed at ``.model.old``'s rmdir leaves it empty; the next
    --overwrite found it "in the way" and deleted the set-aside model folder whole, the user's
    files with it. Now the empty folder is tidied and the files go into the new model."""
    out = tmp_path / "run"
    model = save_model(_net(0), out / "model")
    (out / "config.yaml").write_text("x: 1\n")
    real_rmdir = os.rmdir

    def killed(path: str, *args: object, **kwargs: object) -> None:
        if os.fspath(path).endswith(".model.old"):
            raise KeyboardInterrupt
        real_rmdir(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rmdir", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(_net(1), model)
    monkeypatch.setattr(os, "rmdir", real_rmdir)
    assert (out / ".model.old").is_dir()
    (model / "notes.txt").write_text("mine")
    (model / "mine").mkdir()
    (model / "mine" / "run.sh").write_text("echo")
    with _earlier_run_set_aside(out, True):  # what train --overwrite runs around its save
        save_model(_net(2), out / "model")
    assert (model / "notes.txt").read_text() == "mine"
    assert (model / "mine" / "run.sh").read_text() == "echo"
    assert sorted(os.listdir(out)) == ["model"]


def test_a_users_model_old_keeps_the_earlier_model_folder_set_aside_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """s62_LR2 Q0: a file of the user's named ``.model.old`` made --overwrite delete the
    earlier model folder whole, unsaid. Now both stay, and one line says where and why."""
    out = tmp_path / "run"
    model = save_model(_net(0), out / "model")
    (model / "notes.txt").write_text("mine")
    (out / ".model.old").write_text("the user's")
    with _earlier_run_set_aside(out, True):
        save_model(_net(2), out / "model")
    assert (out / ".model.old").read_text() == "the user's"
    (stash,) = out.glob(".earlier-run-*")
    assert (stash / "model" / "notes.txt").read_text() == "mine"
    err = capsys.readouterr().err
    assert (
        f"the earlier run's model folder, with any files of yours, left in {stash / 'model'}: "
        f"{out / '.model.old'} is in the way" in err
    )


def test_a_failed_overwrite_after_a_save_killed_mid_carry_keeps_the_users_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s62_LR3 Q1: a save of OUT/model killed after its renames leaves the user's files in
    ``.model.old``; --overwrite set OUT/model aside, the run's save carried them into its new
    OUT/model, and a Ctrl-C after it made the cleanup delete that folder whole, with them. Now
    the pending save is finished first, and the files survive the failed run."""
    out = tmp_path / "run"
    model = save_model(_net(0), out / "model")
    (out / "config.yaml").write_text("x: 1\n")
    (model / "notes.txt").write_text("mine")
    (model / "mine").mkdir()
    (model / "mine" / "run.sh").write_text("echo")
    real_rename = Path.rename

    def killed(self: Path, target: str | os.PathLike[str]) -> Path:
        if self.name == "notes.txt" and self.parent.name == ".model.old":
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(_net(1), model)
    monkeypatch.setattr(Path, "rename", real_rename)
    assert (out / ".model.old" / "notes.txt").is_file()
    with pytest.raises(KeyboardInterrupt), _earlier_run_set_aside(out, True):
        save_model(_net(2), out / "model")
        raise KeyboardInterrupt  # Ctrl-C as the run writes its report
    found = {p.name: p for p in out.rglob("*") if p.is_file()}
    assert found["notes.txt"].read_text() == "mine"
    assert found["run.sh"].read_text() == "echo"


def test_the_kept_model_folder_alone_stays_set_aside_and_the_refusal_says_why(
    tmp_path: Path,
) -> None:
    """s62_LR3 Q2: with a user's ``.model.old`` in the way, the whole set-aside folder stayed
    (the earlier config.yaml, metrics.json ...), and the next run's refusal said its process
    was killed, and to move it all back (a mixed run) or delete it (the user's files). Now only
    the model folder stays, and the refusal says the true reason and what to do."""
    out = tmp_path / "run"
    model = save_model(_net(0), out / "model")
    (model / "notes.txt").write_text("mine")
    for name in ("config.yaml", "metrics.json", "history.json"):
        (out / name).write_text("earlier\n")
    (out / ".model.old").write_text("the user's")
    with _earlier_run_set_aside(out, True):
        save_model(_net(2), out / "model")
        for name in ("config.yaml", "metrics.json", "history.json"):
            (out / name).write_text("new\n")
    (stash,) = out.glob(".earlier-run-*")
    assert os.listdir(stash) == ["model"]
    assert (stash / "model" / "notes.txt").read_text() == "mine"
    with pytest.raises(click.UsageError) as refused:
        _refuse_set_aside_run(out)
    assert str(refused.value.message) == (
        f"{out} holds {stash.name}: the earlier run's model folder, kept as "
        f"{out / '.model.old'} was in the way; move your files from {stash / 'model'} into "
        f"{out / 'model'}, then delete {stash}"
    )


def test_a_refused_move_of_the_earlier_model_folder_after_a_finished_run_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that finished, whose move of the earlier model folder to ``.model.old`` (to give
    the new model the user's files) is refused: the OSError ended the command in a traceback
    and the whole set-aside folder stayed (the earlier config.yaml, history.json), with the
    user's notes.txt and a refusal saying the run's process was killed. Now the new run's
    outputs stay, only the earlier model folder is kept, and the line and the next run's
    refusal say why and what to do."""
    out = tmp_path / "run"
    model = save_model(_net(0), out / "model")
    (model / "notes.txt").write_text("mine")
    for name in ("config.yaml", "history.json"):
        (out / name).write_text("earlier\n")
    real = os.replace

    def replace(src: object, dst: object) -> None:
        if Path(str(dst)).name == ".model.old" and ".earlier-run-" in str(src):
            raise PermissionError(13, "Permission denied", str(src))
        real(src, dst)  # type: ignore[arg-type]

    with _earlier_run_set_aside(out, True):
        save_model(_net(2), out / "model")
        (out / "config.yaml").write_text("new\n")
        monkeypatch.setattr(os, "replace", replace)
    monkeypatch.undo()
    (stash,) = out.glob(".earlier-run-*")
    assert os.listdir(stash) == ["model"]
    assert (stash / "model" / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(out)) == [stash.name, "config.yaml", "model"]
    assert (out / "config.yaml").read_text() == "new\n"
    assert (out / "model" / "siamkit.json").is_file()
    assert (
        f"the earlier run's model folder, with any files of yours, left in {stash / 'model'}: "
        f"it could not be moved to {out / '.model.old'} ({stash / 'model'}: Permission "
        f"denied); move your files from {stash / 'model'} into {out / 'model'}, then delete "
        f"{stash} (a run into {out} is refused until it is deleted)\n"
    ) in capsys.readouterr().err
    with pytest.raises(click.UsageError) as refused:
        _refuse_set_aside_run(out)
    assert str(refused.value.message) == (
        f"{out} holds {stash.name}: the earlier run's model folder, kept as it could not be "
        f"moved to {out / '.model.old'}; move your files from {stash / 'model'} into "
        f"{out / 'model'}, then delete {stash}"
    )
    shutil.rmtree(out / "model")  # the user deletes the new model of the run that finished
    with pytest.raises(click.UsageError) as refused:  # no failed run to speak of
        _refuse_set_aside_run(out)
    assert str(refused.value.message) == (
        f"{out} holds {stash.name}: the earlier run's model folder, which --overwrite set "
        f"aside and did not put back; move {stash / 'model'} back to {out / 'model'} and "
        f"delete {stash}"
    )
