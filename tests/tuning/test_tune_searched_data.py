"""A search space that sets ``data.*`` or ``eval.*`` values changed each trial's data without
the checks the config's own data get (the test classes' evaluation protocol, and that nothing
trains on a test class): a ``data.train_classes`` choice trained trials on the config's test
classes, an ``eval.shots`` choice gave a best.yaml that training refuses, and a
``data.labels_per_class`` its classes cannot give stopped the study mid-way. Every such value is
now checked before the study starts, and every trial's data before it trains."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.tuning._tiny_study import TINY, refused, tiny_base

from siamkit.training import apply_overrides, load_config, load_run_data
from siamkit.tuning import run_study


@pytest.fixture
def base():
    return tiny_base()


def test_train_classes_reaching_a_test_class_is_refused_before_the_study(
    base, tmp_path: Path
) -> None:
    space = {"data.train_classes": {"choice": [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5, 6, 7]]}}
    assert refused(base, space, tmp_path / "s") == (
        "search space: data.train_classes = [0, 1, 2, 3, 4, 5, 6, 7] is refused: it trains or "
        "validates on classes 6 and 7, test classes of the config: a trial must never train or "
        "select on the test classes; change the space"
    )
    # the config's data (independently loaded) do hold 6 and 7 as test classes
    assert {6, 7} <= set(load_run_data(base.data).test_classes)


def test_train_classes_moving_the_test_classes_is_refused(base, tmp_path: Path) -> None:
    """Fewer training classes train on no test class, but test on one the config trains on."""
    space = {"data.train_classes": {"choice": [[0, 1, 2, 4, 5]]}}
    assert refused(base, space, tmp_path / "s") == (
        "search space: data.train_classes = [0, 1, 2, 4, 5] is refused: it tests on classes 3, "
        "6, 7, 8 and 9, not the config's classes 6, 7, 8 and 9: a trial must never train or "
        "select on the test classes; change the space"
    )


def test_searched_shots_the_test_classes_cannot_give_are_refused(base, tmp_path: Path) -> None:
    space = {"eval.shots": {"choice": [[1], [200]]}}
    message = refused(base, space, tmp_path / "s")
    assert message.startswith(
        "search space: eval.shots = [200] is refused: 4-way 200-shot evaluation cannot be met: "
    ), message


def test_a_range_of_labels_per_class_is_checked_at_its_end(base, tmp_path: Path) -> None:
    """The range's high end asks more labels than a class has: refused before the study, not
    by the first trial that draws too many (which raised out of the study)."""
    space = {"data.labels_per_class": {"int": [5, 1000]}}
    message = refused(base, space, tmp_path / "s")
    assert message.startswith(
        "search space: data.labels_per_class = 1000 is refused: data.labels_per_class = 1000 is "
        "more than class "
    ), message


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_value_refused_beside_every_searched_value_is_refused_before_the_study(
    base, tmp_path: Path
) -> None:
    """150 labels of each of the 4 training classes and a limit of 500 images each pass with
    the config's other values, but every trial draws both: the loader refuses each, so the
    space is refused before the study (it ran to its cap of failures)."""
    space = {"data.labels_per_class": {"choice": [150]}, "data.limit": {"choice": [500]}}
    message = refused(base, space, tmp_path / "s")
    assert message.startswith(
        "search space: data.labels_per_class = 150 is refused beside each searched value of "
        "data.limit: data.limit = 500 is fewer than the 600 images data.labels_per_class "
    ), message


def test_values_refused_together_fail_their_trial_not_the_study(base, tmp_path: Path) -> None:
    """Each value trains beside one of the other's (150 labels with no limit, a limit of 500
    with 2 labels); a trial drawing 150 and 500 together fails with the loader's reason and
    the study goes on."""
    space = {
        "data.labels_per_class": {"choice": [2, 150]},
        "data.limit": {"choice": [None, 500]},
    }
    result = run_study(base, space, tmp_path, n_trials=3, progress=False)
    assert result.complete == 3
    rows = _rows(tmp_path)
    both = [r for r in rows if (r["data.labels_per_class"], r["data.limit"]) == ("150", "500")]
    assert both, rows  # the seeded sampler drew the pair
    for r in rows:
        assert (r["state"] == "fail") == (r in both), r
    assert all(
        r["reason"].startswith("the trial's data are refused: data.limit = 500 ") for r in both
    )


def test_a_value_refused_beside_the_configs_but_not_the_spaces_values_trains(
    base, tmp_path: Path
) -> None:
    """10 labels of each of the 4 training classes are more than the config's limit of 20, but
    every trial has the space's limit, null: checked beside the config's, the space was
    refused."""
    base = apply_overrides(base, ["data.limit=20"])
    with pytest.raises(ValueError, match=r"data\.limit = 20 is fewer than the 40 images"):
        load_run_data(apply_overrides(base, ["data.labels_per_class=10"]).data)
    space = {"data.labels_per_class": {"choice": [2, 10]}, "data.limit": {"choice": [None]}}
    result = run_study(base, space, tmp_path, n_trials=3, progress=False)
    assert result.complete == 3
    assert {r["state"] for r in _rows(tmp_path)} == {"complete"}


def test_each_trials_data_are_checked_when_the_space_is_too_big_to_load_first(
    base, tmp_path: Path
) -> None:
    """eval.shots beside 9 values of data.limit is more combinations than are loaded before
    the study: a trial drawing 200 shots, more than the test classes have, is refused on its
    own, and the study goes on. (A data.train_classes value moving the classes is refused
    before the study however many combinations: test_tune_classes_over_the_cap.)"""
    from siamkit.tuning.preflight import MAX_COMBINATIONS

    limits = list(range(100, 1000, 100))
    assert len(limits) > MAX_COMBINATIONS
    space = {"eval.shots": {"choice": [[1], [200]]}, "data.limit": {"choice": limits}}
    result = run_study(base, space, tmp_path / "s", n_trials=3, progress=False)
    assert result.complete == 3
    rows = _rows(tmp_path / "s")
    many = [r for r in rows if r["eval.shots"] == "[200]"]
    assert many, rows  # the seeded sampler drew them
    for r in rows:
        assert (r["state"] == "fail") == (r in many), r
    assert all(
        r["reason"].startswith(
            "the trial's data are refused: 4-way 200-shot evaluation cannot be met: "
        )
        for r in many
    )


def test_a_searched_data_value_that_keeps_the_classes_trains(base, tmp_path: Path) -> None:
    space = {"data.limit": {"choice": [200, 300]}}
    result = run_study(base, space, tmp_path, n_trials=2, progress=False)
    assert result.complete == 2
    assert load_config(result.best_config).data.limit in (200, 300)


def test_siamkit_tune_names_the_refused_value_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    space = tmp_path / "space.yaml"
    space.write_text("data.train_classes: {choice: [[0, 1, 2, 3, 4, 5, 6]]}\n")
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--space", str(space), "--out", str(out), "--trials", "1",
            "--no-progress", "--set", "data.val_classes=[4, 5]"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: search space: data.train_classes = [0, 1, 2, 3, 4, 5, 6] is refused: it trains "
        "or validates on class 6, a test class of the config: a trial must never train or "
        "select on the test classes; change the space"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "key", [" data.train_classes", "data. train_classes ", "data .train_classes"]
)
def test_a_searched_key_written_with_spaces_is_checked_as_the_key(
    base, tmp_path: Path, key: str
) -> None:
    """apply_overrides reads ' data.train_classes' as data.train_classes, but the preflight
    compared the key's text: the study folder was written and every trial failed."""
    space = {key: {"choice": [[0, 1, 2, 3, 4, 5, 6, 7]]}}
    assert refused(base, space, tmp_path / "s") == (
        "search space: data.train_classes = [0, 1, 2, 3, 4, 5, 6, 7] is refused: it trains or "
        "validates on classes 6 and 7, test classes of the config: a trial must never train or "
        "select on the test classes; change the space"
    )


