"""``data.val_fraction`` holds out whole groups of examples that share a text: a ticket paired
with many others was in training and validation both, so the early stopping, the metrics and the
calibrated threshold were measured on texts the network had trained on."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

from siamkit.applications.text import train_split
from siamkit.applications.text.pairs import TextExamples, read_examples
from siamkit.applications.text.train_config import parse_config
from siamkit.training.tasks import TaskOptions, get_task


def _tickets() -> list[dict[str, Any]]:
    """90 pairs: each of 30 tickets with two paraphrases (once written with a double space) and
    one unrelated ticket; the unrelated ones chain tickets 3k, 3k+1, 3k+2 into groups of 9."""
    rows: list[dict[str, Any]] = []
    for k in range(30):
        ticket = f"ticket {k} printer jammed on floor {k}"
        other = f"ticket {k + 1} printer jammed on floor {k + 1}" if k % 3 != 2 else f"vpn {k}"
        rows += [
            {"a": ticket, "b": f"paper stuck in printer {k}", "label": 1},
            {"a": ticket.replace(" printer ", "  printer "), "b": f"jam on floor {k}", "label": 1},
            {"a": ticket, "b": other, "label": 0},
        ]
    return rows


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(data: Path, seed: int = 0, **data_keys: Any) -> Any:
    return parse_config(
        {
            "model": {"path": "unused"},
            "data": {"train": str(data), "val_fraction": 0.2, **data_keys},
            "loss": {"name": "contrastive"},
            "train": {"seed": seed},
        }
    )


def _split(data: Path, seed: int = 0, **data_keys: Any) -> tuple[Any, ...]:
    cfg = _cfg(data, seed, **data_keys)
    return train_split._split(read_examples(data, "pairs"), cfg)


def _texts(ex: TextExamples) -> set[str]:
    """Every text, runs of whitespace read as one space: a naive reference."""
    out = set()
    for column in ex.texts:
        for text in column:
            out.add(" ".join(text.split()))
    return out


def test_no_text_is_in_both_training_and_validation(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "tickets.jsonl", _tickets())
    train, val = _split(data)[:2]
    assert len(train) + len(val) == 90
    assert _texts(train).isdisjoint(_texts(val)), _texts(train) & _texts(val)
    # the whitespace variant went with its ticket
    assert sum("  printer " in t for t in train.texts[0] + val.texts[0]) == 30


def test_validation_is_near_val_fraction_of_the_examples(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "tickets.jsonl", _tickets())
    for seed in range(5):
        val = _split(data, seed)[1]
        assert abs(len(val) - 18) <= 9, len(val)  # 0.2 of 90, give or take a group of 9
    loose = [
        {"a": f"q{i}", "b": f"q{i + 1}" if i % 2 == 0 else f"r{i}", "label": 1} for i in range(100)
    ]
    data = _jsonl(tmp_path / "loose.jsonl", loose)  # groups of 2 and 1
    for seed in range(5):
        assert abs(len(_split(data, seed)[1]) - 20) <= 1


def test_the_split_is_seeded(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "tickets.jsonl", _tickets())
    first, again, other = _split(data, 3)[1], _split(data, 3)[1], _split(data, 4)[1]
    assert first == again
    assert first != other


def _first_of_each_label(order: list[int], labels: list[int], val: list[int]) -> None:
    """Each label's validation examples are the first of that label in the seeded ``order``."""
    for label in set(labels):
        mine = [i for i in order if labels[i] == label]
        taken = sorted(i for i in val if labels[i] == label)
        assert taken == sorted(mine[: len(taken)]), label


def test_a_file_sharing_no_text_splits_as_a_seeded_stratified_shuffle(tmp_path: Path) -> None:
    # each example is its own group: the seeded shuffle, taking each label's share of it
    rows = [{"a": f"text {i}", "b": f"other {i}", "label": int(i % 4 == 0)} for i in range(40)]
    data = _jsonl(tmp_path / "pairs.jsonl", rows)
    order = list(range(40))
    random.Random(7).shuffle(order)
    train, val, notes = _split(data, 7)
    picked = [int(t.split()[1]) for t in val.texts[0]]
    assert sorted(val.targets or ()) == [0.0] * 6 + [1.0] * 2  # 8 of 40, a quarter labelled 1
    _first_of_each_label(order, [r["label"] for r in rows], picked)
    assert train.texts[0] == tuple(f"text {i}" for i in sorted(set(range(40)) - set(picked)))
    assert notes == [
        f"validation: 8 of the 40 examples of {data} (data.val_fraction 0.2) with 16 of the "
        "file's 80 texts; examples that share a text are kept on one side, so no text is on "
        "both sides",
        "validation is stratified by label: pairs labelled 1 are 25% (2 of 8) of validation, "
        "25% (8 of 32) of training and 25% (10 of 40) of the file",
    ]


