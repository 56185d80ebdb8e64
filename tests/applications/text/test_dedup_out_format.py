"""`siamkit text dedup --out` of another format's name: the groups are JSON lines whatever the
name, so `--out groups.csv` gave an editor a spreadsheet column of JSON, and an existing
notes.txt given by mistake was replaced without a word. Such a name is refused before the corpus
is read or the model loaded, nothing written; .jsonl, .ndjson, .json and no suffix are taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from siamkit.cli import _text_common
from siamkit.cli.main import cli


class _ModelLoaded(Exception):
    pass


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    def model(*_: object) -> None:
        raise _ModelLoaded  # the check passed: the command went on to load the model

    monkeypatch.setattr(_text_common, "_model", model)
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "text": "The printer is out of toner."}, {"id": "b", "text": "No toner."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _dedup(corpus: Path, out: Path) -> Result:
    return CliRunner().invoke(cli, ["text", "dedup", str(corpus), "--out", str(out)])


@pytest.mark.parametrize("name", ["groups.csv", "groups.html", "groups.xlsx"])
def test_another_formats_name_is_refused_and_nothing_written(corpus: Path, name: str) -> None:
    out = corpus.parent / "new" / name
    res = _dedup(corpus, out)
    assert res.exit_code == 2, res.output
    error = res.output.splitlines()[-1]
    assert error == (
        f"Error: Invalid value for '--out': {out} ends in {out.suffix}, but the groups are JSON "
        f"lines (one group a line); give a .jsonl file name, e.g. {out.with_suffix('.jsonl')}"
    )
    assert not out.parent.exists()


def test_an_existing_file_of_another_kind_is_kept(corpus: Path) -> None:
    notes = corpus.parent / "notes.txt"
    notes.write_bytes(b"my notes\r\n")
    res = _dedup(corpus, notes)
    assert res.exit_code == 2
    assert "is an existing file ending in .txt, which the groups" in res.output
    assert notes.read_bytes() == b"my notes\r\n"


@pytest.mark.parametrize("name", ["groups.jsonl", "groups.NDJSON", "groups.json", "groups"])
def test_a_json_lines_name_is_taken(corpus: Path, name: str) -> None:
    res = _dedup(corpus, corpus.parent / name)
    assert isinstance(res.exception, _ModelLoaded), res.output


@pytest.mark.parametrize("name", ["groups.2026-12-06", "dedup.v2", "out.d/groups"])
def test_a_dot_that_names_no_format_is_part_of_the_name(corpus: Path, name: str) -> None:
    """`--out groups.2026-12-06` or `dedup.v2` was refused as a name ending in another format's
    suffix, and the suggested name dropped the date: such a dot names no format."""
    res = _dedup(corpus, corpus.parent / name)
    assert isinstance(res.exception, _ModelLoaded), res.output


def test_such_a_name_replaces_earlier_groups_but_not_another_file(corpus: Path) -> None:
    earlier = corpus.parent / "groups.2026-12-05"
    group = {"group": 0, "size": 2, "members": [{"id": "a"}, {"id": "b"}]}
    earlier.write_text(json.dumps(group) + "\n")
    assert isinstance(_dedup(corpus, earlier).exception, _ModelLoaded)
    (none := corpus.parent / "groups.2026-12-04").write_bytes(b"")  # a dedup that found none
    assert isinstance(_dedup(corpus, none).exception, _ModelLoaded)
    notes = corpus.parent / "notes.v2"
    notes.write_bytes(b"my notes\r\n")
    res = _dedup(corpus, notes)
    assert res.exit_code == 2 and res.output.splitlines()[-1] == (
        f"Error: Invalid value for '--out': {notes} is an existing file that holds no dedup "
        "groups, which the groups (JSON lines, one group a line) would replace; give another "
        f"file name, e.g. {notes}.jsonl"
    )
    assert notes.read_bytes() == b"my notes\r\n"


def test_an_earlier_output_whose_first_group_is_over_a_mib_is_replaced(corpus: Path) -> None:
    """The check read at most 1 MiB of the first line and parsed it as JSON: an earlier output
    whose largest group (first) has some 4,000+ members, each with its text's start, was
    refused as a file that "holds no dedup groups" (reviewer s51_R8)."""
    earlier = corpus.parent / "groups.2026-12-05"
    member = {"id": "x", "similarity": 0.9, "text": "t" * 200}
    group = {"group": 0, "size": 6000, "scoring": "documents", "min_similarity": 0.9,
             "threshold": 0.85, "members": [member] * 6000}  # fmt: skip
    line = json.dumps(group, ensure_ascii=False) + "\n"
    assert len(line) > 1 << 20
    earlier.write_text(line + json.dumps({**group, "group": 1, "members": [member]}) + "\n")
    assert isinstance(_dedup(corpus, earlier).exception, _ModelLoaded)
    # a long first line that is not a group's is still kept
    notes = corpus.parent / "notes.v3"
    notes.write_text('{"note": 0, "members": [' + "1, " * 500_000 + "1]}\n")
    res = _dedup(corpus, notes)
    assert res.exit_code == 2 and "holds no dedup groups" in res.output
