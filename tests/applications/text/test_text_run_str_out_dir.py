"""The text runner, called from Python as ``get_task("text")(doc, out_dir, TaskOptions())``,
took ``out_dir`` only as a ``Path``: a notebook's ``"runs/x"`` failed with ``AttributeError``
(ssl takes a str since cf5c5aa)."""

from __future__ import annotations

from pathlib import Path

from _text_runs import text_config

from siamkit.training import TaskOptions, get_task


def test_the_text_runner_takes_out_dir_as_a_str(
    pairs_csv: Path, tiny_hf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    quiet = TaskOptions(progress=False, log=lambda line: None)
    summary = get_task("text")(text_config(pairs_csv, tiny_hf, epochs=1), str(out), quiet)
    assert (out / "metrics.json").is_file() and (out / "config.yaml").is_file()
    assert summary.model_dir is not None and Path(summary.model_dir).is_dir()
