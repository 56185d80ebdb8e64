"""`siamkit text identify new_ticket.txt --gallery tickets.db`: a QUERY naming a file (or a
folder) was identified as the text of its name, matched nothing and said 'unknown', where the
support agent meant the file's text (--file reads it); `text verify` did the same. Both refuse it
in one sentence before the gallery or the model is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "new_ticket.txt").write_text("My laptop will not charge.")
    (tmp_path / "tickets").mkdir()
    return tmp_path


def _last_line(args: list[str]) -> str:
    res = CliRunner().invoke(cli, ["text", *args, "--gallery", "missing.db"])
    assert res.exit_code == 2, res.output
    return res.output.splitlines()[-1]


def test_identify_names_the_file_or_folder_and_says_to_give_file(here: Path) -> None:
    assert _last_line(["identify", "new_ticket.txt"]) == (
        "Error: QUERY names the file new_ticket.txt, and a QUERY is a text: to identify the "
        "file's text, give --file new_ticket.txt"
    )
    assert _last_line(["identify", "printer toner", "tickets/"]) == (
        "Error: QUERY 2 names the folder tickets/, and a QUERY is a text: to identify the "
        "folder's texts, give --file tickets/"
    )
    assert not (here / "missing.db").exists()


def test_verify_names_the_file_and_says_to_give_its_text(here: Path) -> None:
    assert _last_line(["verify", "new_ticket.txt", "--label", "T-1"]) == (
        "Error: QUERY names the file new_ticket.txt, and a QUERY is a text: give the file's text, "
        'e.g. "$(cat new_ticket.txt)"'
    )
    assert _last_line(["verify", "./tickets", "--label", "T-1"]) == (
        "Error: QUERY names the folder ./tickets, and a QUERY is a text: give the text of one of "
        'its files, e.g. "$(cat tickets/FILE)"'
    )


def test_a_text_that_names_no_path_still_reaches_the_gallery_check(here: Path) -> None:
    res = CliRunner().invoke(cli, ["text", "identify", "new ticket", "--gallery", "missing.db"])
    assert res.exit_code != 0 and "no gallery at missing.db" in res.output


@pytest.mark.parametrize("command", [["identify"], ["verify", "--label", "T-1"]])
@pytest.mark.parametrize("word", [".", "..", "a", "tickets", "new_ticket"])
def test_a_word_that_also_names_a_file_or_folder_here_is_a_text(
    here: Path, command: list[str], word: str
) -> None:
    """`.` and `..` always exist, and a support team's `tickets/` folder or a file `a` made
    the word a refused QUERY, with no way to give that text: only a QUERY written as a path
    (a separator, a document suffix) is taken for one."""
    (here / "a").write_text("a file named a")
    (here / "new_ticket").mkdir()
    res = CliRunner().invoke(
        cli, ["text", command[0], word, *command[1:], "--gallery", "missing.db"]
    )
    assert res.exit_code != 0 and "no gallery at missing.db" in res.output, res.output
    assert "names the" not in res.output
