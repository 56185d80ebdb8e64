"""Beyond MAX_COMBINATIONS of the other searched data values nothing was loaded before the
study (since d6807769): a space whose every ``data.train_classes`` choice reached a test class
wrote a study folder and failed every trial. Values moving the classes are now checked beside
the config's other data values (the classes do not depend on them). And a trial's data that its
checks refused were kept in the study's cache for the rest of the study: they are now kept only
once accepted."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from tests.tuning._tiny_study import tiny_base

import siamkit.tuning.search as search
from siamkit.training import load_run_data
from siamkit.tuning import SearchSpace, run_study
from siamkit.tuning.preflight import MAX_COMBINATIONS, _check_data_choices

#: More values than MAX_COMBINATIONS: a value searched beside them is not checked with each.
LIMITS = {"choice": list(range(100, 100 * (MAX_COMBINATIONS + 2), 100))}
LABELS = {"choice": list(range(10, 10 * (MAX_COMBINATIONS + 2), 10))}


@pytest.fixture
def base():
    return tiny_base()


@pytest.mark.parametrize("key", ["data.train_classes", "data"])
def test_train_classes_reaching_a_test_class_are_refused_beside_many_values(
    base, tmp_path: Path, key: str
) -> None:
    """Every train_classes choice trains on a test class: the study folder was written and
    each trial failed (R7's exp2); refused before the study, the other values' many
    combinations notwithstanding (a whole data section's choice too)."""
    wide, fewer = [0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6]
    if key == "data":
        chosen = {"choice": [{"train_classes": wide}, {"train_classes": fewer}]}
        shown = f"{{'train_classes': {wide}}}"
    else:
        chosen, shown = {"choice": [wide, fewer]}, f"{wide}"
    space = {key: chosen, "data.limit": LIMITS, "data.labels_per_class": LABELS}
    out = tmp_path / "s"
    with pytest.raises(ValueError) as err:
        run_study(base, space, out, n_trials=1, progress=False)
    assert not out.exists()
    assert str(err.value) == (
        f"search space: {key} = {shown} is refused: it trains or validates on classes 6 and 7, "
        "test classes of the config: a trial must never train or select on the test classes; "
        "change the space"
    )


def test_train_classes_keeping_the_test_classes_pass_beside_many_values(base) -> None:
    """The check refuses only what moves the classes: the config's own train_classes beside
    many limits and labels per class passes (nothing else is loaded for it)."""
    space = SearchSpace.from_dict(
        {
            "data.train_classes": {"choice": [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]]},
            "data.limit": LIMITS,
            "data.labels_per_class": LABELS,
        }
    )
    loads = []

    def load(cfg):
        loads.append(cfg)
        return load_run_data(cfg.data)

    _check_data_choices(base, space, load(base), load)
    assert len(loads) == 1  # every value beside more than MAX_COMBINATIONS: none by the loader


def test_a_refused_trials_data_are_not_kept(base, tmp_path: Path, monkeypatch) -> None:
    """eval.shots [200] or [201] beside many limits (and queries) is left to the trials; each trial's data, refused by
    the test classes' protocol, stayed in the study's cache: at each load no refused data are
    alive but the config's."""
    made: list[weakref.ref] = []  # each loaded data's training images
    alive_at_load: list[int] = []

    def counting(*args, **kwargs):
        gc.collect()
        alive_at_load.append(sum(r() is not None for r in made[1:]))  # not the config's
        data = load_run_data(*args, **kwargs)
        made.append(weakref.ref(data.train_x))
        return data

    monkeypatch.setattr(search, "load_run_data", counting)
    space = {
        "eval.shots": {"choice": [[200], [201]]},
        "eval.queries": {"choice": list(range(1, MAX_COMBINATIONS + 2))},
        "data.limit": LIMITS,
    }
    result = run_study(base, space, tmp_path / "s", n_trials=1, progress=False)
    assert result.stopped_by == "failures"
    assert len(alive_at_load) > 3  # the trials loaded their data
    assert max(alive_at_load) == 0, alive_at_load
