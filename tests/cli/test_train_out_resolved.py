"""``siamkit train --out`` was checked and cleaned up on its text: ``--out new/..`` counted as a
new folder (``new/..`` did not exist), so a run that failed or was interrupted before its first
checkpoint removed it, the folder the command ran in, with everything in it (and
``new/../mine`` the user's ``mine/``); ``--out runs/new/../old`` overwrote the finished run in
runs/old that ``--out runs/old`` refuses. And a failed new run removed the OUT it made with
``shutil.rmtree``: a user's file saved there during the first epoch went with it. OUT is now
resolved once, and a failed new run removes only the files it wrote, then each folder it made
while empty."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.atomic import missing_folders
from siamkit.cli.main import cli
from siamkit.training.trainer import Trainer

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _args(out: str) -> list[str]:
    return ["train", str(TINY), "--out", out, "--no-progress", "--episodes", "2",
            "--set", "train.steps_per_epoch=1", "--set", "train.epochs=2"]  # fmt: skip


def _interrupt_in_epoch_1(monkeypatch: pytest.MonkeyPatch, then: object = None) -> None:
    """Ctrl-C in the first epoch, before any checkpoint; ``then(trainer)`` runs first."""

    def stopped(self: Trainer, at: int) -> float:
        if callable(then):
            then(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_epoch", stopped)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the command runs in, holding a user's file."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "thesis.tex").write_text("three years")
    monkeypatch.chdir(folder)
    return folder


def test_out_new_dotdot_interrupted_keeps_the_folder_it_runs_in(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt_in_epoch_1(monkeypatch)
    res = CliRunner().invoke(cli, _args("nonexist/.."))
    assert res.exit_code == 130, res.output
    assert work.is_dir() and _files(work) == {"thesis.tex": b"three years"}  # config.yaml gone
    assert not (work / "nonexist").exists()  # the run wrote in the folder OUT names


def test_out_new_dotdot_existing_interrupted_keeps_the_users_files(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (work / "existing").mkdir()
    (work / "existing" / "notes.txt").write_text("mine")
    _interrupt_in_epoch_1(monkeypatch)
    res = CliRunner().invoke(cli, _args("nonexist/../existing"))
    assert res.exit_code == 130, res.output
    assert _files(work / "existing") == {"notes.txt": b"mine"}
    assert _files(work) == {"thesis.tex": b"three years", "existing/notes.txt": b"mine"}


def test_a_finished_run_behind_dotdot_is_refused_as_its_own_path_is(work: Path) -> None:
    old = work / "runs" / "old"
    (old / "model").mkdir(parents=True)
    (old / "model" / "weights.safetensors").write_bytes(b"trained")
    (old / "metrics.json").write_text("{}")
    direct = CliRunner().invoke(cli, _args("runs/old"))
    around = CliRunner().invoke(cli, _args("runs/new/../old"))
    assert direct.exit_code == around.exit_code == 2, around.output
    assert "runs/old already holds a run (model)" in direct.output
    assert "runs/old already holds a run (model)" in around.output
    assert _files(old) == {"model/weights.safetensors": b"trained", "metrics.json": b"{}"}
    assert not (work / "runs" / "new").exists()


def test_a_users_file_saved_in_the_new_out_during_epoch_1_survives_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sweep" / "run"

    def user_saves(trainer: Trainer) -> None:
        assert (out / "config.yaml").is_file()  # the run's, written before training
        (out / "notes.txt").write_text("lr 1e-3 looks slow")
        (out / "plots").mkdir()
        (out / "plots" / "loss.png").write_bytes(b"png")
        (out / "empty").mkdir()

    _interrupt_in_epoch_1(monkeypatch, user_saves)
    res = CliRunner().invoke(cli, _args(str(out)))
    assert res.exit_code == 130, res.output
    assert _files(out) == {"notes.txt": b"lr 1e-3 looks slow", "plots/loss.png": b"png"}
    assert not (out / "empty").exists()  # an empty folder holds nobody's file
    assert (
        f"config.yaml written in the new folder {out} removed, the files there that the run did "
        "not write kept" in res.output
    )


def test_a_failed_new_run_with_nothing_else_in_out_still_removes_the_folders_it_made(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt_in_epoch_1(monkeypatch)
    res = CliRunner().invoke(cli, _args("sweep/run"))
    assert res.exit_code == 130, res.output
    assert sorted(os.listdir(work)) == ["thesis.tex"]


def test_missing_folders_works_on_the_resolved_path(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    assert missing_folders(tmp_path / "new" / "..") == []
    assert missing_folders(tmp_path / "new" / ".." / "old") == []
    assert missing_folders(tmp_path / "new" / ".." / "b" / "c") == [
        tmp_path / "b" / "c",
        tmp_path / "b",
    ]
    (tmp_path / "link").symlink_to(tmp_path / "old")
    assert missing_folders(tmp_path / "link" / "x") == [tmp_path / "old" / "x"]


def test_a_users_file_and_the_image_cache_in_the_new_out_both_stay_and_are_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    from PIL import Image

    import siamkit.experiment.run as run_module

    photos = tmp_path / "photos"
    for c in "abcd":
        (photos / c).mkdir(parents=True)
        for i in range(8):
            pixels = np.random.default_rng(100 * ord(c) + i).integers(0, 256, (12, 12, 3))
            Image.fromarray(pixels.astype(np.uint8)).save(photos / c / f"{i}.png")
    out = tmp_path / "runs" / "b"

    def user_saves_then_ctrl_c(*args: object, **kwargs: object) -> None:
        (out / "notes.txt").write_text("mine")
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "check_positives", user_saves_then_ctrl_c)
    args = [
        "train", str(TINY), "--out", str(out), "--no-progress",
        "--set", "data.dataset=image-folder", "--set", f"data.root={photos}",
        "--set", "data.image_size=8", "--set", "data.cache=true", "--set", "data.train_classes=2",
    ]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 130, res.output
    cache = out / "image-cache"
    assert sorted(_files(out)) == [
        "image-cache/data.root-3x8x8.json",
        "image-cache/data.root-3x8x8.npy",
        "notes.txt",
    ]
    assert (
        f"Its image cache kept in {cache}: the same command reads the images from it" in res.output
    )


def test_out_below_a_file_then_dotdot_is_refused(work: Path) -> None:
    """``notes.txt/..`` with notes.txt a file: realpath dropped the ``..`` textually and the
    run wrote into the folder the command runs in; the path as typed is checked first."""
    (work / "notes.txt").write_text("mine")
    res = CliRunner().invoke(cli, _args("notes.txt/.."))
    assert res.exit_code == 2, res.output
    assert "notes.txt is a file, not a folder" in res.output
    assert _files(work) == {"thesis.tex": b"three years", "notes.txt": b"mine"}


def test_a_users_file_with_a_run_output_s_name_in_the_new_out_stays(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report.html (or a config.yaml saved over the run's) the user put in the new OUT
    during epoch 1 bears a name the run writes: the cleanup removed it as the run's own."""
    out = work / "runs" / "new"

    def user_saves(trainer: Trainer) -> None:
        (out / "report.html").write_text("<p>my notes</p>")
        (out / "history.json").write_text("[]")

    _interrupt_in_epoch_1(monkeypatch, user_saves)
    res = CliRunner().invoke(cli, _args(str(out)))
    assert res.exit_code == 130, res.output
    assert _files(out) == {"report.html": b"<p>my notes</p>", "history.json": b"[]"}
    assert f"config.yaml written in the new folder {out} removed" in res.output

    replaced = work / "runs" / "other"

    def user_replaces_config(trainer: Trainer) -> None:
        (replaced / "config.yaml").unlink()  # an editor's save: a new file
        (replaced / "config.yaml").write_text("# mine")

    _interrupt_in_epoch_1(monkeypatch, user_replaces_config)
    res = CliRunner().invoke(cli, _args(str(replaced)))
    assert res.exit_code == 130, res.output
    assert _files(replaced) == {"config.yaml": b"# mine"}
