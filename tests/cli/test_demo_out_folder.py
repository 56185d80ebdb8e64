"""siamkit demo --out: an earlier demo's folder is replaced silently (``make demo`` again); a
folder holding anything else (a train run, other files) is refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from siamkit.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "digits-tiny.yaml")


def _demo(out: Path) -> Result:
    args = ["demo", "--config", TINY, "--out", str(out), "--epochs", "1", "--episodes", "10"]
    return CliRunner().invoke(cli, [*args, "--no-progress", "--device", "cpu"])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    res = _demo(out)
    assert res.exit_code == 0, res.output
    return out


def test_demo_again_into_its_own_folder_runs_silently(demo_dir: Path) -> None:
    assert json.loads((demo_dir / "metrics.json").read_text())["run"]["command"] == "siamkit demo"
    res = _demo(demo_dir)
    assert res.exit_code == 0, res.output
    assert "already holds" not in res.output and str(demo_dir / "metrics.json") in res.output


def test_demo_refuses_a_train_run(tmp_path: Path) -> None:
    """`siamkit train` refuses an existing run without --overwrite; the demo replaced one."""
    out = tmp_path / "trained"
    args = ["train", TINY, "--out", str(out), "--set", "train.epochs=1", "--episodes", "10"]
    res = CliRunner().invoke(cli, [*args, "--no-progress", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    before = _files(out)
    res = _demo(out)
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert f"--out {out} already holds a run that siamkit demo did not make" in said
    assert "checkpoint.pt" in said and "choose another --out, or remove" in said
    assert _files(out) == before


@pytest.mark.parametrize(
    "names",
    [
        ("notes.txt",),  # unrelated files
        ("config.yaml", "checkpoint.pt"),  # a run stopped before its metrics.json: no record
        ("study.db", "best.yaml"),  # a tuning study
    ],
)
def test_demo_refuses_a_folder_it_did_not_write(tmp_path: Path, names: tuple[str, ...]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in names:
        (out / name).write_text("mine")
    res = _demo(out)
    assert res.exit_code == 2 and f"--out {out} already holds" in " ".join(res.output.split())
    assert sorted(p.name for p in out.iterdir()) == sorted(names)


def test_demo_refuses_its_folder_with_other_files_added(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(demo_dir, out)
    (out / "gallery.npz").write_text("enrolled with the model")
    before = _files(out)
    res = _demo(out)
    assert res.exit_code == 2
    assert "files that siamkit demo did not write (gallery.npz)" in " ".join(res.output.split())
    assert _files(out) == before


def test_demo_refuses_a_metrics_json_of_another_command(demo_dir: Path, tmp_path: Path) -> None:
    """A train run's metrics.json (no run.command) has the demo's layout: it is not a record."""
    out = tmp_path / "out"
    shutil.copytree(demo_dir, out)
    doc = json.loads((out / "metrics.json").read_text())
    del doc["run"]["command"]
    (out / "metrics.json").write_text(json.dumps(doc))
    report = (out / "report.html").read_text()
    (out / "report.html").write_text(report.replace("<title>siamkit demo:", "<title>siamkit train"))
    res = _demo(out)
    assert res.exit_code == 2 and "a run that siamkit demo did not make" in res.output


def test_a_demo_from_before_the_record_is_known_by_its_report(demo_dir: Path, tmp_path) -> None:
    """Demo folders written before metrics.json recorded run.command (every `make demo` user's):
    the report's title says siamkit demo, so the next demo replaces them as before."""
    out = tmp_path / "out"
    shutil.copytree(demo_dir, out)
    doc = json.loads((out / "metrics.json").read_text())
    del doc["run"]["command"]
    (out / "metrics.json").write_text(json.dumps(doc))
    res = _demo(out)
    assert res.exit_code == 0, res.output
    assert json.loads((out / "metrics.json").read_text())["run"]["command"] == "siamkit demo"


def test_a_demo_stopped_before_its_metrics_runs_again(demo_dir: Path, tmp_path) -> None:
    """`make demo`, Ctrl-C, `make demo`: the stopped run left config.yaml and checkpoint.pt (and
    a temporary file if killed mid-write) but no metrics.json. The same demo runs again; a
    demo with other settings does not take it for its own."""
    out = tmp_path / "out"
    out.mkdir()
    for name in ("config.yaml", "checkpoint.pt"):
        shutil.copy(demo_dir / name, out / name)
    (out / ".metrics.json.x1y2").write_text("{")
    before = _files(out)
    other = ["demo", "--config", TINY, "--out", str(out), "--epochs", "2", "--episodes", "10"]
    res = CliRunner().invoke(cli, [*other, "--no-progress", "--device", "cpu"])
    assert res.exit_code == 2 and "a run that siamkit demo did not make" in res.output
    assert _files(out) == before
    res = _demo(out)
    assert res.exit_code == 0, res.output
    assert (out / "metrics.json").is_file()
