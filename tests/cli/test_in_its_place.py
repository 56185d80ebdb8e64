"""The refusal's words for what stands at OUT/model where an earlier model folder set aside
would go back: folders are not called files (s64_r3 finding 3)."""

from __future__ import annotations

from pathlib import Path

from siamkit.cli._run_folder import _in_its_place


def test_two_folders_are_called_folders(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "mine").mkdir(parents=True)
    (model / "tokenizer").mkdir()
    assert _in_its_place(model) == f"{model} holds 2 folders of yours: move them elsewhere, then "


def test_files_and_a_folder_are_told_apart(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "mine").mkdir(parents=True)
    (model / "a.txt").write_text("a")
    (model / "b.txt").write_text("b")
    assert _in_its_place(model) == (
        f"{model} holds 2 files and 1 folder of yours: move them elsewhere, then "
    )


def test_one_folder_is_it(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "mine").mkdir(parents=True)
    assert _in_its_place(model) == f"{model} holds 1 folder of yours: move it elsewhere, then "


def test_a_link_to_a_folder_counts_as_a_file(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (model / "link").symlink_to(tmp_path / "elsewhere")
    assert _in_its_place(model) == f"{model} holds 1 file of yours: move it elsewhere, then "


def test_an_empty_folder_is_said_empty(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    assert _in_its_place(model) == f"{model} is an empty folder: remove it, then "
