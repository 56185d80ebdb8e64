"""``siamkit train --overwrite`` whose run's save of OUT/model could not move the user's files
out of ``OUT/.model.old`` (a save killed after its renames left them there, and the move is
refused) ended with that save's "Saved the model to OUT/model, but could not finish ...",
while the cleanup of the failed run had removed that model and put the earlier run's back: the
last sentence said the opposite of what happened. It now says what did, and where the user's
files are. And the cleanup that keeps the earlier model folder set aside (the user's files could
not be moved out of a ``.model.old`` in the way) keeps them all, and says where."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import pytest
import torch

import siamkit
from siamkit.cli._run_folder import _earlier_run_set_aside, _refuse_set_aside_run
from siamkit.export.bundle import ModelFolderNotFinishedError, load_model, save_model
from siamkit.models import Preprocess, SiameseNetwork


def _net(seed: int) -> SiameseNetwork:
    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    return SiameseNetwork(enc, 16, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28))).eval()


def _fingerprint(model: Path) -> str:
    return str(json.loads((model / "siamkit.json").read_text())["fingerprint"])


def _refused(monkeypatch: pytest.MonkeyPatch, old: Path, names: dict[str, int]) -> None:
    """Path.rename of each entry of ``old`` named in ``names`` refused that many times (-1:
    always), as a read-only folder refuses it."""
    real = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if self.parent == old and names.get(self.name, 0) != 0:
            names[self.name] -= 1
            raise PermissionError(13, "Permission denied", str(self), str(target))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An earlier run (model B, with the user's notes.txt) and the ``.model.old`` a save of
    OUT/model killed after its renames left: the model it replaced (A) with the user's
    mine.txt and a.txt still in it."""
    out = tmp_path / "run"
    model = save_model(_net(0), out / "model")
    (model / "notes.txt").write_text("notes")
    (out / "config.yaml").write_text("earlier: 1\n")
    save_model(_net(5), tmp_path / "a")
    (tmp_path / "a").rename(out / ".model.old")
    (out / ".model.old" / "mine.txt").write_text("mine")
    (out / ".model.old" / "a.txt").write_text("a")
    return out


def test_a_run_whose_save_could_not_move_the_users_files_says_what_became_of_the_models(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, old = out / "model", out / ".model.old"
    earlier = _fingerprint(model)
    # a.txt is refused once (as --overwrite finishes the killed save), then moves with the
    # run's save; mine.txt never moves
    _refused(monkeypatch, old, {"a.txt": 1, "mine.txt": -1})
    with pytest.raises(ModelFolderNotFinishedError) as err, _earlier_run_set_aside(out, True):
        save_model(_net(2), model)  # the run's save: the error ends the run
    monkeypatch.undo()
    assert str(err.value) == (
        f"the run stopped: its save of {model} could not move your files out of {old} "
        f"({old}/mine.txt: Permission denied), so its new model was removed, and the earlier "
        f"run's is back in {model} (with a.txt of yours, which the save had moved): move "
        f"{old}/mine.txt into {model} (or elsewhere), and remove {old} (the rest of it is the "
        "replaced model's)"
    )
    assert _fingerprint(model) == earlier  # the earlier run's model, not the new one
    assert (model / "notes.txt").read_text() == "notes"
    assert (model / "a.txt").read_text() == "a"
    assert (old / "mine.txt").read_text() == "mine"
    assert (out / "config.yaml").read_text() == "earlier: 1\n"
    assert sorted(os.listdir(out)) == [".model.old", "config.yaml", "model"]  # no set-aside
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(model).embed(x), _net(0).embed(x))


