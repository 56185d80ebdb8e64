"""A search space could set what decides how a trial is scored: ``eval.ways`` (and
``eval.queries``) with a few-shot validation metric scored each trial on another task, and
``train.val_metric`` scored trials by different measures (EER against precision@1, in a study
whose direction the config's metric fixed), so best.yaml took the easiest task's or measure's
trial. Such a space is refused before the study, a whole section's choice setting the key too;
and a range of ``int`` whose ends are not whole numbers (a log one reaching 0, which every trial
then failed on) is refused when the space is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tuning._tiny_study import refused, tiny_base

from siamkit.tuning import SearchSpace


def _base(*sets: str):
    return tiny_base(
        "data.val_classes=[2, 3, 4, 5]", "data.train_classes=[0, 1, 2, 3, 4, 5, 6, 7]", *sets
    )


FEW_SHOT_WAYS = (
    "eval.ways cannot be searched: with train.val_metric few_shot it sets the N-way task each "
    "trial is scored on, so trials must be scored alike; set it in the config"
)
FEW_SHOT_QUERIES = (
    "eval.queries cannot be searched: with train.val_metric few_shot it sets the queries each "
    "trial's few-shot task has, so trials must be scored alike; set it in the config"
)
METRIC = (
    "train.val_metric cannot be searched: it picks the validation measure each trial is scored "
    "by (and whether higher or lower is better), so trials must be scored alike; set it in the "
    "config"
)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"eval.ways": {"choice": [[2], [4]]}}, FEW_SHOT_WAYS),
        ({"eval": {"choice": [{"ways": [2]}, {"ways": [4]}]}}, FEW_SHOT_WAYS),
        ({"eval.queries": {"choice": [1, 5]}}, FEW_SHOT_QUERIES),
        ({"eval": {"choice": [{"shots": [1]}, {" queries": 3}]}}, FEW_SHOT_QUERIES),
    ],
)
def test_few_shot_task_keys_are_refused(tmp_path: Path, space, message: str) -> None:
    """The 2-way trials scored 2-way accuracy, the 4-way ones 4-way: best.yaml took 2-way."""
    base = _base("train.val_metric=few_shot")
    assert refused(base, space, tmp_path / "s") == message


@pytest.mark.parametrize("metric", ["precision_at_1", "eer"])
@pytest.mark.parametrize(
    "space",
    [
        {"train.val_metric": {"choice": ["precision_at_1", "eer"]}},
        {"train": {"choice": [{"epochs": 1}, {"epochs": 1, "val_metric": "few_shot"}]}},
    ],
)
def test_the_validation_metric_is_refused(tmp_path: Path, metric: str, space) -> None:
    """EER (lower is better) and precision@1 (higher) were compared in one study, in the
    direction of the config's metric."""
    base = _base(f"train.val_metric={metric}")
    assert refused(base, space, tmp_path / "s") == METRIC


def test_ways_beside_another_validation_metric_still_searches(tmp_path: Path) -> None:
    """With precision@1 scoring the trials, eval.ways does not move the score: it is no
    scoring key, and the space passes check_tunable."""
    from siamkit.tuning.preflight import check_tunable

    base = _base()
    check_tunable(base, SearchSpace.from_dict({"eval.ways": {"choice": [[2], [4]]}}))


@pytest.mark.parametrize(
    ("spec", "got"),
    [
        ({"int": [0.5, 3], "log": True}, "[0.5, 3]"),
        ({"int": [1, 2.5]}, "[1, 2.5]"),
    ],
)
def test_an_int_range_of_fractions_is_refused_before_the_study(
    tmp_path: Path, spec, got: str
) -> None:
    """{int: [0.5, 3], log: true} passed every check (its ends checked as 0 and 3), then Optuna
    refused it in every trial: the study folder was written and each trial failed."""
    assert refused(_base(), {"train.seed": spec}, tmp_path / "s") == (
        f"search-space entry train.seed: int must be [low, high] of whole numbers, got {got}; "
        "use float for a range of fractions"
    )


def test_an_int_range_of_whole_floats_is_read_as_ints() -> None:
    """YAML's 1.0 is a whole number: the range is kept, its ends checked as 1 and 3."""
    (p,) = SearchSpace.from_dict({"train.seed": {"int": [1.0, 3], "log": True}}).params
    assert p.checked_values() == [1, 3]
