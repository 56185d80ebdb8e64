"""What a new user met fine-tuning `siamkit train configs/text-pairs.yaml` on a pairs file of
their own: a file without the config's label column ("has no column 'score'", not what to set),
train values taken without a word (warmup 2 trained all warm-up, max_grad_norm -1 turned clipping
off, checkpoint_every -1 checkpointed every step, weight_decay -1 failed in PyTorch's words) and 0/1
labels trained as graded scores of the config's score_range [0, 5] (a score map, no threshold)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siamkit.applications.text.pairs import read_examples
from siamkit.applications.text.train_config import parse_config


def test_a_pairs_file_without_the_configs_column_names_the_key_to_set(tmp_path) -> None:
    f = tmp_path / "pairs.csv"
    f.write_text("a,b,label\nx y,z w,1\n")
    with pytest.raises(ValueError) as err:
        read_examples(f, "pairs", {"label": "score"}, (0, 5), columns_key="data.columns")
    assert str(err.value) == (
        f"{f} has no column 'score' (its columns: a, b, label); set data.columns.label to the "
        "column that holds it"
    )
    with pytest.raises(ValueError, match=r"set data\.columns\.a and data\.columns\.b to the "):
        read_examples(f, "pairs", {"a": "q", "b": "d"}, columns_key="data.columns")
    g = tmp_path / "val.csv"
    g.write_text("x,y,same\nx y,z w,1\n")  # calibration pairs: no mapping to set
    with pytest.raises(
        ValueError, match=r"\(its columns: x, y, same\); pairs need the columns a, b, label$"
    ):
        read_examples(g, "pairs")


@pytest.mark.parametrize(
    ("train", "said"),
    [
        ({"warmup": 2}, "train.warmup must be a number in [0, 1] (a share of the steps), got 2."),
        (
            {"warmup": -0.5},
            "train.warmup must be a number in [0, 1] (a share of the steps), got -0.5.",
        ),
        (
            {"max_grad_norm": -1.0},
            "train.max_grad_norm must be a finite number >= 0 (0 turns clipping off), got -1.0.",
        ),
        (
            {"checkpoint_every": -1},
            "train.checkpoint_every must be a whole number >= 0 (0: at every epoch's end), got -1.",
        ),
        ({"weight_decay": -1.0}, "train.weight_decay must be a finite number >= 0, got -1.0."),
        ({"lr": 0.0}, "train.lr must be a finite number > 0, got 0.0."),
        ({"epochs": 0}, "train.epochs must be a whole number >= 1, got 0."),
        ({"batch_size": 1}, "train.batch_size must be a whole number >= 2"),
    ],
)
def test_a_train_value_out_of_range_is_one_sentence_naming_the_key(train, said) -> None:
    with pytest.raises(ValueError) as err:
        parse_config({"data": {"train": "x.csv"}, "train": train})
    assert str(err.value).startswith(said), str(err.value)


def test_zero_one_labels_under_a_score_range_are_pointed_out(tiny_hf: Path, tmp_path) -> None:
    from siamkit.training.tasks import TaskOptions, get_task

    data = tmp_path / "pairs.csv"
    rows = [("printer out of toner", "printer needs toner", 1), ("vpn fails", "sink leaks", 0)] * 6
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    cfg: dict[str, Any] = {
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "score_range": [0, 5], "val_fraction": 0},
        "loss": {"name": "cosent"},
        "train": {"epochs": 1, "batch_size": 6, "lr": 1e-3, "warmup": 0.0},
    }
    lines: list[str] = []
    get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=lines.append))
    note = (
        f"every pair of {data} is labelled 0 or 1 (column label), but data.score_range is "
        "[0, 5]: they train as "
        "graded scores on that scale (a score map, no calibrated threshold); for 0/1 labels set "
        "data.score_range: null"
    )
    assert note in lines, lines
    lines.clear()
    cfg["data"]["score_range"] = None
    get_task("text")(cfg, tmp_path / "run2", TaskOptions(progress=False, log=lines.append))
    assert not any("score_range" in line for line in lines), lines


def test_the_training_summary_states_the_threshold_as_text_similarity_does(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # the summary printed 'verification.threshold 0.1617' (a cosine distance, as image runs
    # state it) where `siamkit text similarity` with the model says 'similarity >= 0.8383'
    import json
    import re

    import yaml
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    data = tmp_path / "pairs.csv"
    # twelve pairs of their own texts: the validation share takes whole pairs sharing no text
    # with training (two pairs written six times each were one group apiece, all 1 or all 0)
    rows = [(f"printer {i} out of toner", f"printer {i} needs toner", 1) for i in range(6)]
    rows += [(f"vpn {i} fails", f"sink {i} leaks", 0) for i in range(6)]
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    cfg = {
        "task": "text",
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "val_fraction": 0.5},
        "loss": {"name": "contrastive"},
        "train": {"epochs": 1, "batch_size": 6, "lr": 1e-3, "warmup": 0.0},
    }
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    res = CliRunner().invoke(
        cli, ["train", str(tmp_path / "cfg.yaml"), "--out", str(out), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert "verification.threshold" not in res.output
    shown = re.search(r"verification\.min_similarity\s+(\S+)", res.output)
    assert shown, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert "verification.threshold" not in metrics
    sim = CliRunner().invoke(
        cli, ["text", "similarity", "a", "b", "--model", str(out / "model"), "--device", "cpu"]
    )
    assert sim.exit_code == 0, sim.output
    said = re.search(r"threshold: similarity >= (\S+), the model.s calibrated", sim.output)
    assert said, sim.output
    assert shown.group(1) == said.group(1)
    assert metrics["verification.min_similarity"] == pytest.approx(float(said.group(1)), abs=1e-4)


def test_a_set_value_that_is_not_yaml_is_one_sentence_naming_it() -> None:
    # `siamkit train configs/text-pairs.yaml --set 'train.epochs=[1'` ended in yaml's traceback
    with pytest.raises(ValueError) as err:
        parse_config({"data": {"train": "x.csv"}}, ("train.epochs=[1",))
    assert str(err.value).startswith(
        "--set 'train.epochs=[1': the value '[1' is not valid YAML (expected ',' or ']', "
    ), str(err.value)


def test_set_gives_the_column_the_missing_column_message_names() -> None:
    # "has no column 'score' ...; set data.columns.label to the column that holds it", and
    # --set data.columns.label=label was refused as an unknown key 'columns.label'
    import yaml

    example = Path(__file__).resolve().parents[3] / "configs" / "text-pairs.yaml"
    doc = yaml.safe_load(example.read_text())
    doc.pop("task")
    cfg = parse_config(doc, ("data.columns.label=label",))
    assert cfg.data.columns == {"a": "a", "b": "b", "label": "label"}  # the others kept
    assert doc["data"]["columns"]["label"] == "score"  # the config read is not changed
    cfg = parse_config({"data": {"train": "x.csv"}}, ("data.columns.label=same",))
    assert cfg.data.columns == {"label": "same"}
    with pytest.raises(ValueError, match=r"unknown key 'format\.x' in section 'data'"):
        parse_config({"data": {"train": "x.csv"}}, ("data.format.x=1",))


def test_a_validation_share_not_taken_from_a_small_file_is_pointed_out(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # six 0/1 pairs with val_fraction 0.2: the run reported loss and steps alone, no metric and
    # no threshold, without saying why
    from siamkit.training.tasks import TaskOptions, get_task

    data = tmp_path / "pairs.csv"
    rows = [("printer out of toner", "printer needs toner", 1), ("vpn fails", "sink leaks", 0)] * 3
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    cfg: dict[str, Any] = {
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "val_fraction": 0.2},
        "loss": {"name": "contrastive"},
        "train": {"epochs": 1, "batch_size": 6, "lr": 1e-3, "warmup": 0.0},
    }
    lines: list[str] = []
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=lines.append))
    assert set(summary.metrics) == {"train.final_loss", "train.steps"}
    note = (
        f"data.val_fraction 0.2 is not taken from {data}'s 6 examples (fewer than 10): this run "
        "reports no validation metrics and calibrates no threshold; give data.val, or more examples"
    )
    assert note in lines, lines
    lines.clear()
    cfg["data"]["val_fraction"] = 0  # validation turned off: nothing to say
    get_task("text")(cfg, tmp_path / "run2", TaskOptions(progress=False, log=lines.append))
    assert not any("val_fraction" in line for line in lines), lines


def test_pairs_settings_a_triplets_run_does_not_read_are_pointed_out(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # configs/text-pairs.yaml's data.columns {label: score} and data.score_range [0, 5] kept in a
    # triplets run were ignored without a word
    from siamkit.applications.text.train_config import unread_data_keys
    from siamkit.training.tasks import TaskOptions, get_task

    data = tmp_path / "triplets.csv"
    rows = [("printer out of toner", "printer needs toner", "vpn fails")] * 4
    data.write_text("anchor,positive,negative\n" + "".join(f"{a},{p},{n}\n" for a, p, n in rows))
    cfg: dict[str, Any] = {
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8},
        "data": {
            "train": str(data),
            "format": "triplets",
            "columns": {"anchor": "anchor", "label": "score"},
            "score_range": [0, 5],
            "val_fraction": 0,
        },
        "loss": {"name": "triplet"},
        "train": {"epochs": 1, "batch_size": 4, "lr": 1e-3, "warmup": 0.0},
    }
    lines: list[str] = []
    get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=lines.append))
    note = (
        "data.columns {label: score} and data.score_range [0, 5] are not read: data.format "
        "triplets reads the columns anchor, positive, negative (data.columns renames only these) "
        "and no scores; this run ignores them"
    )
    assert note in lines, lines
    lines.clear()
    del cfg["data"]["score_range"]
    cfg["data"]["columns"] = {"anchor": "anchor"}  # a field triplets read: nothing to say
    get_task("text")(cfg, tmp_path / "run2", TaskOptions(progress=False, log=lines.append))
    assert not any("not read" in line for line in lines), lines
    doc = {"train": "x.csv", "format": "anchor_positive", "score_range": [1, 4]}
    said = unread_data_keys(parse_config({"data": doc, "loss": {"name": "mnrl"}}))
    assert said is not None and said.startswith("data.score_range [1, 4] is not read")
    pairs = {"train": "x.csv", "columns": {"label": "score"}, "score_range": [0, 5]}
    assert unread_data_keys(parse_config({"data": pairs})) is None  # pairs read both


@pytest.mark.parametrize(
    ("column", "said"),
    [
        (3, "got 3 (quote it, '3', for a column named 3)"),
        (None, "got null"),
        ("  ", "got '  '"),
        (True, "got True"),
    ],
)
def test_a_data_column_that_is_not_a_name_is_one_sentence(column: Any, said: str) -> None:
    # --set data.columns.label=3 (or null) failed inside the reader: 'int' object has no
    # attribute 'strip', with a traceback
    with pytest.raises(ValueError) as err:
        parse_config({"data": {"train": "x.csv", "columns": {"a": "q", "label": column}}})
    assert str(err.value) == (
        f"data.columns.label names the file's column that holds label, a string, {said}"
    )
