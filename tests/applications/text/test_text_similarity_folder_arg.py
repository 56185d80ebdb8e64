"""`siamkit text similarity sources/ essay.txt`: an argument naming a file is read as the file's
text, but one naming a folder was compared as the text of its name ('sources'), and the score of
that said nothing of the folder's texts. It is refused in one sentence naming the folder and the
commands that compare a folder's texts, before the model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli import _text_common
from siamkit.cli.main import cli


class _ModelLoaded(Exception):
    pass


def test_a_folder_argument_is_refused_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def model(*_: object) -> None:
        raise _ModelLoaded

    monkeypatch.setattr(_text_common, "_model", model)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources").mkdir()
    (tmp_path / "essay.txt").write_text("Plants turn light into sugar.")
    for args, name in ((["./sources", "essay.txt"], "A"), (["essay.txt", "sources/"], "B")):
        res = CliRunner().invoke(cli, ["text", "similarity", *args])
        assert res.exit_code == 2, res.output
        folder = args[0] if name == "A" else args[1]
        assert res.output.splitlines()[-1] == (
            f"Error: {name} names the folder {folder}; text similarity compares two texts or two "
            "text files: to compare a folder's texts with each other use `siamkit text dedup "
            f"{folder} --out groups.jsonl`, or with one text `siamkit text plagiarism TEXT_FILE "
            f"--corpus {folder}`"
        )
    # a text and a file still reach the model, and so does a word that merely names a folder
    # here (`.`, `sources`): refusing it left no way to compare that word
    for a in ("source texts", "sources", ".", ".."):
        res = CliRunner().invoke(cli, ["text", "similarity", a, "essay.txt"])
        assert isinstance(res.exception, _ModelLoaded), res.output
