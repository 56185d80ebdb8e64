"""``siamkit train ... --resume`` of a run that had finished printed its summary again, as if it
had trained, without a word that nothing was left to train: image, self-supervised and tracker
runs (all on the Trainer) now say so in one line, and how to train longer (a text run says it
itself: tests/applications/text/test_text_resume_finished.py); an image run's resume now ends
there, changing no file, and a resume that trains on says where it resumes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from _tiny_ssl import save_photos, train_tiny_ssl
from siamkit.cli.main import cli
from siamkit.training.resume_note import nothing_resumed_line
from siamkit.training.trainer import TrainResult

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "digits-tiny.yaml"
TRACKER = {  # a tiny siamfc run of 2 steps, one an epoch
    "task": "siamfc",
    "model": {"backbone": "tiny"},
    "data": {"frame_size": [160, 120], "n_frames": 20},
    "train": {"steps": 2, "batch_size": 2, "threads": 1, "checkpoint_every": 1},
    "eval": {"n_sequences": 1, "n_frames": 5, "frame_size": [160, 120]},
}


RUN_SAVES = ("model", "metrics.json", "report.html", "history.json")
"""What an image run saves after its last checkpoint."""


def _said(output: str, start: str) -> list[str]:
    return [line for line in output.splitlines() if start in line]


def _train_then_resume(args: list[str]) -> Result:
    """Train with ``args`` (which must not say the run is finished), then resume it; the resume's
    result, both exits checked."""
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert not _said(first.output, "nothing is left")
    again = CliRunner().invoke(cli, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    return again


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_an_image_run_resumed_after_its_last_epoch_is_complete_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """The resume of a finished image run trained nothing but saved, calibrated, evaluated and
    reported it again, adding the time to its train_seconds: it now says the run is complete
    and ends (status 0) leaving every file as it was; raising train.epochs trains on, saying
    where it resumes."""
    out = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "2"]
    args += ["--set", "train.steps_per_epoch=2", "--set", "train.epochs=1"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert not _said(first.output, "resuming at") and not _said(first.output, "complete")
    before = _files(out)
    again = CliRunner().invoke(cli, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    # the finished run's metrics table and files, as its own run printed them (it printed only
    # the line, where a complete text or ssl run's resume prints its table too)
    table = first.stdout[first.stdout.index("metric (unseen classes)") :]
    assert "EER" in table and f"metrics: {out / 'metrics.json'}" in table
    assert again.stdout == table and again.stderr.splitlines() == [
        f"{out / 'checkpoint.pt'} holds a finished run (epochs 1 of 1): the run is already "
        "complete, so nothing was trained and none of its files changed; to train longer, resume "
        "with train.epochs above 1 (--set train.epochs=2 --resume; the cosine schedule then "
        "spans the new total, so the rate rises again)"
    ]
    assert _files(out) == before  # metrics.json's train_seconds among them
    as_json = CliRunner().invoke(cli, [*args, "--resume", "--json"])  # the run's metrics
    assert as_json.exit_code == 0 and as_json.stdout == before["metrics.json"][0].decode() + "\n"
    assert _files(out) == before
    # what the line advises trains the next epoch, saying where it resumes
    longer = CliRunner().invoke(cli, [*args[:-2], "--set", "train.epochs=2", "--resume"])
    assert longer.exit_code == 0, longer.output
    assert _said(longer.stderr, "resuming at") == [
        f"resuming at epoch 2 of 2 from {out / 'checkpoint.pt'} (1 epoch left)"
    ]
    assert "epoch 2/2" in longer.output and not _said(longer.output, "complete")


@pytest.mark.parametrize("lost", [("model",), ("metrics.json",), RUN_SAVES])
def test_an_image_run_whose_final_save_never_happened_is_saved_on_resume(
    tmp_path: Path, lost: tuple[str, ...]
) -> None:
    """A run killed (or out of disk) after its last checkpoint, in its final save or evaluation,
    as the full-disk and interrupt sentences send users to --resume: the resume said it was
    already complete and ended with no model or metrics.json; it now saves, evaluates and
    reports it, saying why no epoch was trained."""
    out = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "2"]
    args += ["--set", "train.steps_per_epoch=2", "--set", "train.epochs=1"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    for name in lost:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    again = CliRunner().invoke(cli, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    assert not _said(again.output, "already complete")
    assert _said(again.output, "nothing is left to resume, so the model is saved")
    assert all((out / name).exists() for name in RUN_SAVES)
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["verification"]


def test_an_interrupted_image_run_resumed_says_where_it_resumes(tmp_path: Path) -> None:
    """A resumed run said nothing of the checkpoint it picked up, nor how much was left."""
    out = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "2"]
    args += ["--set", "train.steps_per_epoch=1"]
    first = CliRunner().invoke(cli, [*args, "--set", "train.epochs=1"])  # 1 epoch of the 3
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, [*args, "--set", "train.epochs=3", "--resume"])
    assert again.exit_code == 0, again.output
    assert _said(again.stderr, "resuming at") == [
        f"resuming at epoch 2 of 3 from {out / 'checkpoint.pt'} (2 epochs left)"
    ]
    assert "epoch 2/3" in again.output and "epoch 1/3" not in again.output


def test_an_ssl_run_resumed_after_its_last_epoch_is_complete_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """As an image run's: a finished ``task: ssl`` run's resume was saved and summarised again
    (its train_seconds added to); it now says the run is complete and ends, changing no file
    (--json prints its metrics.json); raising train.epochs trains on, saying where it resumes."""
    photos = save_photos(tmp_path / "photos", 20)
    model = train_tiny_ssl(tmp_path, photos)
    out = model.parent
    args = ["train", str(tmp_path / "o.yaml"), "--out", str(out), "--no-progress"]
    before = _files(out)
    again = CliRunner().invoke(cli, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    assert _said(again.output, "holds a finished run") == [
        f"{out / 'checkpoint.pt'} holds a finished run (epochs 1 of 1): the run is already "
        "complete, so nothing was trained and none of its files changed; to train longer, resume "
        "with train.epochs above 1 (--set train.epochs=2 --resume; the cosine schedule then "
        "spans the new total, so the rate rises again)"
    ]
    assert _files(out) == before  # metrics.json's train_seconds among them
    as_json = CliRunner().invoke(cli, [*args, "--resume", "--json"])  # the run's metrics
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(before["metrics.json"][0])
    assert _said(as_json.stderr, "already complete") and _files(out) == before
    longer = CliRunner().invoke(cli, [*args, "--set", "train.epochs=2", "--resume"])
    assert longer.exit_code == 0, longer.output
    assert _said(longer.output, "resuming at") == [
        f"resuming at epoch 2 of 2 from {out / 'checkpoint.pt'} (1 epoch left)"
    ]
    assert "epoch 2/2" in longer.output and not _said(longer.output, "complete")


@pytest.mark.parametrize(
    ("result", "epochs", "schedule", "said"),
    [
        (TrainResult([], None, None, False), 3, "cosine", None),  # a new run
        (TrainResult([], None, None, False, resumed_at=1, epochs_run=2), 3, "cosine", None),
        (
            TrainResult([], None, None, True, resumed_at=4, epochs_run=0),
            10,
            "cosine",
            "r/checkpoint.pt holds a run that stopped early, after epoch 4 of 10: nothing is left "
            "to resume, so the model is saved and summarised again as it is; to train longer, "
            "start a new run from its model (--init-from r/model --out NEW)",
        ),
        (
            TrainResult([], None, None, False, resumed_at=3, epochs_run=0),
            3,
            "onecycle",
            "r/checkpoint.pt holds a finished run (all 3 of 3 epochs): nothing is left to "
            "resume, so the model is saved and summarised again as it is; to train longer, start "
            "a new run from its model (--init-from r/model --out NEW): optim.schedule onecycle "
            "fixes train.epochs",
        ),
        (
            TrainResult([], None, None, False, resumed_at=3, epochs_run=0),
            2,
            "constant",
            "r/checkpoint.pt holds a finished run (3 epochs): nothing is left to resume, so the "
            "model is saved and summarised again as it is; to train longer, resume with "
            "train.epochs above 3 (--set train.epochs=6 --resume)",
        ),
    ],
)
def test_the_line_for_each_way_a_resume_can_find_nothing_to_train(
    result: TrainResult, epochs: int, schedule: str, said: str | None
) -> None:
    assert nothing_resumed_line(result, epochs, "r/checkpoint.pt", "r", schedule) == said


def test_a_tracker_run_resumed_after_its_last_step_says_nothing_was_left(tmp_path: Path) -> None:
    # a siamfc run shares the Trainer but said nothing; it has no train.epochs, and a resume
    # may not change train.steps (the learning rate decays over them): a new run from its model
    cfg = tmp_path / "t.yaml"
    cfg.write_text(yaml.safe_dump(TRACKER))
    out = tmp_path / "run"
    args = ["train", str(cfg), "--out", str(out), "--no-progress"]
    again = _train_then_resume(args)
    assert _said(again.output, "holds a finished run") == [
        f"{out / 'checkpoint.pt'} holds a finished run (all 2 of 2 steps): nothing is left to "
        "resume, so the model is validated and saved again as it is; to train longer, start a "
        f"new run from its model (--init-from {out}/model --out NEW): train.steps cannot change "
        "on resume, as the learning rate decays over them, and the new run decays it from "
        "train.lr again over its own train.steps"
    ]
    assert "step 1:" not in again.output
    longer = CliRunner().invoke(cli, [*args, "--set", "train.steps=4", "--resume"])
    assert longer.exit_code == 1 and "(train.steps)" in longer.output, longer.output
    # what the line advises trains the steps again from the run's model
    new = CliRunner().invoke(
        cli,
        [
            *args[:-3],
            "--init-from",
            f"{out}/model",
            "--out",
            str(tmp_path / "new"),
            "--no-progress",
        ],
    )
    assert new.exit_code == 0, new.output
    assert f"starting from the weights of {out}/model" in new.output and "step 2:" in new.output
    assert not _said(new.output, "nothing is left")
