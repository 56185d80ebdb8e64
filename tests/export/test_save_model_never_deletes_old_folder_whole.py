"""A replacement never deletes the replaced folder (``.model.old``) whole: only the entries known
to be its model's or its stale exports, in an order a kill cannot make ambiguous (s62_FB
findings 1a, 1b and 2)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
import torch
from click.testing import CliRunner
from tests.export.test_save_model_keeps_what_it_does_not_own import (
    add_image_export,
    add_text_export,
    add_user_files,
    small_net,
)

from siamkit.cli._inputs import friendly_errors
from siamkit.export import bundle
from siamkit.export.bundle import CONFIG_FILE, load_model, save_model


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def saved_with_users_files(tmp_path: Path) -> tuple[Path, Path]:
    """A model folder ``tmp_path/model`` (of ``small_net(0)``) holding files of the user's
    (``mine/run.sh``, ``notes.txt``), and where a save over it sets it aside (``.model.old``)."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_user_files(dest)
    return dest, tmp_path / ".model.old"


def refuse_moves_out_of(
    old: Path, monkeypatch: pytest.MonkeyPatch, only: str | None = None
) -> None:
    """Refuse, as a read-only folder does, every move of an entry out of ``old`` (``only``:
    that entry's alone)."""
    real = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if self.parent == old and only in (None, self.name):
            raise PermissionError(13, "Permission denied", str(self), str(target))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)


def test_a_save_after_one_killed_between_its_renames_keeps_the_users_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the renames, then the folder made again empty (a script's
    ``os.makedirs(out, exist_ok=True)``) and saved into: the earlier model is restored and
    replaced, and the user's files in ``.model.old`` go into the new folder."""
    dest, _ = saved_with_users_files(tmp_path)
    real = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if Path(target) == dest:
            raise KeyboardInterrupt  # killed between the two renames
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(1), dest)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == [".model.old"]
    dest.mkdir()
    save_model(small_net(2), dest)
    assert tree(dest) == sorted(
        [CONFIG_FILE, "mine", "mine/run.sh", "model.safetensors", "notes.txt"]
    )
    assert (dest / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_a_load_racing_the_move_of_a_text_export_with_a_users_file_keeps_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's move has deleted the stale text export's own files in
    ``.model.old/onnx`` and is about to rename the folder: the save still moves the user's
    file in it, rather than deleting it with ``.model.old``."""
    dest, _ = saved_with_users_files(tmp_path)
    add_text_export(dest, user_file=True)
    real = bundle._stale_exports

    def raced(folder: Path, *args: Any) -> list[Path]:
        monkeypatch.setattr(bundle, "_stale_exports", real)
        stale = real(folder, *args)
        for p in stale:  # the other process's loop, up to its rename
            if p.parent.name == "onnx":
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        return stale

    monkeypatch.setattr(bundle, "_stale_exports", raced)
    save_model(small_net(1), dest)
    assert (dest / "onnx" / "readme.txt").read_text() == "how I serve it"
    assert (dest / "notes.txt").is_file()
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_two_saves_at_once_lose_no_users_file_and_name_no_new_file_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Save B's recovery and first rename come between save A's renames and A's move: A finds
    its folder replaced again and leaves ``.model.old`` (now B's to finish) as it is."""
    dest, old = saved_with_users_files(tmp_path)
    real = bundle._carry_over

    def carry(old_: Path, dest_: Path, *args: Any) -> Any:
        monkeypatch.setattr(bundle, "_carry_over", real)
        bundle.recover_model_folder(dest)  # save B: finishes A's move, then its first rename
        dest.rename(old)
        return real(old_, dest_, *args)

    monkeypatch.setattr(bundle, "_carry_over", carry)
    capsys.readouterr()
    save_model(small_net(1), dest)  # A
    assert "Removed" not in capsys.readouterr().err
    assert tree(old) == sorted(
        [CONFIG_FILE, "mine", "mine/run.sh", "model.safetensors", "notes.txt"]
    )
    # save B's second rename, then the rest of its save: the user's files reach B's folder
    b = save_model(small_net(2), tmp_path / "b")
    b.rename(dest)
    bundle._carry_over(old, dest, lambda: set(), 0.5)
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "mine" / "run.sh").is_file()


class _Reversed:
    """``os.scandir``'s entries in reverse name order (the order is the file system's)."""

    def __init__(self, it: Any) -> None:
        with it:
            self.entries = sorted(it, key=lambda e: e.name, reverse=True)

    def __iter__(self) -> Any:
        return iter(self.entries)

    def __enter__(self) -> _Reversed:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


