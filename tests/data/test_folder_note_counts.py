"""The class-folder walk's notes count with the thousands separator every message writes
("left out 1000 folders ... that cannot be read", "holds 1000 images directly", "1000 links
named as files": s60 final note, Counts). Each message's input is built directly: no 1,000
files or folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.data import folders
from siamkit.data.folders import ClassFoldersError, read_class_folders


def test_unreadable_entries_are_counted_with_the_separator() -> None:
    denied = "permission denied"
    said = folders._locked_note({f"d{i}": denied for i in range(1000)}, {"f": denied})
    assert said.startswith("left out 1,000 folders and 1 entry that cannot be read")


def test_links_named_as_files_are_counted_with_the_separator() -> None:
    assert folders._named(1000, "file") == "1,000 links named as files"
    assert folders._named(1, "file") == "link named as a file"


def test_loose_images_are_counted_with_the_separator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = [tmp_path / f"{i:04d}.png" for i in range(1000)]
    monkeypatch.setattr(folders, "_list_images", lambda folder, extensions=(): (loose, ""))
    with pytest.raises(ClassFoldersError) as err:
        read_class_folders(tmp_path)
    assert " holds 1,000 images directly (e.g. 0000.png)" in str(err.value)
