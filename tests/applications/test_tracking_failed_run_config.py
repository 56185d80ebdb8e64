"""A tracking run stopped before its first checkpoint removed OUT/config.yaml, the file it had
just written, without asking whether it still was: a config.yaml the user saved over the run's
meanwhile (an editor's save) was deleted, by ``siamkit train`` and by the library's run() alike.
It now removes only the run's own file (``siamkit.atomic.written_here``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import siamkit.applications.tracking.task as task
from siamkit.cli.main import cli
from siamkit.training.tasks import TaskOptions

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "siamfc.yaml"


def _stop_in_training(monkeypatch: pytest.MonkeyPatch, out: Path, user_saves: bool) -> None:
    def stopped(*args: object, **kwargs: object) -> None:
        if user_saves:
            (out / "config.yaml").unlink()  # an editor's save: a new file
            (out / "config.yaml").write_text("# mine\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(task, "train_siamfc", stopped)


@pytest.mark.parametrize("user_saves", [True, False])
def test_the_library_run_removes_only_its_own_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_saves: bool
) -> None:
    out = tmp_path / "runs" / "trk"
    out.mkdir(parents=True)
    (out / "notes.txt").write_text("x")  # OUT was there: it stays either way
    _stop_in_training(monkeypatch, out, user_saves)
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config.pop("task")  # (the line that picks this runner)
    with pytest.raises(KeyboardInterrupt):
        task.run(config, out, TaskOptions(progress=False, log=lambda _line: None))
    left = {p.name: p.read_text() for p in out.iterdir()}
    expected = {"notes.txt": "x", **({"config.yaml": "# mine\n"} if user_saves else {})}
    assert left == expected  # the run's own config.yaml goes, the user's stays


def test_siamkit_train_keeps_a_config_the_user_saved_over_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs" / "trk"
    _stop_in_training(monkeypatch, out, user_saves=True)
    res = CliRunner().invoke(cli, ["train", str(CONFIG), "--out", str(out), "--no-progress"])
    assert res.exit_code == 130, res.output
    assert {p.name: p.read_text() for p in out.iterdir()} == {"config.yaml": "# mine\n"}
