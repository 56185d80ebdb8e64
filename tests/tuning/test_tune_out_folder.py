"""siamkit tune's --out: a folder whose study.db, best.yaml or trials.csv are of no siamkit
study is refused before anything is read or written there, and every file in it stays."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.tuning.study import STUDY_NAME, not_a_study

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SETS = ["data.val_classes=[4, 5]", "train.epochs=1", "train.steps_per_epoch=1"]


def _tune(out: Path) -> str:
    args = ["tune", str(TINY), "--trials", "1", "--out", str(out), "--no-progress"]
    for s in SETS:
        args += ["--set", s]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    return res.output.strip().splitlines()[-1]


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _user_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE orders (id INTEGER, item TEXT)")
    con.execute("INSERT INTO orders VALUES (1, 'boot')")
    con.commit()
    con.close()


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


def test_a_users_sqlite_database_named_study_db_is_left_alone(tmp_path: Path) -> None:
    """Opened with Optuna (by the plug-in lookup, then the study), a user's own SQLite
    database of that name had Optuna's tables written into it."""
    out = tmp_path / "mine"
    out.mkdir()
    _user_sqlite(out / "study.db")
    before = _contents(out)
    said = _tune(out)
    assert said == (
        f"Error: --out {out}: {out / 'study.db'} is not a study siamkit tune can continue (a "
        "SQLite database of other tables, not Optuna's); choose another --out for the study, "
        "or move it"
    )
    assert _contents(out) == before and _tables(out / "study.db") == {"orders"}


def test_a_study_db_that_is_no_database_is_one_sentence(tmp_path: Path) -> None:
    """A text file of that name stopped the study with SQLAlchemy's traceback ('file is not a
    database'), after the data had loaded."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "study.db").write_text("my notes on the study\n")
    before = _contents(out)
    said = _tune(out)
    assert said.endswith(
        "(it is not a SQLite database); choose another --out for the study, or move it"
    )
    assert "Traceback" not in said and _contents(out) == before


def test_another_optuna_study_is_not_joined(tmp_path: Path) -> None:
    """An Optuna storage of the user's own studies got a siamkit-tune study added to it."""
    out = tmp_path / "mine"
    out.mkdir()
    storage = f"sqlite:///{out / 'study.db'}"
    optuna.create_study(study_name="my-search", storage=storage)
    said = _tune(out)
    assert "(its Optuna studies, my-search, are none of them siamkit tune's" in said
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    assert names == ["my-search"]


@pytest.mark.parametrize("names", [["best.yaml"], ["best.yaml", "trials.csv"]])
def test_a_studys_file_names_beside_no_study_db_are_not_overwritten(
    tmp_path: Path, names: list[str]
) -> None:
    """A folder holding a best.yaml (or trials.csv) of the user's but no study.db: the study
    was begun there and overwrote them."""
    out = tmp_path / "configs"
    out.mkdir()
    for n in names:
        (out / n).write_text(f"the user's own {n}\n")
    before = _contents(out)
    said = _tune(out)
    held = " and ".join(names)
    assert said == (
        f"Error: --out {out} holds {held} but no study.db, so they are of no study this one "
        "continues and it would overwrite them; choose another --out, or move them"
    )
    assert _contents(out) == before


def test_a_study_folder_and_an_empty_study_db_are_studies(tmp_path: Path) -> None:
    """The check lets through what a study begins or goes on in."""
    empty = tmp_path / "empty.db"
    empty.touch()
    assert not_a_study(empty) is None
    ours = tmp_path / "ours.db"
    optuna.create_study(study_name=STUDY_NAME, storage=f"sqlite:///{ours}")
    assert not_a_study(ours) is None
    begun = tmp_path / "begun.db"  # Optuna's tables, no study yet: a study killed as it began
    optuna.storages.RDBStorage(f"sqlite:///{begun}")
    assert _tables(begun) and not_a_study(begun) is None
