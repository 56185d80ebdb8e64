"""A user's own file at a name the replaced model's onnx.json lists (model.onnx, model.int8.onnx)
was deleted as the stale export when the model was saved again, though it was not the file siamkit
exported there (s62 final reader FB 6). onnx.json records each export's SHA-256: a listed file is
removed only where it is still the one the export wrote; another is kept, and named in one line
saying why and what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.export.test_save_model_keeps_what_it_does_not_own import TAIL, small_net

from siamkit.export.bundle import CONFIG_FILE, save_model

pytest.importorskip("onnx")


def kept_line(dest: Path, names: str, them: bool = False) -> str:
    it, is_ = ("them", "they are") if them else ("it", "it is")
    return (
        f"Kept {names}: the replaced model's {dest}/onnx.json listed {it} as its ONNX export, but "
        f"{is_} not the file{'s' if them else ''} siamkit exported (not a plain file of the "
        "SHA-256 it recorded: another content, a link, a folder, or one siamkit cannot read), so "
        f"{is_} taken as yours; {it} would not match this "
        f"model: move {it} out of {dest} before you export this model there, or delete {it}"
    )


def test_a_users_file_at_a_listed_export_name_is_kept_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The export's own graph is removed (its content is the one recorded); the user's file put
    at the int8 graph's name since, and a link there, are kept, said once, not as removed."""
    from siamkit.export.onnx import export_onnx
    from siamkit.export.quantize import quantize_onnx

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest)
    quantize_onnx(dest / "model.onnx", mode="dynamic")
    (dest / "model.int8.onnx").write_bytes(b"my own graph, not siamkit's")
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [CONFIG_FILE, "model.int8.onnx", "model.safetensors"]
    )
    assert (dest / "model.int8.onnx").read_bytes() == b"my own graph, not siamkit's"
    assert capsys.readouterr().err.strip().splitlines() == [
        f"Removed {dest}/model.onnx and {dest}/onnx.json: {TAIL} (siamkit export {dest} "
        "--format onnx writes an export of it)",
        kept_line(dest, f"{dest}/model.int8.onnx"),
    ]


def test_another_models_export_copied_over_a_listed_name_is_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A siamkit export of another model copied over model.onnx, and a link at model.onnx's
    place in a second folder: kept, in the one line, not named again as an unlisted export."""
    from siamkit.export.onnx import export_onnx

    other = save_model(small_net(2), tmp_path / "other")
    export_onnx(other)
    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest)
    shutil.copyfile(other / "model.onnx", dest / "model.onnx")
    capsys.readouterr()
    save_model(small_net(1), dest)
    assert (dest / "model.onnx").read_bytes() == (other / "model.onnx").read_bytes()
    assert not (dest / "onnx.json").exists()
    assert capsys.readouterr().err.strip().splitlines() == [
        f"Removed {dest}/onnx.json: {TAIL} (siamkit export {dest} --format onnx writes an "
        f"export of it once you move {dest}/model.onnx elsewhere)",
        kept_line(dest, f"{dest}/model.onnx"),
    ]
    linked = save_model(small_net(0), tmp_path / "linked")
    export_onnx(linked)
    (linked / "model.onnx").rename(tmp_path / "graph.onnx")  # the same content, behind a link
    (linked / "model.onnx").symlink_to(tmp_path / "graph.onnx")
    capsys.readouterr()
    save_model(small_net(1), linked)
    assert (linked / "model.onnx").is_symlink() and (tmp_path / "graph.onnx").is_file()
    assert kept_line(linked, f"{linked}/model.onnx") in capsys.readouterr().err


def test_an_export_made_with_another_threshold_is_removed_as_a_save_removes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `siamkit calibrate` does after it rewrote the threshold (s62 final reader FB 8): the
    export made with the old one is removed as a save removes it, a user's file at a listed name
    kept and named; an export made with the folder's threshold is kept."""
    from siamkit.export.bundle import remove_stale_exports
    from siamkit.export.onnx import export_onnx
    from siamkit.export.threshold_file import write_threshold

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest)
    assert remove_stale_exports(dest) == []
    assert (dest / "model.onnx").is_file() and (dest / "onnx.json").is_file()
    (dest / "model.onnx").write_bytes(b"my own graph")
    write_threshold(dest, 0.7)
    capsys.readouterr()
    assert remove_stale_exports(dest) == [dest / "onnx.json"]
    assert (dest / "model.onnx").read_bytes() == b"my own graph"
    assert capsys.readouterr().err.strip() == kept_line(dest, f"{dest}/model.onnx").replace(
        "the replaced model's", "the model's"
    )


