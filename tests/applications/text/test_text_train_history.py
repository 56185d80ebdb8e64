"""A text run's per-epoch history (mean training loss, validation figures each epoch), kept in
the checkpoint so that ``--resume`` continues it exactly, and its ``OUT/report.html``: the
training curves and the validation pairs' verification parts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _text_runs import cut_run
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

import siamkit
from siamkit.applications.text import train as text_train
from siamkit.applications.text import train_loop
from siamkit.evaluation import EvaluationReport
from siamkit.evaluation.report import render_verification_html
from siamkit.training.tasks import TaskOptions, get_task


@pytest.fixture
def labelled_csv(tmp_path: Path, graded_pairs: list[tuple[str, str, float]]) -> Path:
    """The twelve ticket pairs labelled 1 (alike, score >= 2.5) or 0."""
    path = tmp_path / "labelled.csv"
    rows = "".join(f"{a},{b},{int(s >= 2.5)}\n" for a, b, s in graded_pairs)
    path.write_text("a,b,label\n" + rows)
    return path


def _config(tiny: Path, data: Path, graded: bool = False, **train: Any) -> dict[str, Any]:
    """2 epochs of 2 steps on the 12 pairs, validated on the same file (data.val)."""
    return {
        "model": {"path": str(tiny), "max_length": 32, "overlap": 8},
        "data": {
            "train": str(data),
            "val": str(data),
            "score_range": [0, 5] if graded else None,
        },
        "loss": {"name": "cosent" if graded else "contrastive"},
        "train": {"epochs": 2, "batch_size": 6, "lr": 1e-3, "warmup": 0.0, **train},
    }


def _record(monkeypatch: pytest.MonkeyPatch) -> tuple[list[float], list[dict[str, Any]]]:
    """The step losses the loop returns, and a copy of the weights at each epoch's end."""
    losses: list[float] = []
    weights: list[dict[str, Any]] = []
    real_loop, real_save = text_train._loop, train_loop._save_checkpoint

    def loop(*args: Any, **kwargs: Any) -> list[float]:
        out = real_loop(*args, **kwargs)
        losses.extend(out)
        return out

    def save(path: Path, state: dict[str, Any]) -> None:
        if state["step"] == 0:  # an epoch's end
            weights.append({k: v.detach().clone() for k, v in state["model"].items()})
        real_save(path, state)

    monkeypatch.setattr(text_train, "_loop", loop)
    monkeypatch.setattr(train_loop, "_save_checkpoint", save)
    return losses, weights


def _cosines(model_dir: Path, state: dict[str, Any], pairs: list[tuple[str, str]]) -> np.ndarray:
    """The cosine of each pair under the weights ``state``, embedded here pair by pair."""
    model = siamkit.load_model(model_dir)
    model.load_state_dict(state)
    model.eval()
    with torch.inference_mode():
        za = model.embed([a for a, _ in pairs]).float().numpy()
        zb = model.embed([b for _, b in pairs]).float().numpy()
    return (za * zb).sum(1) / np.linalg.norm(za, axis=1) / np.linalg.norm(zb, axis=1)


