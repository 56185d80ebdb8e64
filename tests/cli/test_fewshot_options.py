"""A new user's N-way K-shot and demo options: what the table, the errors and the report say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.experiment import check_protocol
from siamkit.training import EvalConfig

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "digits-tiny.yaml")


@pytest.fixture
def demo_dir(tiny_demo_dir: Path) -> Path:
    return tiny_demo_dir


def test_demo_report_is_titled_by_the_data_it_ran_on(demo_dir: Path) -> None:
    """A digits --config's report was titled 'siamkit demo: Fashion-MNIST, unseen classes'."""
    page = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert "<title>siamkit demo: digits, unseen classes</title>" in page
    assert "Fashion-MNIST" not in page


def test_ways_above_the_classes_are_said_under_the_table(demo_dir: Path) -> None:
    """--help says an N above the classes runs as all of them "and the table says so": it did
    not say so (a 4-way row, no word about the 10 asked for)."""
    model = str(demo_dir / "model")
    args = ["evaluate", model, "--data", "digits", "--ways", "3,10", "--shots", "1"]
    res = CliRunner().invoke(cli, [*args, "--episodes", "5", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "3-way 1-shot" in res.output and "4-way 1-shot" in res.output
    assert "--ways 10: only 4 classes are evaluated, so it ran as 4-way" in res.output


def test_one_class_to_evaluate_names_the_fix(demo_dir: Path) -> None:
    """'evaluate needs at least two classes' said nothing of what to change."""
    model = str(demo_dir / "model")
    res = CliRunner().invoke(cli, ["evaluate", model, "--data", "digits", "--classes", "6"])
    assert res.exit_code == 1 and "--classes names one class (6)" in res.output
    assert "name them" in res.output


def test_demo_refuses_data_dir_with_a_config_of_other_data(tmp_path: Path) -> None:
    """--data-dir (the Fashion-MNIST files) with a digits --config was silently ignored."""
    out = tmp_path / "out"
    args = ["demo", "--config", TINY, "--out", str(out), "--data-dir", str(tmp_path)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and "--data-dir is for Fashion-MNIST" in res.output
    assert "trains on digits" in res.output and not out.exists()


def test_demo_names_a_train_class_given_twice_before_loading(tmp_path: Path) -> None:
    """'0,0,1,2' was refused only after the data loaded, as 'train_classes contains duplicates'."""
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["demo", "--config", TINY, "--out", str(out), "--train-classes", "0,0,1,2"]
    )
    assert res.exit_code == 2 and "--train-classes" in res.output
    assert "names class 0 twice; give each class once" in res.output and not out.exists()


def _refusal(shots: tuple[int, ...], ways: int, counts: list[int]) -> str:
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    with pytest.raises(ValueError) as err:
        check_protocol(EvalConfig(shots=shots, ways=ways), y, "evaluation", ("--shots", "--ways"))
    return str(err.value)


def test_impossible_few_shot_offers_only_what_helps() -> None:
    """One image a class was told 'lower --shots, --ways' (neither helps: 1 shot + 1 query is
    the least); 4 classes of 4 images at 5-shot were told to lower --ways too. Both fixes and
    the last resort are one list, without the Oxford comma it was joined with by hand (s63_r5
    finding 1)."""
    said = _refusal((1,), 4, [1, 1, 1, 1])
    assert said.endswith("; give the classes more images") and "lower" not in said
    said = _refusal((5,), 4, [4, 4, 4, 4])
    assert said.endswith("; lower --shots (at most 3 at 4-way) or give the classes more images")
    said = _refusal((5,), 3, [6, 6, 3])
    assert said.endswith(
        "; lower --shots (at most 2 at 3-way), lower --ways (at most 2 at 5-shot) or give the "
        "classes more images"
    )
    said = _refusal((1,), 4, [5, 5, 1, 1])  # fewer ways helps, fewer shots cannot
    assert said.endswith("; lower --ways (at most 2 at 1-shot) or give the classes more images")


def test_a_test_set_of_one_class_names_the_fix() -> None:
    with pytest.raises(ValueError, match=r"leave two or more classes out of data\.train_classes"):
        check_protocol(EvalConfig(), torch.zeros(10, dtype=torch.long))


def test_evaluate_takes_the_few_shot_settings_the_models_run_recorded(tmp_path: Path) -> None:
    """evaluate fell back to 1,5-shot at all classes whatever the model's run evaluated with;
    it now takes the run's eval.shots and eval.ways (an option given still wins) and says so."""
    out = tmp_path / "run"
    sets = ["train.epochs=1", "train.steps_per_epoch=2", "eval.episodes=5",
            "eval.shots=[1, 3]", "eval.ways=3"]  # fmt: skip
    args = ["train", TINY, "--out", str(out), "--no-progress", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, *(a for s in sets for a in ("--set", s))])
    assert res.exit_code == 0, res.output
    base = ["evaluate", str(out / "model"), "--data", "digits", "--episodes", "5", "--json"]
    line = "N-way K-shot as the model's run recorded it (eval.shots 1,3 and eval.ways 3); pass "
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)["few_shot"]) == ["3way1shot", "3way3shot"]
    assert res.stderr.startswith(line), res.stderr
    res = CliRunner().invoke(cli, [*base, "--shots", "2"])  # the run's ways, the option's shots
    assert list(json.loads(res.stdout)["few_shot"]) == ["3way2shot"]
    assert "(eval.ways 3)" in res.stderr and "eval.shots" not in res.stderr
    res = CliRunner().invoke(cli, [*base, "--shots", "1", "--ways", "2"])
    assert list(json.loads(res.stdout)["few_shot"]) == ["2way1shot"] and res.stderr == ""
    res = CliRunner().invoke(cli, base[:-1])  # the table's reader is told too
    assert res.exit_code == 0 and line in res.output and "3-way 3-shot" in res.output


