"""``siamkit configs`` gives an installed siamkit the repository's configs/: the README's
``siamkit train configs/demo.yaml`` otherwise fails with "config file configs/demo.yaml does not
exist" for everyone who ran ``pip install siamkit`` instead of cloning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _repo_configs() -> dict[str, bytes]:
    """Every file of the repository's configs/, read independently of the command."""
    base = ROOT / "configs"
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_it_writes_every_config_byte_identical(tmp_path: Path) -> None:
    expected = _repo_configs()
    assert "demo.yaml" in expected and "data/text-pairs-example.csv" in expected
    res = CliRunner().invoke(cli, ["configs", "--out", str(tmp_path / "cfg")])
    assert res.exit_code == 0, res.output
    assert _tree(tmp_path / "cfg") == expected
    assert f"wrote {len(expected)} of siamkit's {len(expected)}" in res.output


def test_the_default_folder_runs_the_readme_lines_from_where_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written to ./configs (the default), the paths the README and text-pairs.yaml use hold."""
    from siamkit.training import load_config

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["configs"])
    assert res.exit_code == 0, res.output
    assert "note:" not in res.output  # no path to fix: configs/data/... is where it says
    assert load_config("configs/demo.yaml") == load_config(ROOT / "configs" / "demo.yaml")
    assert Path("configs/data/text-pairs-example.csv").is_file()


def test_an_edited_copy_is_kept_and_nothing_is_written_without_force(tmp_path: Path) -> None:
    out = tmp_path / "cfg"
    assert CliRunner().invoke(cli, ["configs", "--out", str(out)]).exit_code == 0
    (out / "demo.yaml").write_text("# mine\n", encoding="utf-8")
    (out / "simclr.yaml").unlink()
    res = CliRunner().invoke(cli, ["configs", "--out", str(out)])
    assert res.exit_code == 1
    assert "1 file that differs from the shipped ones (demo.yaml)" in res.output
    assert "--force" in res.output
    assert (out / "demo.yaml").read_text(encoding="utf-8") == "# mine\n"
    assert not (out / "simclr.yaml").exists()  # refused before anything was written
    res = CliRunner().invoke(cli, ["configs", "--out", str(out), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert _tree(out) == _repo_configs()


def test_identical_files_are_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "cfg"
    assert CliRunner().invoke(cli, ["configs", "--out", str(out)]).exit_code == 0
    os.utime(out / "demo.yaml", (1_000_000, 1_000_000))
    res = CliRunner().invoke(cli, ["configs", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 0 of" in res.output and "already there, unchanged" in res.output
    assert (out / "demo.yaml").stat().st_mtime == 1_000_000


def test_another_folder_is_told_where_text_pairs_looks_for_its_data(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    res = CliRunner().invoke(cli, ["configs", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{out / 'text-pairs.yaml'} reads configs/data/text-pairs-example.csv" in res.output
    assert str(out / "data" / "text-pairs-example.csv") in res.output


def test_an_out_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    res = CliRunner().invoke(cli, ["configs", "--out", str(tmp_path / "f" / "cfg")])
    assert res.exit_code == 1 and "is a file, not a folder" in res.output


def test_list_names_each_config_with_what_it_is(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["configs", "--list"])
    assert res.exit_code == 0, res.output
    lines = {line.split()[0]: line for line in res.output.splitlines()}
    assert set(lines) == set(_repo_configs())
    assert "The `siamkit demo` recipe" in lines["demo.yaml"]


def test_the_next_line_pastes_into_a_shell_for_a_folder_with_spaces(tmp_path: Path) -> None:
    """'next: siamkit train /x/My Configs ü/demo.yaml' split into two words in a shell."""
    import shlex

    out = tmp_path / "My Configs ü"
    res = CliRunner().invoke(cli, ["configs", "--out", str(out)])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("next: "))
    assert shlex.split(line.removeprefix("next: ")) == [
        "siamkit",
        "train",
        str(out / "demo.yaml"),
        "--out",
        "runs/demo",
    ]
