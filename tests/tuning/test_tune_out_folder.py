"""siamkit tune's --out: a folder whose study.db, best.yaml or trials.csv are of no siamkit
study is refused before anything is read or written there, and every file in it stays."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.tuning.study import STUDY_NAME, not_a_study, storage_url

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


#: A writer killed inside its write transaction, before COMMIT (as a SIGKILL or an OOM kill
#: while Optuna writes a trial): with a one-page cache its 500 kB spill into the file, so it
#: leaves a hot journal that SQLite must roll back before the file can be read again.
_KILLED_WRITER = """
import os, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size=1")
con.execute("BEGIN IMMEDIATE")
con.execute("CREATE TABLE spill (x BLOB)")
con.execute(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
    "INSERT INTO spill SELECT randomblob(1000) FROM n"
)
os._exit(0)
"""


def _kill_a_writer(db: Path) -> None:
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(db)], check=True)
    journal = db.with_name(db.name + "-journal")
    assert journal.is_file() and journal.stat().st_size > 0
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # the journal is hot
        ro = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            ro.execute("SELECT name FROM sqlite_master").fetchall()
        finally:
            ro.close()


def test_a_study_whose_writer_was_killed_mid_write_is_continued(tmp_path: Path) -> None:
    """A study.db left with a hot journal was read read-only, which cannot roll the journal
    back ("attempt to write a readonly database"), and tune said it was no study it could
    continue; SQLite rolls it back for a reader that may write, and the study goes on."""
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--out", str(out), "--no-progress"]
    for s in SETS:
        args += ["--set", s]
    first = CliRunner().invoke(cli, [*args, "--trials", "1"])
    assert first.exit_code == 0, first.output
    _kill_a_writer(out / "study.db")
    assert not_a_study(out / "study.db") is None
    assert not (out / "study.db-journal").exists()  # rolled back, as any writer's open would
    assert "spill" not in _tables(out / "study.db")
    again = CliRunner().invoke(cli, [*args, "--trials", "2"])
    assert again.exit_code == 0, again.output
    assert "1 of 2 trials finished, 1 to go" in again.output
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage_url(out / "study.db"))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


def test_a_users_database_with_a_hot_journal_is_still_refused(tmp_path: Path) -> None:
    """Opening read-write to roll the journal back writes no table of Optuna's: a user's
    database is still no study, and keeps only its own table."""
    db = tmp_path / "study.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE orders (id INTEGER, item TEXT)")
    con.executemany("INSERT INTO orders VALUES (?, ?)", [(i, "boot" * 100) for i in range(50)])
    con.commit()
    con.close()
    _kill_a_writer(db)
    assert not_a_study(db) == "a SQLite database of other tables, not Optuna's"
    assert _tables(db) == {"orders"} and not db.with_name("study.db-journal").exists()


def test_a_study_folder_named_with_url_characters(tmp_path: Path) -> None:
    """The storage URL was ``sqlite:///`` and the bare path: SQLAlchemy read a ``?`` as its
    query's start (the study went into a file named after the folder's first part, ``a``) and
    decoded ``%41`` in it ("unable to open database file")."""
    out = tmp_path / "a?b#c %41 d"
    args = ["tune", str(TINY), "--out", str(out), "--no-progress"]
    for s in SETS:
        args += ["--set", s]
    first = CliRunner().invoke(cli, [*args, "--trials", "1"])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    assert "study.db" in {p.name for p in out.iterdir()}
    again = CliRunner().invoke(cli, [*args, "--trials", "2"])
    assert again.exit_code == 0, again.output
    assert "1 of 2 trials finished, 1 to go" in again.output
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage_url(out / "study.db"))
    assert len(study.trials) == 2


def test_a_readonly_refusal_is_never_taken_for_no_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where SQLite may not write to roll a journal back at all, nothing can write Optuna's
    tables into the file either: Optuna's open says what is wrong, not a false "no study"."""
    import siamkit.tuning.study as study_module

    db = tmp_path / "study.db"
    optuna.create_study(study_name=STUDY_NAME, storage=storage_url(db))

    def readonly(db: Path, mode: str) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(study_module, "_tables_and_studies", readonly)
    assert not_a_study(db) is None