def test_evaluate_takes_the_episodes_and_queries_the_models_run_recorded(tmp_path: Path) -> None:
    """evaluate ran 1000 episodes of 15 queries a class whatever the model's run evaluated
    with; it now takes the run's eval.episodes and eval.queries (--episodes / --queries still
    win) and names them in the line that names the run's shots and ways."""
    out = tmp_path / "run"
    sets = ["train.epochs=1", "train.steps_per_epoch=2", "eval.episodes=7", "eval.queries=4"]
    args = ["train", TINY, "--out", str(out), "--no-progress", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, *(a for s in sets for a in ("--set", s))])
    assert res.exit_code == 0, res.output
    base = ["evaluate", str(out / "model"), "--data", "digits", "--shots", "1", "--json"]
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["few_shot"]["4way1shot"]
    assert (got["episodes"], got["n_query"]) == (7, 4)
    assert res.stderr == (
        "N-way K-shot as the model's run recorded it (eval.queries 4 and eval.episodes 7); "
        "pass --queries or --episodes to choose\n"
    )
    res = CliRunner().invoke(cli, [*base, "--episodes", "3"])  # the option's episodes
    got = json.loads(res.stdout)["few_shot"]["4way1shot"]
    assert (got["episodes"], got["n_query"]) == (3, 4)
    assert "(eval.queries 4); pass --queries to choose" in res.stderr
    res = CliRunner().invoke(cli, [*base, "--episodes", "3", "--queries", "2"])
    got = json.loads(res.stdout)["few_shot"]["4way1shot"]
    assert (got["episodes"], got["n_query"]) == (3, 2) and res.stderr == ""


