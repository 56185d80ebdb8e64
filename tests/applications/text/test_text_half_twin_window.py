"""Fine-tuning a saved half-twin with another ``model.max_length`` set the window on the query
tower only: the document tower ran the whole run (validation, threshold calibration) at the
start model's window, while the saved model, which records the query tower's, runs both at the
new one. Both towers now take the run's window; a text longer than both windows, embedded by the
document tower in the run, is embedded as the reloaded model embeds it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.applications.text import TextSiameseNetwork

pytest.importorskip("transformers")


def test_fine_tuning_a_half_twin_at_another_window_sets_both_towers(tmp_path: Path) -> None:
    from siamkit.applications.text.train_config import ModelSection
    from siamkit.applications.text.train_resume import _setup

    start = TextSiameseNetwork.pretrained(
        save_tiny_bert(tmp_path / "bert", layers=1), share_weights=False, max_length=16, overlap=2
    )
    folder = siamkit.save_model(start, tmp_path / "half")
    cfg = type("Cfg", (), {})()
    cfg.model = ModelSection(path=str(folder), max_length=32, share_weights=False)
    cfg.train = type("Train", (), {"gradient_checkpointing": False})()
    model = _setup(cfg, torch.device("cpu"))
    assert model.doc_encoder is not None
    windows = {(t.max_length, t.overlap) for t in (model.encoder, model.doc_encoder)}
    assert windows == {(32, 4)}  # a window given keeps an eighth where 32 does not fit
    text = " ".join(["the pipe under the kitchen sink is leaking again"] * 12)  # > 32 tokens
    with torch.no_grad():
        in_run = model.eval().embed([text], role="document")
        reloaded = siamkit.load_model(siamkit.save_model(model, tmp_path / "after"))
        after = reloaded.embed([text], role="document")
    assert reloaded.doc_encoder.max_length == 32
    torch.testing.assert_close(in_run, after)