def test_a_file_whose_texts_all_link_up_falls_back_with_a_note(tmp_path: Path) -> None:
    # every pair of six documents: one group, no text-disjoint split; a seeded one, said
    docs = [f"document {i}" for i in range(6)]
    rows = [
        {"a": docs[i], "b": docs[j], "label": (i + j) % 2}
        for i in range(6)
        for j in range(i + 1, 6)
    ]
    data = _jsonl(tmp_path / "all.jsonl", rows)
    train, val, notes = _split(data, 1)
    order = list(range(15))
    random.Random(1).shuffle(order)
    pairs = [(r["a"], r["b"]) for r in rows]
    picked = [pairs.index(p) for p in zip(*val.texts)]
    assert len(picked) == 3
    _first_of_each_label(order, [r["label"] for r in rows], picked)
    shared = len(_texts(train) & _texts(val))
    assert shared > 0
    assert notes[0] == (
        f"data.val_fraction 0.2: 15 of the 15 examples of {data} are linked by shared texts, "
        f"more than 0.8 of them, so validation is a random 3, drawn regardless of them, and "
        f"shares {shared} texts with training: its metrics and calibrated threshold are "
        "optimistic; give data.val, pairs of texts that training does not have"
    )
    assert notes[1].startswith("validation is stratified by label: pairs labelled 1 are ")


def test_a_validation_file_sharing_texts_with_training_is_warned_about(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "tickets.jsonl", _tickets())
    val_rows = [
        {"a": "ticket 4  printer jammed on floor 4", "b": "brand new text", "label": 1},
        {"a": "paper stuck in printer 9", "b": "ticket 4 printer jammed on floor 4", "label": 0},
        {"a": "nothing shared", "b": "nor here", "label": 0},
    ]
    val_file = _jsonl(tmp_path / "val.jsonl", val_rows)
    train, val, notes = _split(data, val=str(val_file))
    assert len(train) == 90 and len(val) == 3  # data.val is used as given
    shared = _texts(val) & _texts(read_examples(data, "pairs"))
    assert len(shared) == 2
    assert notes == [
        f"data.val {val_file} shares 2 of its 5 texts with data.train {data}: its metrics and "
        "calibrated threshold are measured partly on texts the model trained on (optimistic); "
        "leave them out of one of the files"
    ]
    clean = _jsonl(tmp_path / "clean.jsonl", [*val_rows[2:], dict(val_rows[2], a="fresh")])
    assert _split(data, val=str(clean))[2] == []
    # data.val naming the training file itself was said to share its texts "partly"
    assert _split(data, val=str(data))[2] == [
        f"data.val {data} shares all 100 of its texts with data.train {data}: its metrics and "
        "calibrated threshold are measured on texts the model trained on (optimistic); give "
        "data.val pairs of other texts, or leave it out to validate on a share of data.train "
        "(data.val_fraction) that keeps them apart"
    ]


def test_a_run_logs_the_split(tiny_hf: Path, tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "tickets.jsonl", _tickets())
    cfg = {
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "val_fraction": 0.2},
        "loss": {"name": "contrastive"},
        "train": {"epochs": 1, "batch_size": 24},
    }
    lines: list[str] = []
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=lines.append))
    said = [line for line in lines if line.startswith("validation: ")]
    assert len(said) == 1, lines
    assert said[0].startswith(f"validation: 18 of the 90 examples of {data} (data.val_fraction")
    assert said[0].endswith("so no text is on both sides")
    assert "verification.min_similarity" in summary.metrics


def test_the_same_text_up_to_case_stays_on_one_side(tmp_path: Path) -> None:
    # "VPN fails at home" and "vpn fails at home" are one ticket (and one text to an uncased
    # tokenizer): compared case-sensitively, they were two texts, one on each side
    rows = []
    for k in range(20):
        rows += [
            {"a": f"VPN {k} fails at home", "b": f"cannot reach vpn {k}", "label": 1},
            {"a": f"vpn {k}  fails at HOME", "b": f"printer {k} jams", "label": 0},
        ]
    data = _jsonl(tmp_path / "tickets.jsonl", rows)
    for seed in range(5):
        train, val = _split(data, seed)[:2]
        folded = [{t.casefold() for t in _texts(ex)} for ex in (train, val)]
        assert folded[0].isdisjoint(folded[1]), (seed, folded[0] & folded[1])
        assert len(train) + len(val) == 40 and len(val) % 2 == 0


