"""A command interrupted while it writes (Ctrl-C, an error) leaves earlier outputs as they were
and no partial file under the output's name. The interruption is simulated in-process: a step
of the write raises KeyboardInterrupt after writing part of its file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from siamkit.applications.text.onnx import ONNX_NAME
from siamkit.cli._image_files import write_embeddings


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("step", ["matrix", "ids"])
def test_embed_npy_interrupted_keeps_the_earlier_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """z.npy was truncated and rewritten in place, then z.ids.txt: Ctrl-C during either left a
    partial z.npy, or a new z.npy beside the earlier run's ids (rows that name other images)."""
    out = tmp_path / "z.npy"
    write_embeddings(out, np.zeros((3, 4), np.float32), ["a", "b", "c"], None)
    before = _files(tmp_path)
    if step == "matrix":
        real_save = np.save

        def save(f: Any, arr: np.ndarray, **kw: Any) -> None:
            real_save(f, arr, **kw)
            f.truncate(40)  # part of the file is on disk
            raise KeyboardInterrupt

        monkeypatch.setattr(np, "save", save)
    else:
        real_write = Path.write_text

        def write_text(self: Path, data: str, *a: Any, **kw: Any) -> int:
            real_write(self, data[:3], *a, **kw)
            raise KeyboardInterrupt

        monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(KeyboardInterrupt):
        write_embeddings(out, np.ones((5, 4), np.float32), list("vwxyz"), None)
    monkeypatch.undo()
    assert _files(tmp_path) == before  # the earlier pair, and no temporary file
    write_embeddings(out, np.ones((5, 4), np.float32), list("vwxyz"), None)
    assert np.load(out).shape == (5, 4)
    assert (tmp_path / "z.ids.txt").read_text().split() == list("vwxyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.ids.txt", "z.npy"]


def test_embed_parquet_interrupted_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow wrote z.parquet in place: Ctrl-C mid-write left a file no reader could open."""
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "z.parquet"
    write_embeddings(out, np.zeros((3, 4), np.float32), ["a", "b", "c"], None)
    before = out.read_bytes()

    def write_table(table: Any, where: Any, **kw: Any) -> None:
        Path(where).write_bytes(b"PAR1 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", write_table)
    with pytest.raises(KeyboardInterrupt):
        write_embeddings(out, np.ones((5, 4), np.float32), list("vwxyz"), None)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["z.parquet"]
    monkeypatch.undo()
    new = tmp_path / "new.parquet"
    monkeypatch.setattr(pq, "write_table", write_table)
    with pytest.raises(KeyboardInterrupt):
        write_embeddings(new, np.ones((5, 4), np.float32), list("vwxyz"), None)
    assert not new.exists()


def _fake_text_export(monkeypatch: pytest.MonkeyPatch, content: str) -> Any:
    """The text export with its graph writing and parity check replaced by a stand-in that
    writes one file of ``content`` (the folder logic is what is tested)."""
    from siamkit.applications.text import onnx, onnx_export

    def export(model: Any, folder: Path, int8: bool = False) -> Path:
        (Path(folder) / onnx.ONNX_NAME).write_text(content)
        (Path(folder) / onnx.META_NAME).write_text("{}")
        return Path(folder)

    monkeypatch.setattr(onnx_export, "export_text_onnx", export)
    monkeypatch.setattr(onnx_export, "onnx_parity", lambda *a, **k: (0.0, 1.0))
    return onnx_export


# the stubbed export reads only whether the model shares its towers (4d9b6d3 exports a
# half-twin's two graphs)
_SHARED_MODEL: Any = SimpleNamespace(share_weights=True)


def test_text_export_force_interrupted_keeps_the_earlier_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """export --force deleted the earlier export folder, then moved the new one in: Ctrl-C while
    it deleted left part of the earlier export, or none, and the new one was discarded too."""
    import shutil

    onnx = _fake_text_export(monkeypatch, "old graph")
    out = tmp_path / "edge"
    onnx.export_text_bundle(_SHARED_MODEL, out)
    before = _files(out)
    onnx = _fake_text_export(monkeypatch, "new graph")
    real_rmtree = shutil.rmtree

    def rmtree(path: Any, *a: Any, **kw: Any) -> None:
        if Path(path) == out:  # deleting the earlier export: stopped after its first file
            sorted(out.iterdir())[0].unlink()
            raise KeyboardInterrupt
        real_rmtree(path, *a, **kw)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    real_rename = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if Path(target) == out and self.name != ".edge.old":  # moving the new export in
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        onnx.export_text_bundle(_SHARED_MODEL, out, force=True)
    monkeypatch.setattr(Path, "rename", real_rename)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge"]  # no temporary folder
    onnx.export_text_bundle(_SHARED_MODEL, out, force=True)
    assert (out / ONNX_NAME).read_text() == "new graph"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge"]


def test_text_export_killed_between_its_renames_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replacement killed after the earlier export was moved aside (no ``edge``, a complete
    ``.edge.old``): the next export finds the earlier one where it was."""
    onnx = _fake_text_export(monkeypatch, "old graph")
    out = tmp_path / "edge"
    onnx.export_text_bundle(_SHARED_MODEL, out)
    out.rename(tmp_path / ".edge.old")  # what the kill leaves
    with pytest.raises(FileExistsError):
        onnx.export_text_bundle(_SHARED_MODEL, out)  # without force the earlier export is kept
    assert (out / ONNX_NAME).read_text() == "old graph"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge"]


