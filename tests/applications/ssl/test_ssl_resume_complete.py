"""``siamkit train --resume`` of a ``task: ssl`` run said nothing of the checkpoint it picked up
and, on a finished run, trained nothing but saved, reported and summarised it again (adding the
time to metrics.json's train_seconds): as an image run's resume (1e5fb7d), it now says
'resuming at epoch N of E from CHECKPOINT (K epochs left)', or that the run is already complete
and how to train longer, ending there with none of the run's files changed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from siamkit.applications.ssl.task import run
from siamkit.training.tasks import TaskOptions
from siamkit.training.trainer import Trainer

SMALL: dict[str, Any] = {
    "method": "simclr",
    "data": {"dataset": "digits"},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32},
    "train": {"epochs": 1, "batch_size": 32, "steps_per_epoch": 2, "knn_k": 5, "device": "cpu"},
}
QUIET = TaskOptions(progress=False, log=lambda s: None)


def _cfg(**train: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SMALL)
    doc["train"].update(train)
    return doc


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _resume(doc: dict[str, Any], out: Path) -> tuple[Any, list[str]]:
    said: list[str] = []
    summary = run(doc, out, TaskOptions(resume=True, progress=False, log=said.append))
    return summary, said


def test_a_finished_ssl_run_resumed_is_complete_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    run(_cfg(), out, QUIET)
    before = _files(out)
    summary, said = _resume(_cfg(), out)
    assert said == [
        f"{out / 'checkpoint.pt'} holds a finished run (epochs 1 of 1): the run is already "
        "complete, so nothing was trained and none of its files changed; to train longer, resume "
        "with train.epochs above 1 (--set train.epochs=2 --resume; the cosine schedule then "
        "spans the new total, so the rate rises again)"
    ]
    assert _files(out) == before  # metrics.json's train_seconds among them
    # the run's summary as it finished
    assert summary.metrics == json.loads((out / "metrics.json").read_text())
    assert summary.model_dir == out / "model"
    assert set(summary.files) == {"history", "metrics", "report"}
    # what the line advises trains the next epoch, saying where it resumes
    summary, said = _resume(_cfg(epochs=2), out)
    assert said[0] == f"resuming at epoch 2 of 2 from {out / 'checkpoint.pt'} (1 epoch left)"
    assert not any("already complete" in s or "holds a finished" in s for s in said), said
    assert summary.metrics["epochs"] == 2


def test_an_interrupted_ssl_run_resumed_says_where_it_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_epoch = Trainer._epoch

    def stop_at_third(self: Trainer, epoch: int) -> float:
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "_epoch", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        run(_cfg(epochs=3), tmp_path / "o", QUIET)
    monkeypatch.setattr(Trainer, "_epoch", real_epoch)
    summary, said = _resume(_cfg(epochs=3), tmp_path / "o")
    ckpt = tmp_path / "o" / "checkpoint.pt"
    assert [s for s in said if "resum" in s] == [
        f"resuming at epoch 3 of 3 from {ckpt} (1 epoch left)"
    ]
    assert said.index(f"resuming at epoch 3 of 3 from {ckpt} (1 epoch left)") == 0
    assert summary.metrics["epochs"] == 3


def test_a_finished_run_whose_model_was_not_saved_is_saved_on_resume(tmp_path: Path) -> None:
    """A run killed after its last checkpoint, before its model was saved: the resume saves it
    (saying why nothing was trained), not 'complete' with no model."""
    out = tmp_path / "o"
    run(_cfg(), out, QUIET)
    import shutil

    shutil.rmtree(out / "model")
    (out / "metrics.json").unlink()
    summary, said = _resume(_cfg(), out)
    assert summary.model_dir == out / "model" and (out / "model").is_dir()
    assert (out / "metrics.json").is_file()
    assert [s for s in said if "finished run" in s] == [
        f"{out / 'checkpoint.pt'} holds a finished run (all 1 of 1 epochs): nothing is left to "
        "resume, so the model is saved and summarised again as it is; to train longer, resume "
        "with train.epochs above 1 (--set train.epochs=2 --resume; the cosine schedule then "
        "spans the new total, so the rate rises again)"
    ]