def _rare_positives(n: int = 40, ones: int = 3) -> list[dict[str, Any]]:
    """``n`` pairs of their own texts, the first ``ones`` labelled 1 (duplicates), the rest 0."""
    return [{"a": f"ticket {i}", "b": f"reply {i}", "label": int(i < ones)} for i in range(n)]


def test_a_validation_share_of_0_1_pairs_holds_a_pair_labelled_1(tmp_path: Path) -> None:
    # 3 duplicates among 40 pairs: 8 pairs drawn at random held none for most seeds, and the
    # run was refused ("all labelled 0; the threshold is calibrated on pairs labelled 0 and 1")
    data = _jsonl(tmp_path / "tickets.jsonl", _rare_positives())
    none_before = 0
    for seed in range(20):
        order = list(range(40))
        random.Random(seed).shuffle(order)
        none_before += not any(i < 3 for i in order[:8])
        train, val = _split(data, seed)[:2]
        assert set(val.targets) == {0.0, 1.0}, seed
        assert set(train.targets) == {0.0, 1.0}, seed  # training keeps both too
        assert len(val) in (7, 8, 9) and len(train) + len(val) == 40  # one pair moved at most
        assert _texts(train).isdisjoint(_texts(val))
    assert none_before >= 5  # the seeds that drew no duplicate are many: the case is tested


def test_the_plain_fallback_split_holds_both_labels_too(tmp_path: Path) -> None:
    # every pair of six documents links all texts: the plain random split, which may draw
    # only 0s; the share takes the first pair labelled 1 after it
    docs = [f"document {i}" for i in range(6)]
    rows = [
        {"a": docs[i], "b": docs[j], "label": int((i, j) in ((0, 1), (2, 3)))}
        for i in range(6)
        for j in range(i + 1, 6)
    ]
    data = _jsonl(tmp_path / "all.jsonl", rows)
    for seed in range(10):
        train, val, notes = _split(data, seed)
        assert set(val.targets) == {0.0, 1.0}, seed
        assert 1.0 in train.targets
        assert f"so validation is a random {len(val)}, drawn regardless of them" in notes[0]


def test_a_file_with_one_label_1_keeps_it_for_training(tmp_path: Path) -> None:
    # one duplicate alone: validation cannot have it without leaving training none; the
    # split is left as drawn, and the run's refusal of a one-label share says why
    data = _jsonl(tmp_path / "tickets.jsonl", _rare_positives(ones=1))
    for seed in range(10):
        train, val = _split(data, seed)[:2]
        assert 1.0 in train.targets or set(val.targets) == {0.0, 1.0}
        assert len(val) == 8


def test_a_graded_share_of_one_score_takes_a_pair_of_another(tmp_path: Path) -> None:
    rows = [{"a": f"t {i}", "b": f"r {i}", "label": 4.5 if i < 3 else 0.5} for i in range(40)]
    data = _jsonl(tmp_path / "graded.jsonl", rows)
    ex = read_examples(data, "pairs", score_range=(0, 5))
    for seed in range(10):
        val = train_split._split(ex, _cfg(data, seed, score_range=[0, 5]))[1]
        assert val is not None and len(set(val.targets or ())) == 2, seed


def test_a_pair_labelled_both_0_and_1_is_pointed_out(tmp_path: Path) -> None:
    # two agents who disagreed: the same tickets labelled duplicate and not, trained both ways
    from siamkit.applications.text.train_checks import conflicting_labels

    rows = [{"a": f"ticket {i}", "b": f"reply {i}", "label": i % 2} for i in range(10)] + [
        {"a": "REPLY 0", "b": "ticket  0", "label": 1},  # ticket 0 / reply 0 is labelled 0
        {"a": "ticket 3", "b": "reply 3", "label": 0},  # labelled 1 above
        {"a": "ticket 5", "b": "reply 5", "label": 1},  # the same label again: no conflict
    ]
    data = _jsonl(tmp_path / "tickets.jsonl", rows)
    ex = read_examples(data, "pairs")
    assert conflicting_labels(_cfg(data), ex) == (
        f"2 pairs of texts in {data} are labelled both 0 and 1 (the first: 'ticket 0' and "
        "'reply 0', up to case and spacing): training pulls such a pair together and pushes "
        "it apart at once; keep one label for each pair"
    )
    # towers of their own (a half-twin): a query and a document are not the other way round
    cfg = _cfg(data)
    towers = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, share_weights=False))
    said = conflicting_labels(towers, ex)
    assert said is not None and said.startswith(f"1 pair of texts in {data} is labelled both")
    graded = _jsonl(tmp_path / "graded.jsonl", [dict(r, label=r["label"] * 4 + 0.5) for r in rows])
    assert (
        conflicting_labels(_cfg(graded), read_examples(graded, "pairs", score_range=(0, 5))) is None
    )