@pytest.fixture(scope="module")
def val_classes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny digits run trained on 0-3 that held out 4 and 5 for validation (tested on 6-9)."""
    out = tmp_path_factory.mktemp("val-classes") / "run"
    sets = ["train.epochs=1", "train.steps_per_epoch=2", "data.val_classes=[4, 5]"]
    args = ["train", TINY, "--out", str(out), "--no-progress", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, *(a for s in sets for a in ("--set", s))])
    assert res.exit_code == 0, res.output
    return out


def test_evaluate_says_when_it_evaluates_the_runs_validation_classes(val_classes_run: Path) -> None:
    """evaluate counted a class of the run's val_classes (not trained on, but choosing its
    epoch and calibrating its threshold) as unseen without a word; it now names them in a line
    (on stderr with --json), and says nothing of the unseen test classes."""
    out = val_classes_run
    base = ["evaluate", str(out / "model"), "--data", "digits", "--episodes", "5"]
    line = (
        "classes 4, 5 were the model's run's validation classes (val_classes: not trained on, "
        "but choosing its epoch and calibrating its threshold), so these figures are optimistic "
        "for unseen classes: leave them out with --classes"
    )
    res = CliRunner().invoke(cli, [*base, "--classes", "4,5,6,7", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["data"]["classes"] == ["4", "5", "6", "7"]
    assert line in res.stderr.splitlines(), res.stderr
    res = CliRunner().invoke(cli, [*base, "--classes", "5,6,7"])
    assert res.exit_code == 0 and "class 5 was the model's run's validation class" in res.output
    res = CliRunner().invoke(cli, [*base, "--json"])  # its test classes 6-9: nothing to say
    assert res.exit_code == 0 and "validation class" not in res.stderr, res.stderr


def test_evaluate_on_the_runs_test_classes_gives_its_few_shot_figures(tmp_path: Path) -> None:
    """evaluate took the run's eval.shots/ways/queries/episodes but drew its episodes with seed
    0 whatever the run's eval.seed, so evaluating the model on the run's test classes did not
    give metrics.json's few-shot figures; it now takes eval.seed too (--seed still wins)."""
    out = tmp_path / "run"
    sets = ["train.epochs=1", "train.steps_per_epoch=2", "eval.episodes=20", "eval.seed=3"]
    args = ["train", TINY, "--out", str(out), "--no-progress", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, *(a for s in sets for a in ("--set", s))])
    assert res.exit_code == 0, res.output
    recorded = json.loads((out / "metrics.json").read_text())["few_shot"]
    base = ["evaluate", str(out / "model"), "--data", "digits", "--device", "cpu", "--json"]
    res = CliRunner().invoke(cli, base)  # the run's test classes, 6-9
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["few_shot"] == recorded
    assert res.stderr == (
        "N-way K-shot as the model's run recorded it (eval.episodes 20 and eval.seed 3); "
        "pass --episodes or --seed to choose\n"
    )
    res = CliRunner().invoke(cli, [*base, "--seed", "0"])  # the option's seed, 0 included
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["few_shot"] != recorded
    assert "(eval.episodes 20); pass --episodes to choose" in res.stderr


def test_evaluate_report_does_not_call_the_runs_validation_classes_unseen(
    val_classes_run: Path, tmp_path: Path
) -> None:
    """The report's operating point said the threshold was 'fit on validation data of the
    training classes, never on these' of the run's validation classes, which it was fit on; it
    now says so of them, and 'never on these' of the test classes alone."""
    base = ["evaluate", str(val_classes_run / "model"), "--data", "digits", "--episodes", "5"]
    for classes, validated in (("4,5,6,7", True), ("6,7,8,9", False)):
        page = tmp_path / f"{classes}.html"
        res = CliRunner().invoke(cli, [*base, "--classes", classes, "--report", str(page)])
        assert res.exit_code == 0, res.output
        text = page.read_text(encoding="utf-8")
        assert "Operating point the model ships with" in text
        assert ("never on these" in text) is not validated, classes
        said = "validation pairs of its run's validation classes (data.val_classes: not trained"
        assert (said in text) is validated, classes
        # the header says what the run trained and validated on, from the model's record
        assert "of 4 classes (0, 1, 2, 3) · validated on 2 other classes (4, 5) · " in text


def test_trained_on_tells_the_runs_validation_classes_from_unseen_ones() -> None:
    """evaluate's four states of the evaluated classes, from the model's run record: trained
    on, validated on (val_classes), unseen, and not known (a run that held classes out before
    val_classes were recorded)."""
    from types import SimpleNamespace

    from siamkit.cli._model_run import _trained_on

    run = {"dataset": "digits", "train_classes": [0, 1, 2, 3], "val_classes": [4, 5]}
    meta = {"run": run, "config": {"data": {"val_classes": [4, 5]}}}

    def state(chosen: list[int], meta: dict, data: str = "digits") -> object:
        ev = SimpleNamespace(chosen=chosen, names=[str(c) for c in range(10)])
        return _trained_on(data, ev, meta)

    assert state([3, 4, 6], meta) is True
    assert state([4, 6, 7], meta) == "validation"
    assert state([6, 7, 8], meta) is False
    assert state([4, 6, 7], meta, "fashion-mnist") is None  # another data set
    old = {"run": {k: v for k, v in run.items() if k != "val_classes"}, "config": meta["config"]}
    assert state([4, 6, 7], old) is None and state([6, 7], old) is None
    old["config"] = {"data": {"val_classes": None}}  # its validation images were of 0-3
    assert state([6, 7], old) is False
