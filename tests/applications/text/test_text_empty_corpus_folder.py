"""A --corpus folder with no text file in it (empty, or holding only files that are not read):
``siamkit text plagiarism essay.txt --corpus sources/`` said "sources holds no non-empty text;
give a corpus with at least one text that has visible characters", as if its texts were blank.
It now names the folder, says it holds no text files and which files count, and writes nothing
(s58 c7, s59 c5 item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

NO_TEXT_FILES = (
    "holds no text files to read (a folder's texts are the files in it and its sub-folders "
    "ending in .htm .html .md .rst .text .txt or with no suffix)"
)
ADVICE = "; put the texts in it as such files, or give a .jsonl or .csv corpus\n"


def test_plagiarism_against_an_empty_folder(text_cli: Any, tmp_path: Path) -> None:
    essay, sources, out = tmp_path / "essay.txt", tmp_path / "sources", tmp_path / "report.html"
    essay.write_text("The printer on floor two is out of toner.")
    sources.mkdir()
    res = text_cli("plagiarism", str(essay), "--corpus", str(sources), "--out", str(out))
    assert res.exit_code == 1
    assert res.output == f"Error: {sources} {NO_TEXT_FILES}{ADVICE}"
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "essay.txt",
        "sources",
    ]


def test_a_folder_of_files_that_are_not_read_lists_them(text_cli: Any, tmp_path: Path) -> None:
    essay, sources = tmp_path / "essay.txt", tmp_path / "sources"
    essay.write_text("The printer on floor two is out of toner.")
    (sources / "scans").mkdir(parents=True)
    (sources / "scans" / "page1.pdf").write_bytes(b"%PDF-1.4")
    res = text_cli(
        "plagiarism", str(essay), "--corpus", str(sources), "--out", str(tmp_path / "r.html")
    )
    assert res.exit_code == 1
    assert res.output == (
        f"Error: {sources} {NO_TEXT_FILES}; skipped 1 file of {sources}: scans/page1.pdf (not "
        f"a text file: .htm, .html, .md, .rst, .text, .txt or no suffix){ADVICE}"
    )
    assert not (tmp_path / "r.html").exists()


def test_a_folder_of_blank_text_files_still_says_its_texts_are_blank(tmp_path: Path) -> None:
    from siamkit.applications.text.corpus import load_corpus

    (tmp_path / "a.txt").write_text("  \n")
    with pytest.raises(ValueError, match=rf"^{tmp_path} holds no non-empty text \(skipped 1 blank"):
        load_corpus(tmp_path)


def test_a_folder_holding_only_the_suspect_says_so(text_cli: Any, tmp_path: Path) -> None:
    """The common case of a sources folder whose only text file is the essay checked: it said
    the folder "holds no text files to read (... .txt ...)" and "put the texts in it as such
    files", though essay.txt is one (s59 FB finding 1)."""
    sources = tmp_path / "sources"
    sources.mkdir()
    essay, out = sources / "essay.txt", tmp_path / "report.html"
    essay.write_text("The printer on floor two is out of toner.")
    res = text_cli("plagiarism", str(essay), "--corpus", str(sources), "--out", str(out))
    assert res.exit_code == 1
    assert res.output == (
        f"Error: {sources} holds no text to read but the text files it skips (skipped 1 file "
        f"of {sources}: essay.txt (the suspect itself)); put the texts to compare beside them, "
        "or give another corpus\n"
    )
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["sources"]


def test_a_folder_holding_only_a_hidden_text_file_says_so(tmp_path: Path) -> None:
    from siamkit.applications.text.corpus import load_corpus

    (tmp_path / ".notes.txt").write_text("The printer on floor two is out of toner.")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(ValueError) as err:
        load_corpus(tmp_path)
    assert str(err.value) == (
        f"{tmp_path} holds no text to read but the text files it skips (skipped 2 files of "
        f"{tmp_path}: .DS_Store (hidden), .notes.txt (hidden)); put the texts to compare beside "
        "them, or rename the hidden ones without their leading dot, or give another corpus"
    )


def test_a_folder_holding_only_a_hidden_file_that_is_not_text_keeps_the_suffix_list(
    tmp_path: Path,
) -> None:
    from siamkit.applications.text.corpus import load_corpus

    (tmp_path / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(ValueError) as err:
        load_corpus(tmp_path)
    assert str(err.value).startswith(f"{tmp_path} {NO_TEXT_FILES}; skipped 1 file ")
