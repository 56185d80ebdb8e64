"""``--resume`` of a ``task: text`` run refuses a data file edited since the run started under the
same path, naming it, before anything is written: the config guard compares paths, so a
``data.train`` or ``data.val`` edited in place was taken without a word and the run continued
on other examples (another split, other batches) than it started with. The checkpoint records
each file's size and SHA-256; a checkpoint from before it did resumes as before, with a note."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from _text_runs import cut_run, text_config
from click.testing import CliRunner

from siamkit.applications.text.train_resume import DATA_FILES
from siamkit.atomic import sha256_file
from siamkit.cli.main import cli
from siamkit.training.checkpoint import load_checkpoint, save_checkpoint
from siamkit.training.tasks import TaskOptions, get_task


def _edit(path: Path) -> None:
    """One score changed, the file's size kept (its contents alone tell the edit)."""
    text = path.read_text()
    assert text.count(",4.9") == 1
    path.write_text(text.replace(",4.9", ",3.9"))


def _cut_with_val(
    pairs_csv: Path, tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **train: Any
) -> tuple[dict[str, Any], Path, Path]:
    """A run of ``pairs_csv`` validated on a copy of it, killed after its first checkpoint."""
    val = tmp_path / "val.csv"
    shutil.copy(pairs_csv, val)
    cfg = text_config(pairs_csv, tiny_hf, checkpoint_every=1, **train)
    cfg["data"]["val"] = str(val)
    out = tmp_path / "cut"
    cut_run(cfg, out, monkeypatch)
    return cfg, out, val


def test_the_checkpoint_records_the_data_files_contents(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, val = _cut_with_val(pairs_csv, tiny_hf, tmp_path, monkeypatch)
    recorded = load_checkpoint(out / "checkpoint.pt")[DATA_FILES]
    assert recorded == {
        key: {"path": str(p), "size": p.stat().st_size, "sha256": sha256_file(p)}
        for key, p in (("data.train", pairs_csv), ("data.val", val))
    }


@pytest.mark.parametrize("key", ["data.train", "data.val"])
def test_a_data_file_edited_in_place_is_refused_by_name_and_nothing_is_rewritten(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    cfg, out, val = _cut_with_val(pairs_csv, tiny_hf, tmp_path, monkeypatch)
    before, written = (out / "checkpoint.pt").read_bytes(), (out / "config.yaml").read_bytes()
    edited = pairs_csv if key == "data.train" else val
    _edit(edited)
    config = tmp_path / "text.yaml"
    config.write_text(yaml.safe_dump({"task": "text", **cfg}))
    args = ["train", str(config), "--out", str(out), "--resume", "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert f"{key} {edited} has changed since {out / 'checkpoint.pt'} was made" in res.output
    assert "start a new run (--out NEW)" in res.output
    assert (out / "checkpoint.pt").read_bytes() == before
    assert (out / "config.yaml").read_bytes() == written
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml"]


def test_unchanged_files_resume_and_validation_read_at_the_end_alone_may_change(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # under train.val_metric none only the evaluation after training reads data.val, whose
    # path may change on resume too; its contents may as well
    cfg, out, val = _cut_with_val(pairs_csv, tiny_hf, tmp_path, monkeypatch, val_metric="none")
    _edit(val)
    lines: list[str] = []
    summary = get_task("text")(cfg, out, TaskOptions(progress=False, resume=True, log=lines.append))
    assert "similarity.spearman" in summary.metrics
    assert not [line for line in lines if "has changed since" in line or "recorded their" in line]


def test_a_checkpoint_from_before_the_hashes_resumes_with_a_note(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, out, _ = _cut_with_val(pairs_csv, tiny_hf, tmp_path, monkeypatch)
    state = load_checkpoint(out / "checkpoint.pt")
    del state[DATA_FILES]
    save_checkpoint(state, out / "checkpoint.pt")
    _edit(pairs_csv)  # not noticed: nothing recorded it
    lines: list[str] = []
    get_task("text")(cfg, out, TaskOptions(progress=False, resume=True, log=lines.append))
    assert (
        f"{out / 'checkpoint.pt'} was made before checkpoints recorded their data files' "
        "contents, so an edit of data.train or data.val since then cannot be noticed on this "
        "resume (the checkpoints it writes record them)"
    ) in lines
    assert load_checkpoint(out / "checkpoint.pt")[DATA_FILES]["data.train"]["sha256"] == (
        sha256_file(pairs_csv)
    )