def test_a_kill_while_the_replaced_folder_is_deleted_never_moves_its_export_into_the_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill at each deletion from ``.model.old`` (in the reverse of name order, where
    ``siamkit.json`` and ``onnx.json`` go before ``model.onnx``), then a load: the new folder
    never holds the replaced model's graph (the edge runtime would serve the old model), and
    keeps the user's files."""
    real_scandir, real_unlink = os.scandir, os.unlink
    monkeypatch.setattr(os, "scandir", lambda *a, **k: _Reversed(real_scandir(*a, **k)))
    killed = 0
    for kill_at in range(1, 12):
        work = tmp_path / str(kill_at)
        dest, _ = saved_with_users_files(work)
        add_image_export(dest)
        calls = 0

        def unlink(*args: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == kill_at:  # noqa: B023 - the loop's kill point, read while it runs
                raise KeyboardInterrupt
            real_unlink(*args, **kwargs)

        monkeypatch.setattr(os, "unlink", unlink)
        try:
            save_model(small_net(1), dest)
        except KeyboardInterrupt:
            killed += 1
        finally:
            monkeypatch.setattr(os, "unlink", real_unlink)
        x = torch.rand(2, 1, 28, 28)
        torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
        names = tree(dest)
        assert "model.onnx" not in names and "model.int8.onnx" not in names, kill_at
        assert {"notes.txt", "mine/run.sh"} <= set(names), kill_at
        assert sorted(os.listdir(work)) == ["model"], kill_at
    assert killed >= 3  # the sweep reached the deletions


def test_a_users_file_the_save_cannot_move_is_named_with_the_replaced_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename refused (a read-only model folder): the model is saved, the user's files stay
    in ``.model.old`` and the error says so in one sentence; the next load, where it can, moves
    them."""
    dest, old = saved_with_users_files(tmp_path)
    add_image_export(dest)  # the replaced model's: not named as the user's to move (s62_LR2 Q1)
    refuse_moves_out_of(old, monkeypatch)
    with pytest.raises(PermissionError) as err:
        save_model(small_net(1), dest)
    monkeypatch.undo()
    assert str(err.value) == (
        f"Saved the model to {dest}, but could not finish moving your files out of the replaced "
        f"folder {old} ({old}/mine: Permission denied): move {old}/mine and {old}/notes.txt "
        f"into {dest} (or elsewhere), and remove {old} (the rest of it is the replaced model's)"
    )
    assert (old / "notes.txt").read_text() == "mine"
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
    assert (dest / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_following_the_sentence_of_a_refused_move_keeps_the_new_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s62_LR2 Q1: "move what is left there into M" moved the replaced model's siamkit.json
    and weights over the new model's. Now the sentence names the user's entries only, and
    doing what it says keeps the new model."""
    dest, old = saved_with_users_files(tmp_path)
    add_image_export(dest)
    refuse_moves_out_of(old, monkeypatch)
    with pytest.raises(PermissionError) as err:
        save_model(small_net(1), dest)
    monkeypatch.undo()
    said = str(err.value)
    named = said[said.index("): move ") + len("): move ") : said.index(f" into {dest}")]
    for entry in named.replace(" and ", ", ").split(", "):  # done as the sentence says
        shutil.move(entry, dest / Path(entry).name)
    shutil.rmtree(old)
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "mine" / "run.sh").read_text() == "echo"


def test_a_refused_save_names_only_the_users_files_in_the_interrupted_saves_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s62_LR2 Q1: the refusal for a ``.model.old`` that recovery could not empty said "move
    them into M", the replaced model's files too. Now it names the user's entries only."""
    dest, old = saved_with_users_files(tmp_path)
    add_image_export(dest)

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # killed after the two renames

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(1), dest)
    monkeypatch.undo()
    refuse_moves_out_of(old, monkeypatch)
    with pytest.raises(ValueError) as err:
        save_model(small_net(2), dest)
    assert str(err.value) == (
        f"{old} holds files of an interrupted save of {dest} that could not be moved into it: "
        f"move {old}/mine and {old}/notes.txt into {dest} (or elsewhere), and remove {old} "
        "(the rest of it is the replaced model's), then save again"
    )


