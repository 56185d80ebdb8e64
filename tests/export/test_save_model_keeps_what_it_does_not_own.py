"""Saving over a model folder replaces only what the model's save wrote and the exports made from
the replaced model: it replaced the folder whole, deleting a user's files in it with the model
(final41 "Noticed, left alone", Text / export). A stale export is removed and named, not kept
silently beside a model it no longer matches; one of the same model is kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.atomic import sha256_file
from siamkit.export import bundle
from siamkit.export.bundle import (
    CONFIG_FILE,
    EXTRA_FILES_KEY,
    load_model,
    remove_stale_exports,
    save_model,
)
from siamkit.export.sidecar import TEXT_DIGESTS_KEY, entry_digest
from siamkit.models import Preprocess, SiameseNetwork

TAIL = "the replaced model's, which this model does not write and which would no longer match it"


def small_net(seed: int, threshold: float | None = 0.5) -> SiameseNetwork:
    torch.manual_seed(seed)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    net = SiameseNetwork(enc, 16, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28))).eval()
    net.threshold = threshold
    return net


def fingerprint(folder: Path) -> str:
    return str(json.loads((folder / CONFIG_FILE).read_text())["fingerprint"])


def add_user_files(folder: Path) -> None:
    (folder / "notes.txt").write_text("mine")
    (folder / "mine").mkdir()
    (folder / "mine" / "run.sh").write_text("echo")


def threshold(folder: Path) -> float | None:
    value = json.loads((folder / CONFIG_FILE).read_text())["threshold"]
    return None if value is None else float(value)


def add_image_export(folder: Path) -> None:
    """What `siamkit export MODEL --int8` leaves in a model folder: its graphs, listed with the
    model's fingerprint and threshold in onnx.json, each with its SHA-256 (as record_export
    writes it: a save removes a listed file only where it is still the one exported)."""
    exports = {}
    for name, precision in (("model.onnx", "fp32"), ("model.int8.onnx", "int8")):
        (folder / name).write_bytes(b"graph of " + fingerprint(folder).encode())
        exports[name] = {"precision": precision, "sha256": sha256_file(folder / name)}
    doc = {
        "format": "siamkit-onnx-exports",
        "format_version": 1,
        "fingerprint": fingerprint(folder),
        "threshold": threshold(folder),
        "exports": exports,
    }
    (folder / "onnx.json").write_text(json.dumps(doc))


def add_text_export(folder: Path, user_file: bool, hashed: bool = True) -> Path:
    """What a text export leaves in MODEL/onnx (its record names the model's fingerprint and,
    unless not ``hashed`` as an older export's, the SHA-256 of its files)."""
    out = folder / "onnx"
    (out / "tokenizer").mkdir(parents=True)
    (out / "tokenizer" / "tokenizer.json").write_text("{}")
    (out / "text.onnx").write_bytes(b"graph")
    made: dict[str, object] = {"fingerprint": fingerprint(folder), "threshold": threshold(folder)}
    if hashed:
        made[TEXT_DIGESTS_KEY] = {n: entry_digest(out / n) for n in ("text.onnx", "tokenizer")}
    (out / "text_onnx.json").write_text(json.dumps(made))
    if user_file:
        (out / "readme.txt").write_text("how I serve it")
    return out


def test_a_forced_save_keeps_a_users_files_and_removes_and_names_the_stale_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = save_model(small_net(0), tmp_path / "model")
    add_user_files(dest)
    add_image_export(dest)
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [CONFIG_FILE, "mine", "model.safetensors", "notes.txt"]
    )
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "mine" / "run.sh").read_text() == "echo"
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
    err = capsys.readouterr().err.strip()
    assert err == (
        f"Removed {dest}/model.int8.onnx, {dest}/model.onnx and {dest}/onnx.json: {TAIL} "
        f"(siamkit export {dest} --format onnx writes an export of it)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing left aside


def test_the_same_model_saved_again_keeps_its_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A re-save of the same weights and threshold: its export embeds and decides as it does."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_image_export(dest)
    out = add_text_export(dest, user_file=False)
    capsys.readouterr()
    save_model(small_net(0), dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [CONFIG_FILE, "model.int8.onnx", "model.onnx", "model.safetensors", "onnx", "onnx.json"]
    )
    assert sorted(p.name for p in out.iterdir()) == ["text.onnx", "text_onnx.json", "tokenizer"]
    assert capsys.readouterr().err == ""


def test_the_same_model_saved_with_a_new_threshold_removes_and_names_its_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The export carries the old threshold (onnx.json, text_onnx.json, the graph's metadata),
    and the torch-free runtime decides a match by it: it was kept unsaid beside the new one."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_image_export(dest)
    out = add_text_export(dest, user_file=False)
    capsys.readouterr()
    save_model(small_net(0, threshold=0.7), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["model.safetensors", CONFIG_FILE]
    assert load_model(dest).threshold == 0.7
    assert capsys.readouterr().err.strip() == (
        f"Removed {dest}/model.int8.onnx, {dest}/model.onnx, {out} and {dest}/onnx.json: {TAIL} "
        f"(siamkit export {dest} --format onnx writes an export of it)"
    )


def test_a_real_export_with_the_old_threshold_is_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`siamkit export` then a re-save of the same weights at 0.9: the export said 0.5, unsaid."""
    from siamkit.export.onnx import export_onnx

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest)
    assert json.loads((dest / "onnx.json").read_text())["threshold"] == 0.5
    capsys.readouterr()
    save_model(small_net(0), dest)  # the same threshold: kept, nothing said
    assert (dest / "model.onnx").is_file()
    assert capsys.readouterr().err == ""
    save_model(small_net(0, threshold=0.9), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["model.safetensors", CONFIG_FILE]
    assert capsys.readouterr().err.startswith(f"Removed {dest}/model.onnx and {dest}/onnx.json: ")


@pytest.mark.parametrize("user_file", [False, True])
def test_a_text_export_in_the_folder_is_removed_but_a_users_file_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], user_file: bool
) -> None:
    dest = save_model(small_net(0), tmp_path / "model")
    out = add_text_export(dest, user_file)
    capsys.readouterr()
    save_model(small_net(1), dest)
    err = capsys.readouterr().err.strip()
    if user_file:
        assert sorted(p.name for p in out.iterdir()) == ["readme.txt"]
        assert err.startswith(
            f"Removed {out}/text.onnx, {out}/tokenizer and {out}/text_onnx.json: {TAIL}"
        )
    else:
        assert not out.exists()
        assert err.startswith(f"Removed {out}: {TAIL}")


def test_files_the_replaced_model_wrote_that_the_new_one_does_not_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kind's files beside the weights (a lexical tower's, recorded in siamkit.json) go with
    the model they belong to."""
    dest = save_model(small_net(0), tmp_path / "model")
    doc = json.loads((dest / CONFIG_FILE).read_text())
    doc[EXTRA_FILES_KEY] = {"lexical.npz": "0" * 64}
    (dest / CONFIG_FILE).write_text(json.dumps(doc))
    (dest / "lexical.npz").write_bytes(b"tower")
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert not (dest / "lexical.npz").exists()
    assert capsys.readouterr().err.strip() == f"Removed {dest}/lexical.npz: {TAIL}"


def test_a_save_killed_after_its_renames_moves_the_users_files_on_the_next_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed once the new model is in place, before the user's files were moved out of the
    replaced folder (``.model.old``): the next load finishes the move."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_user_files(dest)
    add_image_export(dest)

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(1), dest)
    monkeypatch.undo()
    assert (tmp_path / ".model.old" / "notes.txt").is_file()  # the kill point
    capsys.readouterr()
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [CONFIG_FILE, "mine", "model.safetensors", "notes.txt"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert capsys.readouterr().err.startswith(f"Removed {dest}/model.int8.onnx, ")


def test_a_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "letter.txt").write_text("dear")
    with pytest.raises(ValueError, match="not a siamkit model folder") as err:
        save_model(small_net(0), folder)
    assert str(folder) in str(err.value)
    assert sorted(os.listdir(folder)) == ["letter.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]
    empty = tmp_path / "empty"
    empty.mkdir()
    save_model(small_net(0), empty)  # an empty folder is written as before
    assert (empty / CONFIG_FILE).is_file()


def test_a_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """A file at the path was replaced by the model, hidden as ``.notes.txt.old``, with a raw
    NotADirectoryError (s62_FB finding 5), the twin of the refusal above."""
    file = tmp_path / "notes.txt"
    file.write_text("my notes")
    for _ in range(2):  # the second save failed with a raw error at the hidden file
        with pytest.raises(ValueError) as err:
            save_model(small_net(0), file)
        assert str(err.value) == (
            f"{file} is a file, not a siamkit model folder: save the model to a new or empty "
            "folder, or to a model folder to replace that model"
        )
        assert file.read_text() == "my notes"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_load_that_finishes_the_move_first_does_not_fail_the_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's load between the save's renames and its move finishes the move itself
    (recover_model_folder): the save then finds ``.model.old`` gone, and is still a save."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_user_files(dest)
    real = bundle._own_names

    def raced(folder: Path) -> set[str]:
        monkeypatch.setattr(bundle, "_own_names", real)
        names = real(folder)
        load_model(dest)  # the other process's
        return names

    monkeypatch.setattr(bundle, "_own_names", raced)
    save_model(small_net(1), dest)
    assert (dest / "notes.txt").read_text() == "mine"
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(dest).embed(x), small_net(1).embed(x))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_an_unrecorded_export_in_a_sub_folder_of_another_model_is_kept_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`siamkit export M --out M/edge/model.onnx` is not listed in M/onnx.json: replacing M kept
    it, embedding as the old model, and said nothing (s62_r6 finding 2). It may be a user's copy,
    so it stays, named; one of the same model and threshold is not named."""
    from siamkit.export.onnx import export_onnx

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest, out_path=dest / "edge" / "model.onnx")
    capsys.readouterr()
    save_model(small_net(0), dest)
    assert capsys.readouterr().err == ""
    save_model(small_net(1), dest)
    assert (dest / "edge" / "model.onnx").is_file()
    assert capsys.readouterr().err.strip() == (
        f"Kept {dest}/edge/model.onnx, which no onnx.json lists: an ONNX export of another "
        "model or threshold, which would no longer match this one (export it again with "
        f"`siamkit export {dest} --out {dest}/edge/model.onnx --force`, or delete it)"
    )


def test_a_folder_holding_only_hidden_files_is_saved_into_and_keeps_them(tmp_path: Path) -> None:
    """`ls` shows it empty (a desktop's .DS_Store): it was refused as "a folder of other files"
    (s62_r6 finding 4). It is saved into as an empty folder, the hidden file kept as the user's."""
    folder = tmp_path / "hidden"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"finder")
    save_model(small_net(0), folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        ".DS_Store",
        "model.safetensors",
        CONFIG_FILE,
    ]
    assert (folder / ".DS_Store").read_bytes() == b"finder"
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(load_model(folder).embed(x), small_net(0).embed(x))


def test_a_removed_text_export_beside_a_users_file_names_the_folder_to_move_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of the user's in MODEL/onnx is kept when the save removes the text export. The new
    model is an image model, whose export writes MODEL/model.onnx, not MODEL/onnx: the line
    names the generic command, not the text export's `siamkit export MODEL` with MODEL/onnx to
    move first, which would write no text export again (s63_FA findings 1 and 3, s63_LR2
    finding 1)."""
    dest = save_model(small_net(0), tmp_path / "model")
    out = add_text_export(dest, user_file=True)
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert sorted(p.name for p in out.iterdir()) == ["readme.txt"]
    assert capsys.readouterr().err.strip() == (
        f"Removed {out}/text.onnx, {out}/tokenizer and {out}/text_onnx.json: {TAIL} "
        f"(siamkit export {dest} --format onnx writes an export of it)"
    )


@pytest.mark.parametrize("mode", [[], {"a": 1}])
def test_a_hand_edited_export_record_still_lets_the_save_finish_and_the_model_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: object
) -> None:
    """An onnx.json whose int8_mode is no string (edited by hand): naming the command that
    writes the export again raised TypeError after the folders were swapped, which left the
    user's notes.txt in .model.old and every later load raising it too (s63_LR2 finding 2)."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_user_files(dest)
    add_image_export(dest)
    doc = json.loads((dest / "onnx.json").read_text())
    doc["exports"]["model.int8.onnx"]["int8_mode"] = mode
    (dest / "onnx.json").write_text(json.dumps(doc))
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [CONFIG_FILE, "mine", "model.safetensors", "notes.txt"]
    )
    assert load_model(dest).threshold == 0.5
    assert capsys.readouterr().err.strip() == (
        f"Removed {dest}/model.int8.onnx, {dest}/model.onnx and {dest}/onnx.json: {TAIL} "
        f"(siamkit export {dest} --format onnx writes an export of it)"
    )


def test_the_same_model_with_a_new_threshold_names_the_command_that_writes_its_export_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only where the new model is the one the export was made from (its fingerprint) does the
    line name the export's own command (--int8 here): for another model it may be refused
    (s63_LR2 finding 1), and the line says the generic one (the tests above)."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_image_export(dest)
    capsys.readouterr()
    save_model(small_net(0, threshold=0.7), dest)
    assert capsys.readouterr().err.strip() == (
        f"Removed {dest}/model.int8.onnx, {dest}/model.onnx and {dest}/onnx.json: {TAIL} "
        f"(`siamkit export {dest} --int8` writes it again)"
    )


def test_a_users_file_at_a_text_export_name_is_kept_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A text export records the SHA-256 of its files (text_onnx.json), as onnx.json does an
    image export's: a file of the user's put at one of their names (here text.onnx) is not the
    export's, and is kept and named, not deleted by its name (s64 c2 item 1)."""
    dest = save_model(small_net(0), tmp_path / "model")
    out = add_text_export(dest, user_file=False)
    (out / "text.onnx").write_bytes(b"my own graph")
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert sorted(p.name for p in out.iterdir()) == ["text.onnx"]
    assert (out / "text.onnx").read_bytes() == b"my own graph"
    assert capsys.readouterr().err.strip().splitlines() == [
        f"Removed {out}/tokenizer and {out}/text_onnx.json: {TAIL} "
        f"(siamkit export {dest} --format onnx writes an export of it)",
        f"Kept {out}/text.onnx: the replaced model's text export in {out} wrote one of that "
        "name, but it is not the one siamkit exported (another content than the SHA-256 its "
        "text_onnx.json recorded, a link, or one siamkit cannot read), so it is taken as yours; "
        f"it would not match this model: move it out of {out} before you export this model "
        "there, or delete it",
    ]


def test_calibrate_keeps_a_users_file_at_a_text_export_name_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The removal calibrate makes when it changes the threshold follows the same rule."""
    dest = save_model(small_net(0), tmp_path / "model")
    out = add_text_export(dest, user_file=False)
    (out / "tokenizer" / "tokenizer.json").write_text('{"mine": 1}')
    capsys.readouterr()
    assert remove_stale_exports(dest, threshold=0.7) == [out / "text.onnx", out / "text_onnx.json"]
    assert sorted(p.name for p in out.iterdir()) == ["tokenizer"]
    assert (out / "tokenizer" / "tokenizer.json").read_text() == '{"mine": 1}'
    assert capsys.readouterr().err.startswith(
        f"Kept {out}/tokenizer: the model's text export in {out} wrote one of that name, but "
    )


def test_an_older_text_export_without_hashes_is_removed_by_name_and_the_line_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export written before text_onnx.json recorded SHA-256s cannot tell a file of the
    user's at one of its names: its files go by their names, as before, and the line says so."""
    dest = save_model(small_net(0), tmp_path / "model")
    out = add_text_export(dest, user_file=True, hashed=False)
    (out / "text.onnx").write_bytes(b"my own graph")
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert sorted(p.name for p in out.iterdir()) == ["readme.txt"]
    assert capsys.readouterr().err.strip() == (
        f"Removed {out}/text.onnx, {out}/tokenizer and {out}/text_onnx.json: {TAIL} "
        f"(siamkit export {dest} --format onnx writes an export of it); the text export in "
        f"{out} recorded no SHA-256 of its files (written before siamkit recorded them): they "
        "were removed by their names, with no check that each was the one it wrote"
    )


def test_calibrates_line_says_an_older_text_export_went_by_its_names(tmp_path: Path) -> None:
    """calibrate's "Removed ..." line says so too, where a text export with no SHA-256 lost its
    files by their names (s64 c2 item 1)."""
    from siamkit.cli.calibrate_cmd import _removed_then_saved

    dest = save_model(small_net(0), tmp_path / "model")
    out = add_text_export(dest, user_file=False, hashed=False)
    said = _removed_then_saved(str(dest), 0.7, {"threshold": 0.7})
    assert said is not None and said.endswith(
        f"; the text export in {out} recorded no SHA-256 of its files (written before siamkit "
        "recorded them): they were removed by their names, with no check that each was the one "
        "it wrote"
    )
    assert not out.exists() and load_model(dest).threshold == 0.7
