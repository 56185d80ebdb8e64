"""``siamkit train config.yaml --out .`` (or ``--out runs/x`` with CONFIG runs/x/config.yaml)
replaced the user's config, comments and all, with the resolved config the run writes to
OUT/config.yaml. A new run and an --overwrite are refused before anything is written; a
--resume from the run's own config.yaml, the file it wrote, goes on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SHORT = ["--no-progress", "--episodes", "2", "--set", "train.steps_per_epoch=1",
         "--set", "train.epochs=1"]  # fmt: skip


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    text = "# my notes on this run\n" + TINY.read_text(encoding="utf-8")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("flags", [[], ["--overwrite"]])
def test_the_config_in_out_is_refused_before_anything_is_written(
    work: Path, flags: list[str]
) -> None:
    before = {p.name: p.read_bytes() for p in work.iterdir()}
    res = CliRunner().invoke(cli, ["train", "config.yaml", "--out", ".", *SHORT, *flags])
    assert res.exit_code == 2, res.output
    assert "copy it elsewhere first" in res.output
    assert {p.name: p.read_bytes() for p in work.iterdir()} == before


def test_the_same_file_through_another_path_is_refused(work: Path) -> None:
    (work / "runs").mkdir()
    shutil.move(work / "config.yaml", work / "runs" / "config.yaml")
    (work / "link.yaml").symlink_to(work / "runs" / "config.yaml")
    res = CliRunner().invoke(cli, ["train", "link.yaml", "--out", "runs", *SHORT])
    assert res.exit_code == 2, res.output
    assert (work / "runs" / "config.yaml").read_text().startswith("# my notes")


@pytest.mark.slow
def test_a_resume_from_the_runs_own_config_goes_on(work: Path) -> None:
    res = CliRunner().invoke(cli, ["train", "config.yaml", "--out", "runs/x", *SHORT])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        cli, ["train", "runs/x/config.yaml", "--out", "runs/x", "--resume", *SHORT]
    )
    assert res.exit_code == 0, res.output
    assert "copy it elsewhere" not in res.output