def test_ctrl_c_is_one_line_and_status_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in a command ended with click's "Aborted!" and exit status 1, which a script
    cannot tell from a refused input; a shell reports 130 for a command stopped by Ctrl-C."""
    from click.testing import CliRunner
    from PIL import Image

    import siamkit
    from siamkit.cli import embed_cmd
    from siamkit.cli.main import cli

    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 8, 8))
    model = siamkit.save_model(siamkit.SiameseNetwork(enc, 8, preprocess=pre), tmp_path / "m")
    Image.new("L", (8, 8)).save(tmp_path / "a.png")

    def interrupted(*a: Any, **kw: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(embed_cmd, "write_embeddings", interrupted)
    out = tmp_path / "z.npy"
    res = CliRunner().invoke(cli, ["embed", str(model), str(tmp_path / "a.png"), "--out", str(out)])
    assert res.exit_code == 130
    assert res.output.strip().splitlines() == [
        "interrupted (Ctrl-C) before the command finished; run it again"
    ]
    assert not out.exists()


def test_text_export_removes_the_temporary_folders_of_killed_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each export killed with SIGKILL left its temporary folder (a 90 MB graph for MiniLM) in
    the model folder, and no later export removed it. One older than a running export could
    be is removed now; a recent one (an export running now) is left alone."""
    import os
    import time

    onnx = _fake_text_export(monkeypatch, "graph")
    stale, recent = tmp_path / ".edge.killed1", tmp_path / ".edge.running"
    for d in (stale, recent):
        d.mkdir()
        (d / ONNX_NAME).write_text("part of a graph")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    onnx.export_text_bundle(_SHARED_MODEL, tmp_path / "edge")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".edge.running", "edge"]


def test_int8_export_removes_the_temporary_folders_of_killed_quantisations(
    tmp_path: Path,
) -> None:
    """A quantisation killed with SIGKILL left its ``.quantize*`` folder (the pre-processed
    graph, a model's size) in the model folder, and no later export removed it."""
    import os
    import time

    import siamkit
    from siamkit.export import export_onnx, quantize_onnx

    pytest.importorskip("onnxruntime")
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 8, 8))
    folder = siamkit.save_model(siamkit.SiameseNetwork(enc, 8, preprocess=pre), tmp_path / "m")
    fp32 = export_onnx(siamkit.load_model(folder), folder / "model.onnx").path
    stale, recent = folder / ".quantize_killed", folder / ".quantize_running"
    for d in (stale, recent):
        d.mkdir()
        (d / "pre.onnx").write_bytes(b"part of a graph")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    quantize_onnx(fp32, mode="dynamic")
    assert not stale.exists() and recent.exists()


