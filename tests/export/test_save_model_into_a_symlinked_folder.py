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
    to finish: the folder it leads to is left as it is, and nothing is said."""
    other = save_model(small_net(0), tmp_path / "other")
    add_image_export(other)
    dest = save_model(small_net(1), tmp_path / "model")
    (tmp_path / ".model.old").symlink_to(other)
    capsys.readouterr()
    assert recover_model_folder(dest) is False
    assert capsys.readouterr().err == ""
    assert not os.path.lexists(tmp_path / ".model.old")
    assert sorted(os.listdir(other)) == sorted(
        [CONFIG_FILE, "model.int8.onnx", "model.onnx", "model.safetensors", "onnx.json"]
    )
