"""A failed ``siamkit train --overwrite`` removed every run output in OUT before putting the
earlier run back, never asking whether the file was the run's: a report.html, or a config.yaml
saved over the run's, that the user put into OUT during the run went with it. And
``siamkit train runs/x/config.yaml --out runs/x`` over a run said "start again with
--overwrite", which was then refused as CONFIG in OUT: that refusal now comes first."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training.trainer import Trainer

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SHORT = ["--no-progress", "--episodes", "2", "--set", "train.steps_per_epoch=1",
         "--set", "train.epochs=2"]  # fmt: skip


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def earlier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """runs/old, holding an earlier run (a model and its config)."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs" / "old"
    (out / "model").mkdir(parents=True)
    (out / "model" / "weights.pt").write_text("earlier model")
    (out / "config.yaml").write_text("# earlier run\n")
    return out


def test_a_users_files_saved_during_a_failed_overwrite_stay(
    earlier: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(self: Trainer, at: int) -> float:
        (earlier / "report.html").write_text("<p>my notes</p>")  # not in the earlier run
        (earlier / "config.yaml").unlink()  # an editor's save over the run's config
        (earlier / "config.yaml").write_text("# mine")
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_epoch", stopped)
    res = CliRunner().invoke(
        cli, ["train", str(TINY), "--out", str(earlier), "--overwrite", *SHORT]
    )
    assert res.exit_code == 130, res.output
    stash = [p for p in earlier.iterdir() if p.name.startswith(".earlier-run-")]
    assert len(stash) == 1  # the earlier config.yaml, where the user's now is
    assert _files(earlier) == {
        "report.html": b"<p>my notes</p>",
        "config.yaml": b"# mine",
        "model/weights.pt": b"earlier model",
        f"{stash[0].name}/config.yaml": b"# earlier run\n",
    }
    assert f"the earlier run's config.yaml left where --overwrite set it aside, in {stash[0]}" in (
        res.output
    )
    res = CliRunner().invoke(
        cli, ["train", str(TINY), "--out", str(earlier), "--overwrite", *SHORT]
    )
    assert res.exit_code == 2 and "a file saved there during the run took their place" in res.output


def test_a_failed_overwrite_removes_its_own_files_and_puts_the_earlier_run_back(
    earlier: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(self: Trainer, at: int) -> float:
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_epoch", stopped)
    res = CliRunner().invoke(
        cli, ["train", str(TINY), "--out", str(earlier), "--overwrite", *SHORT]
    )
    assert res.exit_code == 130, res.output
    assert _files(earlier) == {
        "config.yaml": b"# earlier run\n",
        "model/weights.pt": b"earlier model",
    }
    assert not list(earlier.glob(".earlier-run-*")) and "set it aside" not in res.output


@pytest.mark.parametrize("flags", [[], ["--overwrite"]])
def test_the_runs_own_config_over_a_run_is_refused_as_config_in_out(
    earlier: Path, flags: list[str]
) -> None:
    before = _files(earlier)
    res = CliRunner().invoke(
        cli, ["train", str(earlier / "config.yaml"), "--out", str(earlier), *SHORT, *flags]
    )
    assert res.exit_code == 2, res.output
    assert "copy it elsewhere first" in res.output and "--overwrite" not in res.output
    assert _files(earlier) == before
