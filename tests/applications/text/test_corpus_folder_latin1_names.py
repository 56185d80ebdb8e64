"""A corpus folder holding a file whose name is not UTF-8 (Latin-1 bytes from an old archive):
its id kept Python's surrogate, so `text dedup` and `text plagiarism` embedded every text and
then failed writing the groups file, the report or --json ("'utf-8' codec can't encode character
'\\udce9' ... surrogates not allowed"), and `text enroll` refused the id as a label. Its id, where
and skipped-file names are now its bytes as \\xe9 escapes, as the image commands show such names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.applications.text.corpus import load_corpus
from siamkit.cli.main import cli

LATIN1 = b"caf\xe9"


def _folder(root: Path) -> Path:
    root.mkdir()
    try:
        (Path(os.fsdecode(bytes(root) + b"/" + LATIN1 + b".txt"))).write_text(
            "The printer is out of toner."
        )
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    (root / "b.txt").write_text("Printer out of toner.")
    Path(os.fsdecode(bytes(root) + b"/" + LATIN1 + b".png")).write_bytes(b"\x89PNG")
    return root


def test_a_latin1_file_name_is_an_id_that_json_and_html_can_hold(tmp_path: Path) -> None:
    corpus = load_corpus(_folder(tmp_path / "c"))
    # the reference: the bytes on disk, escaped as Python's backslashreplace writes them
    want = LATIN1.decode("utf-8", "backslashreplace")
    assert want == "caf\\xe9"
    assert sorted(d.id for d in corpus.docs) == ["b.txt", f"{want}.txt"]
    assert [name for name, _ in corpus.skipped] == [f"{want}.png"]
    for d in corpus.docs:
        (d.id + d.where).encode("utf-8")  # no surrogate left: raised before
    json.dumps([d.id for d in corpus.docs], ensure_ascii=False).encode("utf-8")


def test_dedup_of_such_a_folder_writes_its_groups(tiny_hf: Path, tmp_path: Path) -> None:
    folder, out = _folder(tmp_path / "c"), tmp_path / "groups.jsonl"
    args = [str(folder), "--out", str(out), "--model", str(tiny_hf), "--threshold", "-1"]
    res = CliRunner().invoke(cli, ["text", "dedup", *args, "--json"])
    assert res.exit_code == 0, res.output
    (group,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(m["id"] for m in group["members"]) == ["b.txt", "caf\\xe9.txt"]


def test_a_latin1_named_suspects_report_is_written(tiny_hf: Path, tmp_path: Path) -> None:
    folder, out = _folder(tmp_path / "c"), tmp_path / "report.html"
    suspect = Path(os.fsdecode(bytes(tmp_path) + b"/ess" + LATIN1 + b".txt"))
    suspect.write_text("The printer is out of toner. The printer really is out of toner now.")
    args = [str(suspect), "--corpus", str(folder), "--out", str(out), "--model", str(tiny_hf)]
    res = CliRunner().invoke(cli, ["text", "plagiarism", *args, "--threshold", "0.5"])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert "<title>Plagiarism report: esscaf\\xe9.txt" in page and "caf\\xe9.txt" in page


def test_two_names_that_escape_to_one_id_are_refused_by_their_bytes(
    tiny_hf: Path, tmp_path: Path
) -> None:
    """A file named with the Latin-1 byte 0xe9 and one whose UTF-8 name holds the four
    characters \\xe9 both got the id caf\\xe9.txt: dedup refused the folder naming one path
    twice, and enroll put both documents under one label without a word."""
    folder = _folder(tmp_path / "c")
    (folder / "caf\\xe9.txt").write_text("A literal backslash in the name.")
    literal, latin1 = b"caf\\xe9.txt", LATIN1 + b".txt"  # the walk's order: "\\" < "\udce9"
    on_disk = {os.fsencode(f.name) for f in folder.iterdir()}
    assert {literal, latin1} <= on_disk and literal != latin1  # two files, two names
    want = (
        f"{folder} holds two files whose names both read as the id caf\\xe9.txt (a name that "
        f"is not UTF-8 shows its bytes as \\x escapes): {literal!r} and {latin1!r}, by their "
        "bytes on disk; rename one of them"
    )
    with pytest.raises(ValueError) as err:
        load_corpus(folder)
    assert str(err.value) == want
    gallery = tmp_path / "g.db"
    args = [str(folder), "--gallery", str(gallery), "--model", str(tiny_hf)]
    res = CliRunner().invoke(cli, ["text", "enroll", *args])
    assert res.exit_code != 0 and res.output.splitlines()[-1] == f"Error: {want}", res.output
    assert not gallery.exists()
