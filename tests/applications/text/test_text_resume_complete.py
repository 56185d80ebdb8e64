"""``siamkit train --resume`` of a ``task: text`` run said 'resumed from CHECKPOINT at epoch N,
step S', not the image runs' 'resuming at epoch N of E from CHECKPOINT (K epochs left)', and on
a finished run validated, saved and reported it again: as an image run's resume (1e5fb7d), it
now says where it resumes in the same words, or that the run is already complete and how to
train longer, ending there with none of the run's files changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _text_runs import cut_run, finished_line, finished_text_run, text_config
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training.tasks import TaskOptions, get_task


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_finished_text_run_resumed_is_complete_and_changes_nothing(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    _, out, args = finished_text_run(pairs_csv, tiny_hf, tmp_path)
    before = _files(out)
    again = CliRunner().invoke(cli, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    said = [line for line in again.output.splitlines() if "holds a finished run" in line]
    assert said == [finished_line(out)]
    assert _files(out) == before
    as_json = CliRunner().invoke(cli, [*args, "--resume", "--json"])  # the run's metrics
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(before["metrics.json"][0])
    assert "already complete" in as_json.stderr and _files(out) == before


@pytest.mark.parametrize(
    ("every", "at", "said"),
    [
        (0, 1, "resuming at epoch 2 of 2 from {ckpt} (1 epoch left)"),
        # a checkpoint within the first epoch, after its first step of 2
        (1, 1, "resuming at epoch 1 of 2, step 2 of 2, from {ckpt} (1 step of it and 1 more "
               "epoch left)"),
    ],
)  # fmt: skip
def test_an_interrupted_text_run_resumed_says_where_it_resumes(
    tiny_hf: Path,
    pairs_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    every: int,
    at: int,
    said: str,
) -> None:
    cfg = text_config(pairs_csv, tiny_hf, checkpoint_every=every)
    out = tmp_path / "run"
    cut_run(cfg, out, monkeypatch, at=at)
    lines: list[str] = []
    summary = get_task("text")(cfg, out, TaskOptions(progress=False, resume=True, log=lines.append))
    assert [line for line in lines if "resum" in line] == [said.format(ckpt=out / "checkpoint.pt")]
    assert summary.model_dir is not None and summary.model_dir.is_dir()


def test_a_finished_run_whose_model_was_not_saved_is_saved_on_resume(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    """A run killed after its last checkpoint, before its model was saved: the resume
    validates and saves it (saying so), rather than calling it complete with no model."""
    cfg = text_config(pairs_csv, tiny_hf, epochs=1)
    out = tmp_path / "run"
    get_task("text")(cfg, out, TaskOptions(progress=False))
    shutil.rmtree(out / "model")
    (out / "metrics.json").unlink()
    lines: list[str] = []
    summary = get_task("text")(cfg, out, TaskOptions(progress=False, resume=True, log=lines.append))
    assert summary.model_dir == out / "model" and (out / "model").is_dir()
    assert (out / "metrics.json").is_file()
    said = [line for line in lines if "holds a finished run" in line]
    assert len(said) == 1 and "the model is validated and saved again" in said[0], lines
