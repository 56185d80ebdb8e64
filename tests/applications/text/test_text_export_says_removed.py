"""A forced text export removes the earlier export's files that it does not write (an int8
graph, a stacked tower's ``lexical_stacked.*``), and says so, as an image export does for its
stale int8 file: ``siamkit export --help`` promised "(the output says so)", and a text export
printed only its rows (s61 r7 finding 1). The graph writing and parity check are stubbed: the
folder logic and the command's output are what is tested."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.applications.text.lexical import LEXICAL_JSON, LEXICAL_NPZ, STACKED_JSON, STACKED_NPZ
from siamkit.applications.text.onnx import INT8_NAME, META_NAME, ONNX_NAME
from siamkit.cli.main import cli


def _model(stacked: bool) -> Any:
    """A stand-in text model: its export writes the graph(s), text_onnx.json and its lexical
    files (a stacked tower's too when ``stacked``)."""
    from siamkit.applications.text import onnx_export

    def export_onnx_folder(folder: Path, int8: bool = False, force: bool = False) -> list[Any]:
        return list(onnx_export.export_text_bundle(model, folder, int8=int8, force=force))

    model = SimpleNamespace(share_weights=True, stacked=stacked)
    model.export_onnx_folder = export_onnx_folder
    return model


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The model each command loads: ``stubbed["model"]`` (``siamkit export`` from the folder
    ``stubbed["path"]``), set by the test."""
    import siamkit.export.bundle
    from siamkit.applications.text import onnx_export
    from siamkit.cli import _text_common, export_cmd

    def export(model: Any, folder: Path, int8: bool = False) -> Path:
        names = [ONNX_NAME, META_NAME, LEXICAL_JSON, LEXICAL_NPZ]
        names += [INT8_NAME] if int8 else []
        names += [STACKED_JSON, STACKED_NPZ] if model.stacked else []
        for name in names:
            (Path(folder) / name).write_text("{}")
        return Path(folder)

    loaded: dict[str, Any] = {"path": None}
    monkeypatch.setattr(onnx_export, "export_text_onnx", export)
    monkeypatch.setattr(onnx_export, "onnx_parity", lambda *a, **k: (0.0, 1.0))
    monkeypatch.setattr(export_cmd, "_folder_export", lambda model: object())
    real_load = siamkit.export.bundle.load_model

    def load_model(path: Any, *a: Any, **kw: Any) -> Any:
        # another model's path is loaded as ever: a module that imports load_model while this
        # stand-in is in place keeps it for the tests after this one
        return loaded["model"] if Path(path) == loaded["path"] else real_load(path, *a, **kw)

    monkeypatch.setattr(siamkit.export.bundle, "load_model", load_model)
    monkeypatch.setattr(_text_common, "_model", lambda path: loaded["model"])
    return loaded


def _export(*args: str) -> Any:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res


def test_a_forced_export_without_int8_says_it_removed_the_earlier_int8_graph(
    tmp_path: Path, stubbed: dict[str, Any]
) -> None:
    edge = tmp_path / "edge"
    (tmp_path / "m").mkdir()  # the model folder (its loading is stubbed)
    stubbed["path"] = tmp_path / "m"
    stubbed["model"] = _model(stacked=False)
    _export("export", str(tmp_path / "m"), "--format", "onnx", "--out", str(edge), "--int8")
    (edge / "notes.txt").write_text("mine")
    res = _export("export", str(tmp_path / "m"), "--format", "onnx", "--out", str(edge), "--force")
    assert not (edge / INT8_NAME).exists() and (edge / "notes.txt").read_text() == "mine"
    said = res.stdout.splitlines()[-1]
    assert said == (
        f"Removed {edge / INT8_NAME}: the earlier export's file, which this export does not "
        "write and which would no longer match it (export with --int8 to write a new int8 graph)"
    ), res.stdout
    _export(
        "export", str(tmp_path / "m"), "--format", "onnx", "--out", str(edge), "--int8", "--force"
    )
    res = _export(
        "export", str(tmp_path / "m"), "--format", "onnx", "--out", str(edge), "--force", "--json"
    )
    assert json.loads(res.stdout)["removed"] == [str(edge / INT8_NAME)]
    # nothing of the earlier export's is left out this time: nothing is said to be removed
    res = _export("export", str(tmp_path / "m"), "--format", "onnx", "--out", str(edge), "--force")
    assert "Removed" not in res.stdout, res.stdout


def test_text_export_says_it_removed_a_stacked_towers_files(
    tmp_path: Path, stubbed: dict[str, Any]
) -> None:
    edge = tmp_path / "edge"
    stubbed["model"] = _model(stacked=True)
    _export("text", "export", "--out", str(edge), "--int8")
    (edge / "notes.txt").write_text("mine")
    stubbed["model"] = _model(stacked=False)  # the word tower alone, over the stacked export
    res = _export("text", "export", "--out", str(edge), "--force")
    gone = [edge / STACKED_JSON, edge / STACKED_NPZ, edge / INT8_NAME]
    assert not any(p.exists() for p in gone) and (edge / "notes.txt").exists()
    said = res.stdout.splitlines()[-1]
    assert said == (
        f"Removed {edge / STACKED_JSON}, {edge / STACKED_NPZ} and {edge / INT8_NAME}: the "
        "earlier export's files, "
        "which this export does not write and which would no longer match it (export with "
        "--int8 to write a new int8 graph)"
    ), res.stdout


def test_removed_files_are_listed_with_commas_then_and() -> None:
    """Three removed files read "Removed a and b and c" (s61_LR finding 3): now "a, b and c"."""
    from siamkit.cli.export_cmd import _removed_line

    def files(line: str) -> str:
        return line.removeprefix("Removed ").split(": ")[0]

    a, b, c = Path("e/a.json"), Path("e/b.npz"), Path("e/c.int8.onnx")
    assert files(_removed_line([a], text=True)) == "e/a.json"
    assert files(_removed_line([a, b], text=False)) == "e/a.json and e/b.npz"
    assert files(_removed_line([a, b, c], text=True)) == "e/a.json, e/b.npz and e/c.int8.onnx"


@pytest.mark.parametrize("between", [True, False])
def test_a_killed_replacements_int8_graph_is_named_when_the_next_export_removes_it(
    tmp_path: Path, stubbed: dict[str, Any], between: bool
) -> None:
    """A forced export killed after it moved the earlier export aside (``.edge.old``) leaves its
    int8 graph there; the next forced export without --int8 puts it back (``between``: killed
    between the two renames) or empties it (killed after both), and removed the int8 graph
    without a "Removed" line, since it listed ``edge`` alone."""
    edge, aside = tmp_path / "edge", tmp_path / ".edge.old"
    stubbed["model"] = _model(stacked=False)
    _export("text", "export", "--out", str(edge), "--int8")
    (edge / "notes.txt").write_text("mine")
    edge.rename(aside)  # what the kill leaves
    if not between:  # the new export already in place, without the int8 graph
        _export("text", "export", "--out", str(tmp_path / "new"))
        (tmp_path / "new").rename(edge)
    res = _export("text", "export", "--out", str(edge), "--force")
    assert not aside.exists() and not (edge / INT8_NAME).exists()
    assert (edge / "notes.txt").read_text() == "mine"
    said = res.stdout.splitlines()[-1]
    assert said == (
        f"Removed {edge / INT8_NAME}: the earlier export's file, which this export does not "
        "write and which would no longer match it (export with --int8 to write a new int8 graph)"
    ), res.stdout