def test_a_commands_save_that_cannot_move_the_users_files_ends_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s62_LR2 Q2: the "Saved the model ..." error was a bare PermissionError, which a
    command's friendly_errors let through as a traceback (siamkit calibrate --out M, text
    lexical --force). Now it is a ValueError too: one ``Error: Saved the model ...`` line."""
    dest, old = saved_with_users_files(tmp_path)

    @click.command()
    @friendly_errors
    def cmd() -> None:  # as the commands that save a model call it
        save_model(small_net(1), dest)

    refuse_moves_out_of(old, monkeypatch)
    res = CliRunner().invoke(cmd, [])
    monkeypatch.undo()
    assert res.exit_code == 1, res.exception
    assert res.output.startswith(f"Error: Saved the model to {dest}, but could not finish ")
    assert len(res.output.strip().splitlines()) == 1


def test_the_users_files_in_a_stale_text_export_are_named_not_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s62_LR2 Q1: a text export of the replaced model holding a file of the user's: moving
    .model.old/onnx as named would bring the stale export into the new folder. The user's file
    in it is named instead."""
    dest, old = saved_with_users_files(tmp_path)  # mine/ first: refused before onnx/ is reached
    add_text_export(dest, user_file=True)
    refuse_moves_out_of(old, monkeypatch)
    with pytest.raises(PermissionError) as err:
        save_model(small_net(1), dest)
    named = f"{old}/mine, {old}/notes.txt and {old}/onnx/readme.txt"
    assert f"): move {named} into {dest} (or elsewhere), and remove {old} " in str(err.value)


