"""save_model's docstring says what it raises for a file system that refuses a write (an
OSError, as it came) and what it does with a symbolic link given as the folder; each of those
sentences is checked here against what the code does (s63 c2 item 2)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from tests.export.test_save_model_keeps_what_it_does_not_own import small_net

from siamkit.export import bundle
from siamkit.export.bundle import ModelFolderNotFinishedError, load_model, save_model


def _doc() -> str:
    return " ".join((save_model.__doc__ or "").split())


def _same_model(folder: Path, seed: int) -> None:
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(folder).embed(x), small_net(seed).embed(x))


def test_the_docstring_says_it_raises_oserror_and_what_a_link_is_taken_for() -> None:
    doc = _doc()
    assert "OSError: anything else the file system refuses" in doc
    assert "the new model's temporary folder is removed" in doc
    assert "``path`` may be a symbolic link" in doc
    assert "the link is kept" in doc
    assert "a link that leads to a file is refused, as a file is" in doc


def test_a_refused_write_is_raised_as_it_came_and_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = save_model(small_net(0), tmp_path / "model")

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle, "save_file", full)
    with pytest.raises(OSError) as err:
        save_model(small_net(1), dest)
    assert err.value.errno == errno.ENOSPC
    assert not isinstance(err.value, (ModelFolderNotFinishedError, ValueError))
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["model"]  # the temporary folder is removed
    _same_model(dest, 0)


def test_a_refusal_between_the_renames_leaves_the_replaced_model_set_aside_for_a_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = save_model(small_net(0), tmp_path / "model")
    real = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if Path(target) == dest:  # the second rename: the new folder into place
            raise OSError(errno.EIO, "Input/output error", str(self))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError) as err:
        save_model(small_net(1), dest)
    monkeypatch.undo()
    assert err.value.errno == errno.EIO
    assert sorted(os.listdir(tmp_path)) == [".model.old"]
    _same_model(dest, 0)  # the load put it back
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_a_link_to_where_no_folder_is_yet_gets_the_folder_and_is_kept(tmp_path: Path) -> None:
    link = tmp_path / "model"
    link.symlink_to(tmp_path / "runs" / "a")
    assert save_model(small_net(0), link) == link
    assert link.is_symlink() and (tmp_path / "runs" / "a").is_dir()
    _same_model(link, 0)
