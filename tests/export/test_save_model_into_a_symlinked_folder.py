"""A model folder that is a symbolic link is replaced where it leads, and the link kept
(s62_FB finding 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from tests.export.test_save_model_keeps_what_it_does_not_own import (
    TAIL,
    add_image_export,
    add_user_files,
    small_net,
)

from siamkit.export.bundle import CONFIG_FILE, load_model, recover_model_folder, save_model


def test_a_save_over_a_symlinked_model_folder_replaces_its_target_and_keeps_the_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = save_model(small_net(0), tmp_path / "real")
    add_user_files(real)
    add_image_export(real)
    link = tmp_path / "model"
    link.symlink_to(real)
    capsys.readouterr()
    assert save_model(small_net(1), link) == link
    assert link.is_symlink() and link.resolve() == real.resolve()
    err = capsys.readouterr().err
    assert err.startswith(f"Removed {real}/model.int8.onnx, {real}/model.onnx and ")
    assert TAIL in err
    assert sorted(os.listdir(real)) == sorted(
        [CONFIG_FILE, "mine", "model.safetensors", "notes.txt"]
    )
    assert sorted(os.listdir(tmp_path)) == ["model", "real"]
    x = torch.rand(2, 1, 28, 28)
    for _ in range(2):  # each load is silent: nothing is left to finish
        torch.testing.assert_close(load_model(link).embed(x), small_net(1).embed(x))
        assert capsys.readouterr().err == ""
    save_model(small_net(2), link)  # and it can be saved over again
    torch.testing.assert_close(load_model(link).embed(x), small_net(2).embed(x))
    assert (real / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["model", "real"]


def test_a_symlink_at_the_replaced_folders_name_is_not_taken_for_a_replacement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``.model.old`` that is a link (what a save over a link left before) is no replacement
    to finish: it and the folder it leads to are left as they are, and nothing is said; a save
    refuses it in one sentence (s62_LR2 Q6: a load unlinked it, unsaid)."""
    other = save_model(small_net(0), tmp_path / "other")
    add_image_export(other)
    dest = save_model(small_net(1), tmp_path / "model")
    (tmp_path / ".model.old").symlink_to(other)
    capsys.readouterr()
    assert recover_model_folder(dest) is False
    assert capsys.readouterr().err == ""
    assert (tmp_path / ".model.old").is_symlink()  # not the load's to remove (s62_LR2 Q6)
    assert sorted(os.listdir(other)) == sorted(
        [CONFIG_FILE, "model.int8.onnx", "model.onnx", "model.safetensors", "onnx.json"]
    )


@pytest.mark.parametrize("kind", ["link", "file"])
def test_a_save_refuses_a_users_link_or_file_at_the_replaced_folders_name(
    tmp_path: Path, kind: str
) -> None:
    """s62_LR2 Q6: a file ``.model.old`` was refused as "holds files of an interrupted save of
    model", untrue of a user's file. Now a link or a file is named for what it is, and kept."""
    dest = save_model(small_net(0), tmp_path / "model")
    old = tmp_path / ".model.old"
    if kind == "link":
        old.symlink_to(tmp_path / "elsewhere")
    else:
        old.write_text("my notes")
    with pytest.raises(ValueError) as err:
        save_model(small_net(1), dest)
    assert str(err.value) == (
        f"{old} is a {kind}, not a folder a siamkit save left: rename or remove it, then save again"
    )
    assert old.is_symlink() if kind == "link" else old.read_text() == "my notes"


def test_a_link_to_a_file_given_as_the_model_folder_is_named_as_given(tmp_path: Path) -> None:
    """s63 c2 item 3: a save to a link that leads to a file named the file the link leads to as
    "is a file": the path the user gave was not named, and it is no file. Now the sentence names
    the link and says it leads to a file (which one); both are left as they were."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    link = tmp_path / "model"
    link.symlink_to(notes)
    with pytest.raises(ValueError) as err:
        save_model(small_net(0), link)
    assert str(err.value) == (
        f"{link} is a link to the file {notes.resolve()}, not a siamkit model folder: save the "
        "model to a new or empty folder, or to a model folder to replace that model"
    )
    assert link.is_symlink() and notes.read_text() == "my notes"
    assert sorted(os.listdir(tmp_path)) == ["model", "notes.txt"]


def test_a_link_to_a_folder_of_other_files_is_named_as_given(tmp_path: Path) -> None:
    """The twin of the refusal above for a link that leads to a folder of the user's other
    files: it named the folder the link leads to alone, not the path the user gave."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "letter.txt").write_text("dear")
    link = tmp_path / "model"
    link.symlink_to(docs)
    with pytest.raises(ValueError) as err:
        save_model(small_net(0), link)
    assert str(err.value) == (
        f"{link} is a link to {docs.resolve()}, a folder of other files, not a siamkit model "
        f"folder (no {CONFIG_FILE}): save the model to a new or empty folder, or to a model "
        "folder to replace that model"
    )
    assert link.is_symlink() and sorted(os.listdir(docs)) == ["letter.txt"]
    assert sorted(os.listdir(tmp_path)) == ["docs", "model"]