def test_a_key_written_twice_with_spaces_is_refused() -> None:
    from siamkit.tuning import SearchSpace

    with pytest.raises(ValueError) as err:
        SearchSpace.from_dict({"data.limit": {"choice": [10]}, " data.limit": {"choice": [20]}})
    assert str(err.value) == (
        "search-space keys 'data.limit' and ' data.limit' both name data.limit: keep one of the "
        "two entries"
    )


@pytest.mark.parametrize("entry", ["val_classes", " val_classes"])
def test_validation_classes_in_a_whole_data_choice_are_refused(
    base, tmp_path: Path, entry: str
) -> None:
    """A data section's choice setting val_classes was let through (only a data.val_classes
    key was refused): its trials were scored on classes 0 and 1, the others on 4 and 5, and
    best.yaml took the easier classes' trial."""
    space = {"data": {"choice": [{entry: [0, 1]}, {entry: [4, 5]}]}}
    assert refused(base, space, tmp_path / "s") == (
        "data.val_classes cannot be searched: it picks the validation classes each trial is "
        "scored on, so trials must be scored alike; set it in the config"
    )


def test_the_data_loaded_before_the_study_are_bounded(base) -> None:
    """Training classes 0-7 fail beside every limit and labels_per_class: checking each value
    beside all 81 of the others' combinations would load the data 81 times before the study
    (a big folder each time); beyond MAX_COMBINATIONS the trials check their own, but for the
    values that move the classes, loaded once each beside the config's other values."""
    from siamkit.tuning import SearchSpace
    from siamkit.tuning.preflight import MAX_COMBINATIONS, _check_data_choices, data_kept_apart

    many = list(range(100, 1000, 100))
    space = SearchSpace.from_dict({
        "data.train_classes": {"choice": [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5, 6, 7]]},
        "data.limit": {"choice": many},
        "data.labels_per_class": {"choice": many},
    })  # fmt: skip
    base_data = load_run_data(base.data)
    loaded = []

    def load(cfg):  # as the study's loader: its classes checked against the config's
        loaded.append(cfg.data)
        data = load_run_data(cfg.data)
        data_kept_apart(base_data, data)
        return data

    import siamkit.tuning.preflight as preflight

    classes_loaded = []

    def load_classes(data, *args):
        classes_loaded.append(data.train_classes)
        return load_run_data(data, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(preflight, "load_run_data", load_classes)
        # each value beside too many to load; the classes' values still checked, one load each
        with pytest.raises(ValueError, match=r"data\.train_classes = \[0, 1, 2, 3, 4, 5, 6, 7\]"):
            _check_data_choices(base, space, base_data, load)
    assert loaded == []
    assert classes_loaded == [(0, 1, 2, 3, 4, 5, 6, 7)]  # not the config's own again
    small = SearchSpace.from_dict({
        "data.train_classes": {"choice": [[0, 1, 2, 3, 4, 5, 6, 7]]},
        "data.limit": {"choice": many[:MAX_COMBINATIONS]},
    })  # fmt: skip
    with pytest.raises(ValueError, match=r"beside each searched value of data\.limit"):
        _check_data_choices(base, small, base_data, load)
    assert len(loaded) == MAX_COMBINATIONS  # every combination, once
