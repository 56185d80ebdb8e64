"""Issue 16's fine-tuning walk as a support team (synthetic tickets): what `siamkit train
configs/text-pairs.yaml` did with a 0/1 duplicate file under another loss than the example's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siamkit.training.tasks import TaskOptions, get_task

TICKETS = [
    ("My laptop will not charge", "Laptop battery stays at 0% when plugged in", 1),
    ("My laptop will not charge", "Printer in room 4 is out of toner", 0),
    ("Cannot log in to the VPN", "VPN login fails when working remotely", 1),
    ("Cannot log in to the VPN", "Monitor flickers after the update", 0),
    ("Outlook keeps asking for my password", "Repeated password prompt in Outlook", 1),
    ("Outlook keeps asking for my password", "Wi-Fi drops every few minutes", 0),
    ("Need access to the finance share", "Grant me permissions on the finance folder", 1),
    ("Need access to the finance share", "Keyboard keys are stuck", 0),
    ("Zoom installer fails with error 1603", "Cannot install Zoom", 1),
    ("Zoom installer fails with error 1603", "Slow computer at startup", 0),
    ("Phone does not sync the calendar", "Mobile calendar sync broken", 1),
    ("Phone does not sync the calendar", "SAP password reset", 0),
]


def _config(tiny: Path, data: Path, **keys: Any) -> dict[str, Any]:
    # configs/text-pairs.yaml's data section, the file and loss changed as the user does
    return {
        "model": {"path": str(tiny), "max_length": 32, "overlap": 8},
        "data": {
            "train": str(data),
            "format": "pairs",
            "columns": {"a": "a", "b": "b", "label": "label"},
            "score_range": [0, 5],
            "val_fraction": 0.2,
            **keys,
        },
        "loss": {"name": "contrastive"},
        "train": {"epochs": 1, "batch_size": 4},
    }


@pytest.mark.parametrize("loss", ["contrastive", "online_contrastive"])
def test_contrastive_on_01_labels_under_the_examples_score_range_names_the_range(
    tiny_hf: Path, tmp_path: Path, loss: str
) -> None:
    # it said "3 of the 3 validation pairs have other scores: label them 0/1", of pairs
    # labelled 0/1: the example config's score_range [0, 5] had made them the scores 0 and 0.2
    data = tmp_path / "tickets.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in TICKETS))
    cfg = _config(tiny_hf, data)
    cfg["loss"] = {"name": loss}
    with pytest.raises(ValueError) as err:
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert str(err.value) == (
        f"loss {loss} trains on pairs labelled 0 or 1, and data.score_range [0, 5] reads the "
        f"labels 0 and 1 of {data} as scores on that scale: set data.score_range: null for 0/1 "
        "labels"
    )
    assert not (tmp_path / "run").exists()
    cfg["data"]["val_fraction"] = 0  # without a validation share, the same
    with pytest.raises(ValueError, match=r"set data\.score_range: null for 0/1 labels$"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


def test_graded_scores_under_contrastive_keep_their_sentence(tiny_hf: Path, tmp_path: Path) -> None:
    data = tmp_path / "sts.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{4.5 * y}\n" for a, b, y in TICKETS))
    cfg = _config(tiny_hf, data, val_fraction=0)
    with pytest.raises(ValueError, match=r"6 of the 12 training pairs have other scores: label"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))


def test_the_same_file_with_score_range_null_trains_and_calibrates(
    tiny_hf: Path, tmp_path: Path
) -> None:
    data = tmp_path / "tickets.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in TICKETS))
    cfg = _config(tiny_hf, data, score_range=None, val_fraction=0.5)
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert "verification.min_similarity" in summary.metrics