def test_a_refused_move_of_a_stale_text_export_with_a_users_file_names_what_it_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s63 c2 item 4: the replaced model's text export in ``.model.old/onnx`` holds a file of
    the user's; the save deletes the export's own files from it, then moves it. Where that move
    is refused, the sentence said to move ``onnx`` and nothing of the export files already
    gone from it. Now it names them."""
    dest, old = saved_with_users_files(tmp_path)
    add_text_export(dest, user_file=True)
    refuse_moves_out_of(old, monkeypatch, only="onnx")
    with pytest.raises(PermissionError) as err:
        save_model(small_net(1), dest)
    monkeypatch.undo()
    assert str(err.value) == (
        f"Saved the model to {dest}, but could not finish moving your files out of the replaced "
        f"folder {old} ({old}/onnx: Permission denied): move {old}/onnx into {dest} (or "
        f"elsewhere), and remove {old} (the rest of it is the replaced model's); it had removed "
        f"{old}/onnx/text.onnx, {old}/onnx/text_onnx.json and {old}/onnx/tokenizer, the "
        "replaced model's export, which would no longer match this model"
    )
    assert tree(old / "onnx") == ["readme.txt"]  # what it names is gone; the user's file stays
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
    assert tree(dest / "onnx") == ["readme.txt"]  # the next load moved it
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_the_removed_export_files_are_named_where_their_folder_was_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s63_r2 finding 1: the carry deletes a stale text export's own files from
    ``.model.old/onnx`` (which holds a file of the user's), moves that folder into the new one,
    then a later move (``zz.txt``) is refused. The sentence named the removed files under
    ``.model.old/onnx``, which no longer exists; it names them where the folder is now."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_text_export(dest, user_file=True)
    (dest / "zz.txt").write_text("mine")  # after onnx/ in name order: its move comes later
    old = tmp_path / ".model.old"
    refuse_moves_out_of(old, monkeypatch, only="zz.txt")
    with pytest.raises(PermissionError) as err:
        save_model(small_net(1), dest)
    monkeypatch.undo()
    assert tree(dest / "onnx") == ["readme.txt"]  # moved, without the export's files
    assert not (old / "onnx").exists()
    assert str(err.value) == (
        f"Saved the model to {dest}, but could not finish moving your files out of the replaced "
        f"folder {old} ({old}/zz.txt: Permission denied): move {old}/zz.txt into {dest} (or "
        f"elsewhere), and remove {old} (the rest of it is the replaced model's); it had removed "
        f"{dest}/onnx/text.onnx, {dest}/onnx/text_onnx.json and {dest}/onnx/tokenizer, the "
        "replaced model's export, which would no longer match this model"
    )


def test_a_load_that_cannot_finish_a_killed_save_names_the_export_files_it_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """s63_r2 finding 3: a save killed after its renames, then a load whose move of
    ``.model.old/onnx`` (a stale text export holding a file of the user's) is refused: the load
    had deleted the export's own files and said nothing, and the next save's refusal does not
    name them either. The load now says them on stderr as it deletes them."""
    dest, old = saved_with_users_files(tmp_path)
    add_text_export(dest, user_file=True)

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # killed after the two renames

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(1), dest)
    monkeypatch.undo()
    capsys.readouterr()
    refuse_moves_out_of(old, monkeypatch, only="onnx")
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
    monkeypatch.undo()
    assert tree(old / "onnx") == ["readme.txt"]
    assert capsys.readouterr().err == (
        f"Removed {old}/onnx/text.onnx, {old}/onnx/text_onnx.json and {old}/onnx/tokenizer: the "
        "replaced model's, which this model does not write and which would no longer match it "
        f"(siamkit export {dest} --format onnx writes an export of it)\n"
    )


def test_a_deletion_refused_after_every_move_says_the_files_moved_and_names_what_it_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s63_r2 finding 4: the user's files all moved into the new folder, then deleting the
    replaced model's ``onnx.json`` from ``.model.old`` is refused. The error said it "could not
    finish moving your files", and named nowhere the graphs already deleted before it. Now it
    says the files moved, and names the graphs."""
    dest, old = saved_with_users_files(tmp_path)
    add_image_export(dest)
    real = bundle._delete_entry

    def delete(path: Path) -> None:
        if path.name == "onnx.json":
            raise PermissionError(13, "Permission denied", str(path))
        real(path)

    monkeypatch.setattr(bundle, "_delete_entry", delete)
    with pytest.raises(bundle.ModelFolderNotFinishedError) as err:
        save_model(small_net(1), dest)
    monkeypatch.undo()
    assert tree(dest) == sorted(
        [CONFIG_FILE, "mine", "mine/run.sh", "model.safetensors", "notes.txt"]
    )
    assert tree(old) == sorted([CONFIG_FILE, "model.safetensors", "onnx.json"])
    assert str(err.value) == (
        f"Saved the model to {dest} and moved your files into it, but could not remove the "
        f"replaced model's files from {old} ({old}/onnx.json: Permission denied): remove {old} "
        "(nothing of yours is in it, only the replaced model's files); it had removed "
        f"{old}/model.int8.onnx and {old}/model.onnx, the replaced model's export, which would "
        "no longer match this model"
    )
    assert sorted(err.value.removed) == [old / "model.int8.onnx", old / "model.onnx"]


def _with_tokenizer(net: torch.nn.Module) -> torch.nn.Module:
    """``net`` writing a ``tokenizer/`` folder beside its weights, as a text model does: a name
    its save owns (recorded in siamkit.json), where the replaced model had none."""

    def save_extra_files(folder: Path) -> None:
        (folder / "tokenizer").mkdir()
        (folder / "tokenizer" / "vocab.txt").write_text("the model's vocabulary")

    net.save_extra_files = save_extra_files  # type: ignore[assignment]
    return net


def _refuse_deleting(monkeypatch: pytest.MonkeyPatch, old: Path, name: str) -> None:
    real = bundle._delete_entry

    def delete(path: Path) -> None:
        if path == old / name:
            raise PermissionError(13, "Permission denied", str(path))
        real(path)

    monkeypatch.setattr(bundle, "_delete_entry", delete)


def test_a_users_entry_the_model_replaced_is_named_when_a_later_deletion_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s63_m2's open point: a user's tokenizer/ in an image model's folder, replaced by the new
    model's own tokenizer/, is deleted before the replaced model's own files; a deletion of
    those refused after it (siamkit.json) ended the save in a sentence that did not name it,
    as its "Replaced ..." line is said only where the save finishes. The sentence names it."""
    dest, old = saved_with_users_files(tmp_path)
    (dest / "tokenizer").mkdir()
    (dest / "tokenizer" / "my-notes.txt").write_text("mine")
    _refuse_deleting(monkeypatch, old, CONFIG_FILE)
    with pytest.raises(bundle.ModelFolderNotFinishedError) as err:
        save_model(_with_tokenizer(small_net(1)), dest)
    monkeypatch.undo()
    assert tree(old) == [CONFIG_FILE]
    assert tree(dest / "tokenizer") == ["vocab.txt"]
    assert str(err.value) == (
        f"Saved the model to {dest} and moved your files into it, but could not remove the "
        f"replaced model's files from {old} ({old}/{CONFIG_FILE}: Permission denied): remove "
        f"{old} (nothing of yours is in it, only the replaced model's files); it had deleted "
        f"{dest}/tokenizer of yours, which this model's own of the same name replaced"
    )


def test_a_load_that_cannot_finish_a_killed_save_names_the_users_entry_it_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same at a load that finishes a save killed after its renames: it says what it
    deleted on stderr where it fails (the next save's refusal cannot know), the user's
    replaced tokenizer/ now with the stale exports."""
    dest, old = saved_with_users_files(tmp_path)
    (dest / "tokenizer").mkdir()
    (dest / "tokenizer" / "my-notes.txt").write_text("mine")

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # killed after the two renames

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(_with_tokenizer(small_net(1)), dest)
    monkeypatch.undo()
    capsys.readouterr()
    _refuse_deleting(monkeypatch, old, CONFIG_FILE)
    assert not bundle.recover_model_folder(dest)
    monkeypatch.undo()
    assert tree(old) == [CONFIG_FILE]
    assert capsys.readouterr().err == (
        f"Replaced {dest}/tokenizer, which the replaced model had not written, with this "
        "model's own of the same name: the earlier one is deleted\n"
    )


def test_a_load_that_cannot_finish_a_killed_save_names_the_command_of_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same model saved with another threshold, killed after its renames; the load that
    finishes it deletes the stale graphs, then is refused the deletion of onnx.json. Its line
    named the graphs where they were (.model.old) and so matched none of the commands, which
    name the model folder: it said the generic command where a save and a finished recovery
    name the export's own (s63_mFA left-alone; s64 c2 item 4)."""
    dest, old = saved_with_users_files(tmp_path)
    add_image_export(dest)

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # killed after the two renames

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(0, threshold=0.7), dest)
    monkeypatch.undo()
    _refuse_deleting(monkeypatch, old, "onnx.json")
    capsys.readouterr()
    assert load_model(dest).threshold == 0.7
    monkeypatch.undo()
    assert capsys.readouterr().err == (
        f"Removed {old}/model.int8.onnx and {old}/model.onnx: the replaced model's, which this "
        "model does not write and which would no longer match it "
        f"(`siamkit export {dest} --int8` writes it again)\n"
    )


