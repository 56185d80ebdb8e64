"""``siamkit.applications.ssl.run`` from a notebook: the whole ``configs/simclr.yaml`` mapping
(its ``task: ssl`` key too), a ``str`` folder and no options, as ``run_experiment`` takes them."""

from __future__ import annotations

from pathlib import Path

from siamkit.applications.ssl import run

DOC = {
    "task": "ssl",
    "method": "simclr",
    "data": {"dataset": "digits", "limit": 120},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32, "pred_hidden": 8},
    "train": {"epochs": 1, "batch_size": 32, "steps_per_epoch": 1, "knn_k": 5, "device": "cpu"},
}


def test_a_yaml_mapping_and_a_str_folder_run_without_options(tmp_path: Path, capsys) -> None:
    # was: ConfigError unknown section 'task', then AttributeError: 'str' object has no
    # attribute 'mkdir' (after the data loaded), then a missing options argument
    out = str(tmp_path / "ssl")
    summary = run(DOC, out)
    assert summary.model_dir == Path(out) / "model" and summary.model_dir.is_dir()
    assert DOC["task"] == "ssl"  # the caller's mapping is left as it was
    assert "simclr: self-supervised on" in capsys.readouterr().out  # TaskOptions()'s log