def test_an_unlisted_export_of_the_old_threshold_is_named_as_a_save_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`siamkit export M --out M/edge/model.onnx` is listed by no record: a save over M keeps it
    and names it when it records another threshold (s62_r6 finding 2); calibrate's removal kept
    it and said nothing, so it was served with the old threshold unsaid. It is named now too."""
    from siamkit.export.bundle import remove_stale_exports
    from siamkit.export.onnx import export_onnx
    from siamkit.export.threshold_file import write_threshold

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest, out_path=dest / "edge" / "model.onnx")
    capsys.readouterr()
    assert remove_stale_exports(dest) == []
    assert capsys.readouterr().err == ""
    write_threshold(dest, 0.7)
    assert remove_stale_exports(dest) == []
    assert (dest / "edge" / "model.onnx").is_file()
    assert capsys.readouterr().err.strip() == (
        f"Kept {dest}/edge/model.onnx, which no onnx.json lists: an ONNX export of another "
        "model or threshold, which would no longer match this one (export it again with "
        f"`siamkit export {dest} --out {dest}/edge/model.onnx --force`, or delete it)"
    )


def test_the_load_finishing_a_killed_save_keeps_and_names_a_users_file_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A save killed once the new model is in place, before the carry: the next load finishes
    it (recover_model_folder) by the same rule, the user's file at a listed name kept, named."""
    from siamkit.export import bundle
    from siamkit.export.bundle import load_model
    from siamkit.export.onnx import export_onnx

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest)
    (dest / "model.onnx").write_bytes(b"my own graph")

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(1), dest)
    monkeypatch.undo()
    capsys.readouterr()
    load_model(dest)
    assert (dest / "model.onnx").read_bytes() == b"my own graph"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert capsys.readouterr().err.strip().splitlines() == [
        f"Removed {dest}/onnx.json: {TAIL} (siamkit export {dest} --format onnx writes an "
        f"export of it once you move {dest}/model.onnx elsewhere)",
        kept_line(dest, f"{dest}/model.onnx"),
    ]


def test_each_listed_graph_is_read_once_by_a_save_and_by_the_removal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save over a model folder, and remove_stale_exports (calibrate's), read every graph
    onnx.json lists twice, in two passes (one for what is kept, one for what is removed), which
    a file replaced between them could set apart: removed unnamed, or kept unsaid; graphs may be
    hundreds of MB (s63_r3 finding 5). Each is read once now, by the one pass deciding both."""
    from siamkit.export import bundle
    from siamkit.export.bundle import remove_stale_exports
    from siamkit.export.onnx import export_onnx
    from siamkit.export.threshold_file import write_threshold

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest)
    read: list[str] = []
    hashed = bundle.sha256_file

    def counted(path: Path) -> str:
        read.append(Path(path).name)
        return hashed(path)

    monkeypatch.setattr(bundle, "sha256_file", counted)
    save_model(small_net(1), dest)
    assert read.count("model.onnx") == 1 and not (dest / "model.onnx").exists()
    export_onnx(dest)
    write_threshold(dest, 0.7)
    read.clear()
    assert remove_stale_exports(dest) == [dest / "model.onnx", dest / "onnx.json"]
    assert read.count("model.onnx") == 1


def test_an_unlisted_int8_export_is_named_with_the_command_that_writes_it_where_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An fp32 and a dynamic int8 graph written into M/edge, which no onnx.json lists: the
    "Kept ..." line gives the one command that writes both again there (their --out and int8
    mode), not `--out FILE`, and names no M/onnx.json, which does not list them (s63_FA
    finding 4)."""
    from siamkit.export.bundle import remove_stale_exports
    from siamkit.export.onnx import export_onnx
    from siamkit.export.quantize import quantize_onnx
    from siamkit.export.threshold_file import write_threshold

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest, out_path=dest / "edge" / "model.onnx")
    quantize_onnx(dest / "edge" / "model.onnx", dest / "edge" / "model.int8.onnx", "dynamic")
    write_threshold(dest, 0.7)
    capsys.readouterr()
    assert remove_stale_exports(dest) == []
    assert capsys.readouterr().err.strip() == (
        f"Kept {dest}/edge/model.int8.onnx and {dest}/edge/model.onnx, which no onnx.json lists: "
        "an ONNX export of another model or threshold, which would no longer match this one "
        f"(export them again with `siamkit export {dest} --out {dest}/edge/model.onnx --force "
        "--int8-mode dynamic`, or delete them)"
    )
