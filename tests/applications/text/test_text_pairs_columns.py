"""A support team's labelled pairs keep their own header (``ticket_one,ticket_two,is_duplicate``):
``siamkit train`` renames the columns with data.columns, and ``siamkit calibrate`` and ``siamkit
evaluate`` of a text model take the same mapping as ``--columns``. A renamed file calibrates to
the threshold and evaluates to the figures of the same file with the header a,b,label; a column
``--columns`` names that the file lacks, a field pairs do not have, and a file without the
columns are refused in one sentence naming the option, before the model loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from siamkit.cli.main import cli

RENAMED = "a=Ticket_One,b=ticket_two,label=is_duplicate"


@pytest.fixture
def model(tiny_hf: Path, tmp_path: Path) -> Path:
    """The tiny BERT saved as a siamkit text model (no threshold yet)."""
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.export.bundle import save_model

    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    return save_model(net, tmp_path / "model")


def _files(tmp_path: Path, graded: list[tuple[str, str, float]]) -> tuple[Path, Path]:
    """The same labelled pairs under the header a,b,label and the team's own header (the
    columns in another order, one spelled in another case)."""
    rows = [(a, b, int(s > 2.5)) for a, b, s in graded]
    plain, renamed = tmp_path / "plain.csv", tmp_path / "tickets.csv"
    plain.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    renamed.write_text(
        "is_duplicate,ticket_one,ticket_two\n" + "".join(f"{y},{a},{b}\n" for a, b, y in rows)
    )
    return plain, renamed


def _run(args: list[str], code: int = 0) -> Result:
    res = CliRunner().invoke(cli, [*map(str, args), "--no-progress"])
    assert res.exit_code == code, res.output
    return res


def test_renamed_header_calibrates_to_the_same_threshold(
    model: Path, tmp_path: Path, graded_pairs
) -> None:
    plain, renamed = _files(tmp_path, graded_pairs)
    other = tmp_path / "other-model"
    shutil.copytree(model, other)
    a = json.loads(_run(["calibrate", model, "--data", plain, "--json"]).stdout)
    b = json.loads(
        _run(["calibrate", other, "--data", renamed, "--columns", RENAMED, "--json"]).stdout
    )
    assert (b["genuine_pairs"], b["impostor_pairs"]) == (6, 6)
    assert b["threshold"] == a["threshold"]
    assert (b["tar"], b["far"]) == (a["tar"], a["far"])


def test_renamed_header_evaluates_to_the_same_figures(
    model: Path, tmp_path: Path, graded_pairs
) -> None:
    plain, renamed = _files(tmp_path, graded_pairs)
    a = json.loads(_run(["evaluate", model, "--data", plain, "--json"]).stdout)
    b = json.loads(
        _run(["evaluate", model, "--data", renamed, "--columns", RENAMED, "--json"]).stdout
    )
    assert b["data"].pop("source") == str(renamed) and a["data"].pop("source") == str(plain)
    assert b == a
    assert b["verification"]["roc_auc"] is not None and b["data"]["pairs"] == 12


def test_renamed_graded_scores_evaluate_to_the_same_figures(
    model: Path, tmp_path: Path, graded_pairs
) -> None:
    plain, graded = tmp_path / "plain.csv", tmp_path / "graded.csv"
    plain.write_text("a,b,score\n" + "".join(f"{a},{b},{s}\n" for a, b, s in graded_pairs))
    graded.write_text("q,d,sim\n" + "".join(f"{a},{b},{s}\n" for a, b, s in graded_pairs))
    rng = ["--score-range", "0,5", "--json"]
    a = json.loads(_run(["evaluate", model, "--data", plain, *rng]).stdout)
    b = json.loads(
        _run(["evaluate", model, "--data", graded, "--columns", "a=q,b=d,label=sim", *rng]).stdout
    )
    assert b["similarity"] == a["similarity"] and b["similarity"]["pearson"] is not None


@pytest.mark.parametrize("command", ["calibrate", "evaluate"])
def test_an_unknown_column_is_refused_before_the_model_loads(
    command: str, model: Path, tmp_path: Path, graded_pairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siamkit.applications.text as text_app

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(text_app, "load_text_model", no_load)
    _, renamed = _files(tmp_path, graded_pairs)
    before = (model / "siamkit.json").read_bytes()
    given = "a=ticket_uno,b=ticket_two,label=is_duplicate"
    res = _run([command, model, "--data", renamed, "--columns", given], code=1)
    said = " ".join(res.output.split())
    assert (
        f"{renamed} has no column 'ticket_uno' (its columns: is_duplicate, ticket_one, "
        "ticket_two); name the column that holds it with --columns "
        "a=COLUMN,b=ticket_two,label=is_duplicate" in said
    ), said
    assert "the model was loaded" not in said and said.count(". ") == 0
    assert (model / "siamkit.json").read_bytes() == before


@pytest.mark.parametrize("command", ["calibrate", "evaluate"])
def test_a_file_without_the_columns_names_the_option(
    command: str, model: Path, tmp_path: Path, graded_pairs
) -> None:
    _, renamed = _files(tmp_path, graded_pairs)
    res = _run([command, model, "--data", renamed], code=1)
    said = " ".join(res.output.split())
    assert "has no columns 'a', 'b', 'label'" in said, said
    assert "name the columns that hold them with --columns a=COLUMN,b=COLUMN,label=COLUMN" in said


@pytest.mark.parametrize("command", ["calibrate", "evaluate"])
@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("a=ticket_one,c=ticket_two", "pairs have no field 'c'; name the columns of a, b, label"),
        ("a=ticket_one,ticket_two", "'ticket_two' is not FIELD=COLUMN"),
        ("a=ticket_one,A=ticket_two", "'A' is given twice; give it once"),
    ],
)
def test_a_bad_mapping_is_refused_in_one_sentence(
    command: str, given: str, why: str, model: Path, tmp_path: Path, graded_pairs
) -> None:
    _, renamed = _files(tmp_path, graded_pairs)
    res = _run([command, model, "--data", renamed, "--columns", given], code=2)
    said = " ".join(res.output.split())
    assert "Invalid value for '--columns'" in said and why in said, said


def test_an_image_model_refuses_the_option(tmp_path: Path) -> None:
    res = _run(["evaluate", tmp_path / "nowhere", "--columns", RENAMED], code=2)
    assert "--columns is for a text model's pairs of texts: leave it out" in res.output