def test_a_refused_deletion_of_a_users_entry_the_model_replaced_is_a_deletion_not_a_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's tokenizer/ in an image model's folder, which the new model's own tokenizer/
    replaced, whose deletion from .model.old is refused: every file of the user's to move was
    moved, so the save failed at a deletion. It said "could not finish moving your files out"
    and to move .model.old/tokenizer into the model folder, over the model's own (s64_r3
    finding 1)."""
    dest, old = saved_with_users_files(tmp_path)
    (dest / "tokenizer").mkdir()
    (dest / "tokenizer" / "my-notes.txt").write_text("mine")
    _refuse_deleting(monkeypatch, old, "tokenizer")
    with pytest.raises(bundle.ModelFolderNotFinishedError) as err:
        save_model(_with_tokenizer(small_net(1)), dest)
    monkeypatch.undo()
    assert tree(dest / "tokenizer") == ["vocab.txt"]
    assert "tokenizer/my-notes.txt" in tree(old)
    assert str(err.value) == (
        f"Saved the model to {dest} and moved your files into it, but could not remove the "
        f"replaced model's files from {old} ({old}/tokenizer: Permission denied): move "
        f"{old}/tokenizer elsewhere (this model's own of the same name took its place in "
        f"{dest}), and remove {old} (the rest of it is the replaced model's)"
    )


def test_under_overwrite_that_refused_deletion_keeps_the_finished_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same inside ``replaced_files_left_said`` (``train --overwrite``): the save finished
    and moved every file of the user's it moves, so it says its sentence and returns; it
    raised, and the run's cleanup removed the new model (s64_r3 finding 1)."""
    dest, old = saved_with_users_files(tmp_path)
    (dest / "tokenizer").mkdir()
    (dest / "tokenizer" / "my-notes.txt").write_text("mine")
    _refuse_deleting(monkeypatch, old, "tokenizer")
    capsys.readouterr()
    with bundle.replaced_files_left_said():
        save_model(_with_tokenizer(small_net(1)), dest)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert f"move {old}/tokenizer elsewhere (this model's own" in err
    load_model(dest)  # the finished model, which loads
    assert tree(dest / "tokenizer") == ["vocab.txt"]
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [CONFIG_FILE, "mine", "model.safetensors", "notes.txt", "tokenizer"]
    )