def test_each_epoch_gets_its_mean_loss_and_its_validation_roc_auc(
    tiny_hf: Path,
    labelled_csv: Path,
    graded_pairs: list[tuple[str, str, float]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    losses, weights = _record(monkeypatch)
    lines: list[str] = []
    run = get_task("text")(
        _config(tiny_hf, labelled_csv),
        tmp_path / "run",
        TaskOptions(progress=False, log=lines.append),
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert len(losses) == 4 and len(weights) == 2  # two steps an epoch
    pairs = [(a, b) for a, b, _ in graded_pairs]
    labels = [int(s >= 2.5) for _, _, s in graded_pairs]
    for row, steps, state in zip(history, (losses[:2], losses[2:]), weights):
        assert row["loss"] == pytest.approx(np.mean(steps), rel=1e-12)
        cos = _cosines(run.model_dir, state, pairs)
        assert row["val_roc_auc"] == pytest.approx(roc_auc_score(labels, cos), abs=1e-9)
        assert 0 <= row["val_eer"] <= 1
    # the weights moved between the epochs, and each epoch was validated on its own weights
    assert not np.allclose(_cosines(run.model_dir, weights[0], pairs), cos)
    assert history[-1]["val_roc_auc"] == run.metrics["verification.roc_auc"]
    assert history[-1]["val_eer"] == run.metrics["verification.eer"]
    for row in history:  # the epoch's line, as image runs print it
        shown = f"loss {row['loss']:.4f}, val roc_auc {row['val_roc_auc']:.4f}, eer "
        assert any(line.startswith(f"epoch {row['epoch']}/2: {shown}") for line in lines), lines


def test_graded_scores_give_spearman_each_epoch(
    tiny_hf: Path,
    graded_pairs: list[tuple[str, str, float]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "graded.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{s}\n" for a, b, s in graded_pairs))
    _, weights = _record(monkeypatch)
    run = get_task("text")(
        _config(tiny_hf, data, graded=True), tmp_path / "run", TaskOptions(progress=False)
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    pairs, scores = [(a, b) for a, b, _ in graded_pairs], [s for _, _, s in graded_pairs]
    for row, state in zip(history, weights, strict=True):
        rho = spearmanr(_cosines(run.model_dir, state, pairs), scores)[0]
        assert row["val_spearman"] == pytest.approx(rho, abs=1e-9)
        assert "val_roc_auc" not in row
    html = (tmp_path / "run" / "report.html").read_text()
    assert "id='fig-training'" in html
    assert "id='fig-roc'" not in html  # graded scores: no verification parts


def test_a_resumed_run_continues_the_history_of_an_uninterrupted_one(
    tiny_hf: Path, labelled_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed mid-epoch 2 (after its first step's checkpoint): the resumed run's history holds
    epoch 1 from the checkpoint and epoch 2's mean over both its steps, as an uninterrupted
    run's does, figure for figure."""
    cfg = _config(tiny_hf, labelled_csv, checkpoint_every=1)
    get_task("text")(cfg, tmp_path / "full", TaskOptions(progress=False))
    cut_run(cfg, tmp_path / "cut", monkeypatch, at=3)  # epoch 2, step 1 done
    lines: list[str] = []
    resumed = TaskOptions(progress=False, resume=True, log=lines.append)
    get_task("text")(cfg, tmp_path / "cut", resumed)
    full = json.loads((tmp_path / "full" / "history.json").read_text())
    cut = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert len(full) == 2 and "val_roc_auc" in full[0]
    assert [sorted(row) for row in cut] == [sorted(row) for row in full]
    for a, b in zip(cut, full):  # the same on the CPU; CUDA's atomics may differ in the last bits
        assert a == pytest.approx(b, rel=1e-5, abs=1e-7)
    assert sum(line.startswith("epoch 2/2: loss") for line in lines) == 1
    # a finished run resumed again trains nothing and keeps the history
    get_task("text")(cfg, tmp_path / "cut", TaskOptions(progress=False, resume=True))
    assert json.loads((tmp_path / "cut" / "history.json").read_text()) == cut


def test_the_report_holds_the_curves_and_the_verification_parts(
    tiny_hf: Path, labelled_csv: Path, tmp_path: Path
) -> None:
    run = get_task("text")(
        _config(tiny_hf, labelled_csv), tmp_path / "run", TaskOptions(progress=False)
    )
    report = tmp_path / "run" / "report.html"
    assert run.files["report"] == report and run.files["history"].is_file()
    html = report.read_text()
    for part in ("fig-training", "fig-roc", "fig-hist"):
        assert f"id='{part}'" in html
    threshold = 1 - run.metrics["verification.min_similarity"]
    assert f"cosine distance of {threshold:.4f}" in html  # the calibrated threshold
    # the operating point says the threshold was fit on these very pairs, not "not known"
    assert "fit on these pairs: the rates below are those it was fit on" in html
    assert "is not known" not in html
    assert "12 validation pairs (6 same / 6 different)" in html


def test_val_metric_none_validates_at_the_end_alone(
    tiny_hf: Path, labelled_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = text_train.validate
    monkeypatch.setattr(text_train, "validate", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = _config(tiny_hf, labelled_csv, val_metric="none")
    run = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [sorted(row) for row in history] == [["epoch", "loss"]] * 2
    assert len(calls) == 1 and "verification.roc_auc" in run.metrics
    html = (tmp_path / "run" / "report.html").read_text()
    assert "id='fig-training'" in html and "id='fig-roc'" in html
    with pytest.raises(ValueError, match=r"train\.val_metric is one of auto, none"):
        get_task("text")(
            _config(tiny_hf, labelled_csv, val_metric="eer"),
            tmp_path / "bad",
            TaskOptions(progress=False),
        )
    assert not (tmp_path / "bad").exists()


def test_the_verification_report_takes_a_history_without_verification() -> None:
    rep = EvaluationReport(None, {}, None, "cosine", 10, 0)
    html = render_verification_html(rep, history=[{"epoch": 1, "loss": 0.5}], data="10 pairs")
    assert "id='fig-training'" in html and "id='fig-roc'" not in html
    with pytest.raises(ValueError, match="verification section or a training history"):
        render_verification_html(rep)
