"""``data.val_fraction`` of a labelled text pairs file keeps the file's proportion of each label
(graded scores: of each quantile bin) on both sides, as scikit-learn's
``train_test_split(stratify=...)`` does, and the run's notes say what each side got. The split
kept both labels on each side but drew them at random: 23 pairs labelled 1 in 100 gave a
validation share of 20 holding anywhere from 1 to 9 of them."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from siamkit.applications.text import train_split
from siamkit.applications.text.pairs import read_examples
from siamkit.applications.text.train_config import parse_config

sklearn_split = pytest.importorskip("sklearn.model_selection").train_test_split


def _split(rows: list[dict[str, Any]], tmp_path: Path, seed: int, **data: Any) -> tuple[Any, ...]:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = parse_config(
        {
            "model": {"path": "unused"},
            "data": {"train": str(path), "val_fraction": 0.2, **data},
            "loss": {"name": "contrastive"},
            "train": {"seed": seed},
        }
    )
    ex = read_examples(path, "pairs", score_range=train_split._range(cfg))
    return train_split._split(ex, cfg)


def _sklearn_counts(classes: list[int], n_val: int, seed: int) -> tuple[Counter[int], ...]:
    train, val = sklearn_split(
        list(range(len(classes))), test_size=n_val, stratify=classes, random_state=seed
    )
    return Counter(classes[i] for i in train), Counter(classes[i] for i in val)


def _within_one(got: Counter[int], want: Counter[int]) -> None:
    for c in set(got) | set(want):
        assert abs(got[c] - want[c]) <= 1, (c, got, want)


def test_labelled_pairs_keep_the_files_label_proportion_as_sklearn(tmp_path: Path) -> None:
    labels = [int(i % 13 in (0, 4, 9)) for i in range(100)]  # 23 of 100 labelled 1
    assert sum(labels) == 23
    rows = [{"a": f"ticket {i}", "b": f"reply {i}", "label": y} for i, y in enumerate(labels)]
    for seed in range(10):
        train, val, notes = _split(rows, tmp_path, seed)
        assert len(val) == 20
        want_train, want_val = _sklearn_counts(labels, 20, seed)
        _within_one(Counter(int(t) for t in val.targets), want_val)
        _within_one(Counter(int(t) for t in train.targets), want_train)
        ones = int(sum(val.targets))
        assert notes[1] == (
            f"validation is stratified by label: pairs labelled 1 are {ones / 20:.0%} ({ones} "
            f"of 20) of validation, {(23 - ones) / 80:.0%} ({23 - ones} of 80) of training "
            "and 23% (23 of 100) of the file"
        )


def test_graded_scores_keep_each_quantile_bins_proportion_as_sklearn(tmp_path: Path) -> None:
    rng = random.Random(5)
    # scores crowded at the low end: a plain draw often left the high ones out of validation
    scores = [round(5 * rng.random() ** 2, 6) for _ in range(100)]
    assert len(set(scores)) == 100
    rows = [{"a": f"ticket {i}", "b": f"reply {i}", "label": s} for i, s in enumerate(scores)]
    rank = {s: r for r, s in enumerate(sorted(scores))}
    bins = [rank[s] * 5 // 100 for s in scores]  # five equal-count bins, a naive reference
    for seed in range(10):
        train, val, notes = _split(rows, tmp_path, seed, score_range=[0, 5])
        assert len(val) == 20
        want_train, want_val = _sklearn_counts(bins, 20, seed)
        by_score = dict(zip(scores, bins))
        got_val = Counter(by_score[round(5 * t, 6)] for t in val.targets)
        got_train = Counter(by_score[round(5 * t, 6)] for t in train.targets)
        _within_one(got_val, want_val)
        _within_one(got_train, want_train)
        assert notes[1].startswith("validation is stratified by score in 5 bins: scores ")
        assert notes[1].count("(4 of 20) of validation, ") == 5, notes[1]


def test_the_stratified_split_is_seeded(tmp_path: Path) -> None:
    rows = [{"a": f"t {i}", "b": f"r {i}", "label": int(i % 5 == 0)} for i in range(50)]
    first, again = _split(rows, tmp_path, 3)[1], _split(rows, tmp_path, 3)[1]
    assert first == again
    assert first != _split(rows, tmp_path, 4)[1]


def test_triplets_have_no_labels_to_stratify_by(tmp_path: Path) -> None:
    path = tmp_path / "triplets.jsonl"
    rows = [{"anchor": f"a {i}", "positive": f"p {i}", "negative": f"n {i}"} for i in range(40)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = parse_config(
        {
            "model": {"path": "unused"},
            "data": {"train": str(path), "format": "triplets", "val_fraction": 0.2},
            "loss": {"name": "triplet"},
        }
    )
    order = list(range(40))
    random.Random(cfg.train.seed).shuffle(order)
    _, val, notes = train_split._split(read_examples(path, "triplets"), cfg)
    assert val.texts[0] == tuple(f"a {i}" for i in sorted(order[:8]))  # the plain shuffle
    assert len(notes) == 1


def test_a_run_resumed_from_before_stratified_shares_keeps_the_share_it_drew(
    tmp_path: Path,
) -> None:
    # a checkpoint's batches index its run's training examples: its resume draws them as it did
    labels = [int(i % 13 in (0, 4, 9)) for i in range(100)]
    rows = [{"a": f"ticket {i}", "b": f"reply {i}", "label": y} for i, y in enumerate(labels)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = parse_config(
        {
            "model": {"path": "unused"},
            "data": {"train": str(path), "val_fraction": 0.2},
            "loss": {"name": "contrastive"},
            "train": {"seed": 1},
        }
    )
    _, val, notes = train_split._split(read_examples(path, "pairs"), cfg, stratify=False)
    order = list(range(100))
    random.Random(1).shuffle(order)
    assert val.texts[0] == tuple(f"ticket {i}" for i in sorted(order[:20]))  # as drawn before
    assert notes[1] == (
        "validation is drawn as the resumed checkpoint's run drew it, before validation shares "
        "were stratified by label or score (a new run stratifies it)"
    )


def test_the_checkpoint_says_how_validation_was_drawn_and_a_resume_keeps_it(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from _text_runs import cut_run, text_config

    from siamkit.training.checkpoint import load_checkpoint, save_checkpoint
    from siamkit.training.tasks import TaskOptions, get_task

    cfg, out = text_config(pairs_csv, tiny_hf, checkpoint_every=1), tmp_path / "cut"
    cfg["data"]["val_fraction"] = 0.5
    cut_run(cfg, out, monkeypatch)
    ckpt = out / "checkpoint.pt"
    state = load_checkpoint(ckpt)
    assert state[train_split.VAL_SPLIT] == train_split.STRATIFIED
    del state[train_split.VAL_SPLIT]  # as a checkpoint from before
    save_checkpoint(state, ckpt)
    lines: list[str] = []
    get_task("text")(cfg, out, TaskOptions(progress=False, resume=True, log=lines.append))
    assert (
        "validation is drawn as the resumed checkpoint's run drew it, before validation shares "
        "were stratified by label or score (a new run stratifies it)"
    ) in lines
    assert not [line for line in lines if line.startswith("validation is stratified")]
    assert load_checkpoint(ckpt)[train_split.VAL_SPLIT] is None  # and so on its next resume
