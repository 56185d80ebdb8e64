"""Issue 16's fine-tuning walk as a support team (synthetic tickets): what `siamkit train
configs/text-pairs.yaml` did with a 0/1 duplicates file under the contrastive losses and the
example's score_range, with one stray label, with (anchor, positive) pairs sharing a text under
mnrl, and with a file of one example."""

from __future__ import annotations

import json
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


def test_graded_scores_under_contrastive_name_the_score_range(
    tiny_hf: Path, tmp_path: Path
) -> None:
    data = tmp_path / "sts.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{4.5 * y}\n" for a, b, y in TICKETS))
    cfg = _config(tiny_hf, data, val_fraction=0)
    with pytest.raises(ValueError, match=r"6 of the 12 training pairs have other scores on data"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))


def test_the_same_file_with_score_range_null_trains_and_calibrates(
    tiny_hf: Path, tmp_path: Path
) -> None:
    data = tmp_path / "tickets.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in TICKETS))
    cfg = _config(tiny_hf, data, score_range=None, val_fraction=0.5)
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert "verification.min_similarity" in summary.metrics


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _mnrl(tiny: Path, data: Path) -> dict[str, Any]:
    cfg = _config(tiny, data, format="anchor_positive", columns={}, score_range=None)
    cfg["loss"] = {"name": "mnrl"}
    return cfg


def test_mnrl_on_pairs_that_all_share_a_text_is_refused_before_anything_is_written(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # an FAQ's one question asked eleven ways: no two of them may share a batch, so every
    # batch was one example, left out; the run trained 0 steps and saved the start model
    question = "My laptop will not charge"
    ways = [b for a, b, y in TICKETS if y] + [f"laptop not charging, case {i}" for i in range(5)]
    data = _jsonl(tmp_path / "faq.jsonl", [{"anchor": question, "positive": p} for p in ways])
    with pytest.raises(ValueError) as err:
        get_task("text")(_mnrl(tiny_hf, data), tmp_path / "run", TaskOptions(progress=False))
    assert str(err.value) == (
        f"loss mnrl compares each example with the others in its batch, and every two of the 9 "
        f"training examples of {data} share a text, which a batch never holds twice (the other "
        "examples' texts are its negatives): no batch can be made; add examples of other texts"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("loss", ["mnrl", "contrastive", "triplet"])
def test_a_file_of_one_example_is_refused_before_anything_is_written(
    tiny_hf: Path, tmp_path: Path, loss: str
) -> None:
    a, b, _ = TICKETS[0]
    if loss == "mnrl":
        cfg = _mnrl(tiny_hf, _jsonl(tmp_path / "one.jsonl", [{"anchor": a, "positive": b}]))
    elif loss == "triplet":
        row = {"anchor": a, "positive": b, "negative": TICKETS[1][1]}
        cfg = _config(tiny_hf, _jsonl(tmp_path / "one.jsonl", [row]), format="triplets")
        cfg["data"].update(columns={}, score_range=None)
        cfg["loss"] = {"name": "triplet"}
    else:
        one = tmp_path / "one.jsonl"
        cfg = _config(tiny_hf, _jsonl(one, [{"a": a, "b": b, "label": 1}]), score_range=None)
    with pytest.raises(ValueError) as err:
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=lambda _: None))
    assert str(err.value) == (
        f"{cfg['data']['train']} gives 1 training example; fine-tuning compares examples in "
        "batches of at least 2: add examples"
    )
    assert not (tmp_path / "run").exists()


def test_mnrl_with_a_text_shared_by_some_pairs_trains(tiny_hf: Path, tmp_path: Path) -> None:
    rows = [{"anchor": a, "positive": b} for a, b, y in TICKETS if y]
    rows.append({"anchor": TICKETS[0][0], "positive": "laptop battery not charging"})
    cfg = _mnrl(tiny_hf, _jsonl(tmp_path / "ap.jsonl", rows))
    cfg["data"]["val_fraction"] = 0
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert summary.metrics["train.steps"] == 2


def test_a_stray_label_under_the_examples_score_range_names_the_range(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # 0/1 labels and one 2 (a typo) under the example's score_range [0, 5]: "4 of the 12
    # training pairs have other scores: label them 0/1" of pairs labelled 1, the range unnamed
    rows = [(a, b, 2 if i == 3 else y) for i, (a, b, y) in enumerate(TICKETS)]
    data = tmp_path / "typo.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    cfg = _config(tiny_hf, data, val_fraction=0)
    with pytest.raises(ValueError) as err:
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert str(err.value) == (
        "loss contrastive trains on pairs labelled 0 or 1, and 7 of the 12 training pairs have "
        "other scores on data.score_range [0, 5] (only its ends are labels): for 0/1 labels set "
        "data.score_range: null, or use loss cosent or angle for graded scores"
    )
    cfg["data"]["score_range"] = None  # then the 2 is named by its line
    with pytest.raises(ValueError, match=r"typo\.csv line 5: label=2 is not 0 or 1"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


def test_mnrl_says_when_a_shared_text_leaves_examples_out(tiny_hf: Path, tmp_path: Path) -> None:
    # a common ticket asked twelve ways, each way paired with it, among eight other pairs: a
    # batch holds the ticket once, so after the other pairs run out the rest were batches of
    # one, dropped: 9 of the 20 examples trained in no epoch, without a word
    ticket = "My laptop will not charge"
    rows = [{"anchor": ticket, "positive": f"laptop not charging, way {i}"} for i in range(12)]
    rows += [{"anchor": f"other ticket {k}", "positive": f"its paraphrase {k}"} for k in range(8)]
    cfg = _mnrl(tiny_hf, _jsonl(tmp_path / "faq.jsonl", rows))
    cfg["data"]["val_fraction"] = 0
    said: list[str] = []
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=said.append))
    assert summary.metrics["train.steps"] == 3  # the ticket and 3, 3 and 2 others; then ones
    assert (
        "loss mnrl leaves 9 of the 20 training examples out of the first epoch: a batch never "
        f"holds a text twice, and 12 examples share {ticket!r}; pair the texts that share one "
        "with each other rather than each with it"
    ) in said


def test_mnrl_says_nothing_of_a_chance_collision(tiny_hf: Path, tmp_path: Path) -> None:
    rows = [{"anchor": a, "positive": b} for a, b, y in TICKETS if y]
    rows.append({"anchor": TICKETS[0][0], "positive": "laptop battery not charging"})
    cfg = _mnrl(tiny_hf, _jsonl(tmp_path / "ap.jsonl", rows))
    cfg["data"]["val_fraction"] = 0
    said: list[str] = []
    get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=said.append))
    assert not [s for s in said if "loss mnrl leaves" in s]