def test_a_run_whose_save_removed_a_stale_text_export_names_its_files(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s63_r2 finding 5: the replaced model's text export in ``.model.old/onnx`` holds a file
    of the user's; the save deletes the export's own files, then its move of ``onnx`` is
    refused. The save's "it had removed ..." was lost where the run's sentence replaced the
    save's; the run's sentence now names them too."""
    from tests.export.test_save_model_keeps_what_it_does_not_own import add_text_export

    model, old = out / "model", out / ".model.old"
    add_text_export(old, user_file=True)  # model A's export, with the user's readme.txt
    _refused(monkeypatch, old, {"a.txt": 1, "onnx": -1})
    with pytest.raises(ModelFolderNotFinishedError) as err, _earlier_run_set_aside(out, True):
        save_model(_net(2), model)  # the run's save: the error ends the run
    monkeypatch.undo()
    assert str(err.value) == (
        f"the run stopped: its save of {model} could not move your files out of {old} "
        f"({old}/onnx: Permission denied), so its new model was removed, and the earlier "
        f"run's is back in {model} (with a.txt and mine.txt of yours, which the save had "
        f"moved): move {old}/onnx into {model} (or elsewhere), and remove {old} (the rest of "
        f"it is the replaced model's); its save had removed {old}/onnx/text.onnx, "
        f"{old}/onnx/text_onnx.json and {old}/onnx/tokenizer, the replaced model's export, "
        "which would no longer match its new model"
    )
    assert sorted(os.listdir(old / "onnx")) == ["readme.txt"]  # only what it names is gone


def test_a_failed_move_keeps_the_set_aside_model_folder_and_says_where_the_files_are(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's save finds ``.model.old`` no whole model (its weights gone, as a save killed
    while removing the replaced model's files leaves it), so saves beside it; the earlier
    model folder cannot go to ``.model.old`` to give the new one the user's files, and that
    ``.model.old`` cannot be emptied (the move is refused): both folders and every file of the
    user's stay, and the line says where each is."""
    model, old = out / "model", out / ".model.old"
    (old / "model.safetensors").unlink()
    _refused(monkeypatch, old, {"a.txt": -1, "mine.txt": -1})
    with _earlier_run_set_aside(out, True):
        save_model(_net(2), model)
        (out / "config.yaml").write_text("new: 1\n")
    monkeypatch.undo()
    (stash,) = out.glob(".earlier-run-*")
    assert os.listdir(stash) == ["model"]
    assert (stash / "model" / "notes.txt").read_text() == "notes"
    assert _fingerprint(stash / "model") == _fingerprint(
        save_model(_net(0), out.parent / "b")
    )  # the earlier run's model, kept whole
    assert (old / "mine.txt").read_text() == "mine" and (old / "a.txt").read_text() == "a"
    assert _fingerprint(model) == _fingerprint(save_model(_net(2), out.parent / "c"))
    err = capsys.readouterr().err
    assert (
        f"the earlier run's model folder, with any files of yours, left in {stash / 'model'}: "
        f"{old} is in the way, holding files of yours a save could not move out of it "
        f"({old}/a.txt: Permission denied): move {old}/a.txt and {old}/mine.txt into {model} "
        f"(or elsewhere), and remove {old} (the rest of it is the replaced model's); and move "
        f"your files from {stash / 'model'} into {model}, then delete {stash} (a run into "
        f"{out} is refused until it is deleted)"
    ) in err


def test_files_in_the_earlier_models_place_are_kept_and_named_as_what_they_are(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's save moved the user's notes.txt from ``.model.old`` into its model folder,
    and the earlier model folder holds a notes.txt too: the failed run's folder stays with it
    and the earlier model stays set aside. The line said "model saved in OUT during the run
    kept", and the next run's refusal "kept as OUT/.model.old was in the way; move your files
    from STASH/model into OUT/model, then delete STASH": deleting the earlier model. Both now
    say what is where, and to move the earlier model folder back."""
    model, old = out / "model", out / ".model.old"
    for name in ("a.txt", "mine.txt"):
        (old / name).unlink()
    (old / "notes.txt").write_text("older notes")  # not moved at first: the earlier has one
    (old / "z.txt").write_text("z")
    _refused(monkeypatch, old, {"z.txt": -1})
    with pytest.raises(ModelFolderNotFinishedError) as raised, _earlier_run_set_aside(out, True):
        save_model(_net(2), model)
    monkeypatch.undo()
    assert ", so its new model was removed, and the earlier run's set aside (said above): " in (
        str(raised.value)
    )
    (stash,) = out.glob(".earlier-run-*")
    assert str(raised.value).endswith(  # the folder the earlier model is in, not OUT/model
        f"(said above): move {old}/z.txt into {stash / 'model'} (or elsewhere), and remove "
        f"{old} (the rest of it is the replaced model's)"
    )
    assert os.listdir(stash) == ["model"]
    assert (stash / "model" / "notes.txt").read_text() == "notes"
    assert os.listdir(model) == ["notes.txt"] and (model / "notes.txt").read_text() == "older notes"
    err = capsys.readouterr().err
    assert "saved in" not in err
    assert (
        f"files in {model} the failed run did not write kept (notes.txt); the earlier run's "
        f"model folder left where --overwrite set it aside, in {stash / 'model'}: move those "
        f"files elsewhere, then move it back to {model} (a run into {out} is refused until it "
        "is moved back)\n"
    ) in err
    with pytest.raises(click.UsageError) as refused:
        _refuse_set_aside_run(out)
    assert refused.value.message == (
        f"{out} holds {stash.name}: the earlier run's model folder, which --overwrite set "
        f"aside and did not put back; {model} holds 1 file of yours: move it elsewhere, then "
        f"move {stash / 'model'} back to {model} and delete {stash}"
    )


@pytest.mark.parametrize("kind", ["file", "link to a file", "broken link", "link to a folder"])
def test_a_file_or_link_of_the_users_at_out_model_is_named_as_a_file_and_the_error_stays(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file (or link) of the user's saved at OUT/model during a failed --overwrite run: the
    cleanup listed it as a folder, and os.listdir's NotADirectoryError (FileNotFoundError for
    a broken link) replaced the run's own error; a link to a folder was listed through as
    "files in OUT/model the failed run did not write". It is named as the file it is, and the
    run's error is the one raised."""
    out = tmp_path / "run"
    (out / "model").mkdir(parents=True)
    (out / "model" / "weights.pt").write_text("earlier model")
    (out / "config.yaml").write_text("earlier: 1\n")
    (tmp_path / "mine.txt").write_text("mine")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "f.txt").write_text("f")
    model = out / "model"
    with pytest.raises(RuntimeError, match=r"^the run failed$"), _earlier_run_set_aside(out, True):
        if kind == "file":
            model.write_text("a user's file named model")
        else:
            target = {
                "link to a file": "mine.txt",
                "broken link": "gone",
                "link to a folder": "folder",
            }
            model.symlink_to(tmp_path / target[kind])
        raise RuntimeError("the run failed")
    (stash,) = out.glob(".earlier-run-*")
    assert os.listdir(stash) == ["model"]
    assert (stash / "model" / "weights.pt").read_text() == "earlier model"
    assert os.path.islink(model) == (kind != "file")
    assert (out / "config.yaml").read_text() == "earlier: 1\n"
    assert os.listdir(tmp_path / "folder") == ["f.txt"]
    err = capsys.readouterr().err
    assert "did not write" not in err
    assert (
        f"model saved in {out} during the run kept; the earlier run's model left where "
        f"--overwrite set it aside, in {stash} (a run into {out} is refused until it is moved "
        "back or deleted)\n"
    ) in err
    with pytest.raises(click.UsageError) as refused:  # "holds files of yours" of one file
        _refuse_set_aside_run(out)
    what = "a file" if kind == "file" else "a link"
    assert refused.value.message == (
        f"{out} holds {stash.name}: the earlier run's model folder, which --overwrite set "
        f"aside and did not put back; {model} is {what} of yours: move it elsewhere, then "
        f"move {stash / 'model'} back to {model} and delete {stash}"
    )


def test_a_run_whose_save_could_not_remove_only_the_replaced_models_files_keeps_its_model(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """s63_m2's open point: the run's save moved every file of the user's into its new model,
    then the deletion of the replaced model's siamkit.json from ``.model.old`` was refused. The
    run stopped on "its save ... could not move your files out of ...", untrue, and its cleanup
    removed the new model, whose save had finished. Now the run goes on: the new model and
    outputs stay, each line says the deletion failed (the path and reason) and what to remove,
    and every file of the user's is where it is said to be."""
    from siamkit.export import bundle

    model, old = out / "model", out / ".model.old"
    _refused(monkeypatch, old, {"a.txt": 1})  # at --overwrite's start: .model.old stays
    real = bundle._delete_entry

    def delete(path: Path) -> None:
        if path == old / "siamkit.json":
            raise PermissionError(13, "Permission denied", str(path))
        real(path)

    monkeypatch.setattr(bundle, "_delete_entry", delete)
    with _earlier_run_set_aside(out, True):
        save_model(_net(2), model)  # the run's save: said, and the run goes on
        (out / "config.yaml").write_text("new: 1\n")
    monkeypatch.undo()
    assert _fingerprint(model) == _fingerprint(save_model(_net(2), out.parent / "c"))
    assert sorted(os.listdir(model)) == ["a.txt", "mine.txt", "model.safetensors", "siamkit.json"]
    assert (out / "config.yaml").read_text() == "new: 1\n"
    assert os.listdir(old) == ["siamkit.json"]  # the replaced model's, alone
    (stash,) = out.glob(".earlier-run-*")
    assert os.listdir(stash) == ["model"]  # the earlier model, with the user's notes.txt
    assert (stash / "model" / "notes.txt").read_text() == "notes"
    why = f"{old}/siamkit.json: Permission denied"
    assert capsys.readouterr().err == (
        f"Saved the model to {model} and moved your files into it, but could not remove the "
        f"replaced model's files from {old} ({why}): remove {old} (nothing of yours is in it, "
        "only the replaced model's files)\n"
        f"the earlier run's model folder, with any files of yours, left in {stash / 'model'}: "
        f"{old} is in the way, holding the replaced model's files a save could not remove "
        f"({why}): remove {old} (nothing of yours is in it, only the replaced model's files); "
        f"and move your files from {stash / 'model'} into {model}, then delete {stash} (a run "
        f"into {out} is refused until it is deleted)\n"
    )


def test_a_finished_runs_carry_of_the_users_files_that_fails_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run finished; the earlier model folder, moved to ``.model.old`` to give the new
    model the user's files, could not be emptied (a move refused): nothing was said, and the
    files sat in ``.model.old`` unnamed. The line names them and the refusal."""
    out = tmp_path / "run"
    earlier = save_model(_net(0), out / "model")
    (earlier / "notes.txt").write_text("notes")
    (out / "config.yaml").write_text("earlier: 1\n")
    old = out / ".model.old"
    with _earlier_run_set_aside(out, True):
        save_model(_net(2), out / "model")
        _refused(monkeypatch, old, {"notes.txt": -1})
    monkeypatch.undo()
    assert (old / "notes.txt").read_text() == "notes"
    assert not list(out.glob(".earlier-run-*"))
    assert capsys.readouterr().err == (
        f"the earlier run's model folder, moved to {old} to give the new model in "
        f"{out / 'model'} the files of yours it held, could not be emptied ({old}/notes.txt: "
        f"Permission denied): move {old}/notes.txt into {out / 'model'} (or elsewhere), and "
        f"remove {old} (the rest of it is the replaced model's)\n"
    )
