"""Search-space files that hold no space as meant: a key given twice in one map is refused,
naming the key and both lines (YAML keeps the last alone, and the study searched what the user
had not meant); a file of no entries says what it holds and what to write."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.tuning import load_space

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