@pytest.mark.parametrize("mode", [[], ["--overwrite"], ["--resume"]])
def test_train_refuses_a_folder_whose_overwrite_was_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: list[str]
) -> None:
    """An --overwrite killed (SIGKILL) after it set the earlier run aside but before it wrote
    anything left only ``.earlier-run-*``: the next train into the folder (plain or
    --overwrite) saw no run, trained, and left the earlier run hidden beside the new one."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    out = tmp_path / "run"
    stash = out / ".earlier-run-x1"
    stash.mkdir(parents=True)
    (stash / "metrics.json").write_text("{}")  # what the kill left: the earlier run, aside
    config = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
    res = CliRunner().invoke(cli, ["train", str(config), "--out", str(out), *mode])
    assert res.exit_code == 2, res.output
    assert ".earlier-run-x1" in res.output and "was killed" in res.output
    assert sorted(p.name for p in out.iterdir()) == [".earlier-run-x1"]  # nothing written


@pytest.mark.parametrize("mode", [[], ["--resume"]])
def test_train_interrupted_after_its_checkpoint_says_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: list[str]
) -> None:
    """Ctrl-C in a new run after its first checkpoint said "run it again", but the same command
    is then refused (OUT holds a run): the message must name --resume. A run that was already
    a --resume continues with the same command, so it keeps the generic line."""
    from click.testing import CliRunner

    import siamkit.cli.train_cmd
    import siamkit.experiment
    from siamkit.cli.main import cli

    out = tmp_path / "run"
    out.mkdir()
    if mode:
        (out / "checkpoint.pt").write_bytes(b"earlier")

    def interrupted(cfg: Any, out_dir: Any, **kw: Any) -> None:
        (Path(out_dir) / "checkpoint.pt").write_bytes(b"epoch 1")
        raise KeyboardInterrupt

    monkeypatch.setattr(siamkit.experiment, "run_experiment", interrupted)
    # (the stand-in checkpoint is no run for --resume to read first: a run with epochs left)
    monkeypatch.setattr(siamkit.cli.train_cmd, "_resume_is_complete", lambda cfg, out: False)
    config = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
    args = ["train", str(config), "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, *mode])
    assert res.exit_code == 130, res.output
    (line,) = res.output.strip().splitlines()
    if mode:
        assert line == "interrupted (Ctrl-C) before the command finished; run it again"
        return
    assert "--resume" in line and str(out / "checkpoint.pt") in line
    again = CliRunner().invoke(cli, args)  # what "run it again" led to
    assert again.exit_code == 2 and "--resume" in again.output


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_embed_keeps_an_existing_output_unless_forced(tmp_path: Path, suffix: str) -> None:
    """`embed` replaced an existing OUT without a word, where export and text export need
    --force; embedding a large folder takes minutes, so an earlier result is worth a flag."""
    from click.testing import CliRunner
    from PIL import Image

    import siamkit
    from siamkit.cli.main import cli

    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 8, 8))
    model = siamkit.save_model(siamkit.SiameseNetwork(enc, 8, preprocess=pre), tmp_path / "m")
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    out = tmp_path / f"z{suffix}"
    out.write_bytes(b"earlier result")
    args = ["embed", str(model), str(tmp_path / "a.png"), "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2
    assert f"{out} already exists; pass --force to replace" in res.output
    assert out.read_bytes() == b"earlier result"
    if suffix == ".npy":  # the ids file alone also counts: the pair is written together
        out.unlink()
        (tmp_path / "z.ids.txt").write_text("earlier\n")
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and "z.ids.txt already exists" in res.output
    res = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes() != b"earlier result"


@pytest.mark.parametrize("killed", [False, True])
def test_a_forced_text_export_keeps_a_users_files_and_drops_its_own_stale_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, killed: bool
) -> None:
    """A forced text export replaced the whole folder: a file of the user's in it was deleted
    with the earlier export. It now moves what is not the export's into the new export, and
    still leaves none of the earlier export's own files it does not write (an int8 graph, a
    stacked tower's ``lexical_stacked.*``); ``killed``: also when the replacement was killed
    after its renames, before it had moved them (they are then in ``.edge.old``)."""
    from siamkit.applications.text.onnx import INT8_NAME

    onnx = _fake_text_export(monkeypatch, "old graph")
    out = tmp_path / "edge"
    onnx.export_text_bundle(_SHARED_MODEL, out)
    (out / "notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "run.sh").write_text("echo")
    for stale in ("lexical_stacked.json", "lexical_stacked.npz", INT8_NAME):
        (out / stale).write_text("earlier export")
    if killed:  # the new export in place, the earlier one (with the user's files) aside
        out.rename(tmp_path / ".edge.old")
        onnx.export_text_bundle(_SHARED_MODEL, tmp_path / "new")
        (tmp_path / "new").rename(out)
    onnx.export_text_bundle(_SHARED_MODEL, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "mine", "notes.txt", ONNX_NAME, "text_onnx.json"
    ]  # fmt: skip
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "mine" / "run.sh").read_text() == "echo"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge"]
