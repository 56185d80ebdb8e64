"""Search-space files that hold no space as meant: a key given twice in one map is refused,
naming the key and both lines (YAML keeps the last alone, and the study searched what the user
had not meant); a file of no entries says what it holds and what to write."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.tuning import SearchSpace, load_space

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "optim.lr: {float: [1.0e-4, 1.0e-3]}\nmodel.embedding_dim: {choice: [8, 16]}\n"
            "optim.lr: {float: [1.0e-3, 1.0e-2]}\n",
            "line 3: optim.lr is given again (first on line 1)",
        ),
        (
            "optim.lr:\n  float: [1.0e-4, 1.0e-3]\n  float: [1.0e-3, 1.0e-2]\n",
            "line 3: float is given again (first on line 2)",
        ),
        (
            "loss: {choice: [{kind: triplet, margin: 0.1}, {kind: triplet,\n  margin: 0.2,"
            " margin: 0.3}]}\n",
            "line 2: margin is given again (first on line 2)",
        ),
    ],
)
def test_a_key_given_twice_is_refused(tmp_path: Path, text: str, said: str) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(text)
    assert yaml.safe_load(text)  # YAML itself takes it: the last value silently wins
    with pytest.raises(ValueError) as err:
        load_space(space)
    assert str(err.value) == (f"{space} {said}, and YAML would keep the last alone; give it once")


def test_the_cli_refuses_it_before_anything_is_written(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("optim.lr: {float: [1.0e-4, 1.0e-3]}\noptim.lr: {float: [1.0e-3, 1.0e-2]}\n")
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--space", str(space), "--trials", "1", "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--set", "data.val_classes=[4, 5]"])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        f"Error: {space} line 2: optim.lr is given again (first on line 1), and YAML would keep "
        "the last alone; give it once"
    ]
    assert not out.exists()


def test_the_shipped_space_and_an_alias_pass(tmp_path: Path) -> None:
    shipped = TINY.parent / "space-losses.yaml"
    assert load_space(shipped).params
    space = tmp_path / "space.yaml"  # an anchor used twice is one map, not a repeated key
    space.write_text("optim.lr: &r {float: [1.0e-4, 1.0e-3]}\noptim.weight_decay: *r\n")
    assert [p.key for p in load_space(space).params] == ["optim.lr", "optim.weight_decay"]


@pytest.mark.parametrize(
    ("text", "got"),
    [
        ("", "nothing (an empty file, or comments alone)"),
        ("# optim.lr: {float: [1.0e-4, 1.0e-3]}\n", "nothing (an empty file, or comments alone)"),
        ("{}\n", "an empty map"),
        ("- optim.lr\n", "a list"),
        ("optim.lr\n", "the single value 'optim.lr'"),
    ],
)
def test_a_space_file_of_no_entries_says_what_it_got_and_what_to_write(
    tmp_path: Path, text: str, got: str
) -> None:
    """An empty space file (or one of comments, a list, a bare key) was told it 'must be a
    non-empty map of section.key entries', neither what it held nor what to write."""
    space = tmp_path / "space.yaml"
    space.write_text(text)
    with pytest.raises(ValueError) as err:
        load_space(space)
    assert str(err.value) == (
        f"{space}: a search space must be a non-empty map of section.key entries, got {got}: "
        "write one line a key, e.g. optim.lr: {float: [1.0e-4, 1.0e-3], log: true}, or leave "
        "out --space for the default space"
    )


@pytest.mark.parametrize(
    "text",
    [
        # two merge keys: YAML merges both maps in (not a key given twice)
        "optim.lr: &r {float: [1.0e-4, 1.0e-2]}\nloss.margin: &l {float: [0.1, 0.5], log: true}\n"
        "optim.weight_decay:\n  <<: *r\n  <<: *l\n",
        # 1 and "1" are two keys to YAML, an int and a str
        'model.encoder_kwargs: {choice: [{widths: [8, 16], 1: a, "1": b}]}\n',
    ],
)
def test_keys_yaml_keeps_apart_are_not_refused(tmp_path: Path, text: str) -> None:
    """The check compared the keys' text: a second ``<<`` was refused though YAML applies
    both merges, and ``1`` beside ``"1"`` though YAML keeps both."""
    space = tmp_path / "space.yaml"
    space.write_text(text)
    assert load_space(space) == SearchSpace.from_dict(yaml.safe_load(text))


@pytest.mark.parametrize(
    ("text", "kept", "said"),
    [
        (
            "model.encoder_kwargs:\n  choice:\n    - widths: [8, 16]\n      1: a\n      1.0: b\n",
            {"widths": [8, 16], 1: "b"},
            "line 5: 1.0 is given again (first on line 4 as 1)",
        ),
        (
            "model.encoder_kwargs:\n  choice:\n    - true: a\n      yes: b\n",
            {True: "b"},
            "line 4: yes is given again (first on line 3 as true)",
        ),
    ],
)
def test_keys_yaml_takes_for_one_are_refused(
    tmp_path: Path, text: str, kept: dict[object, object], said: str
) -> None:
    """Keys written apart that YAML makes one (1 and 1.0, true and yes): the last wins."""
    space = tmp_path / "space.yaml"
    space.write_text(text)
    assert yaml.safe_load(text)["model.encoder_kwargs"]["choice"] == [kept]  # the last alone
    with pytest.raises(ValueError) as err:
        load_space(space)
    assert str(err.value) == (f"{space} {said}, and YAML would keep the last alone; give it once")
