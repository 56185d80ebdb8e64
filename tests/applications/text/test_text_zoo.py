"""Named text models assembled from PyPI pieces (siamkit.encoders.text_zoo), on a tiny BERT zipped
and cut into pieces the way all-mpnet-base-v2's packages are."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from _tiny_bert import save_tiny_bert
from siamkit.encoders import text_zoo
from siamkit.encoders.text_zoo import SplitModel, assemble


def _pieces(tmp_path: Path, n: int = 3) -> tuple[SplitModel, list[Path], Path]:
    """A tiny BERT folder ``tiny/`` zipped (with a stray desktop.ini) and cut into ``n`` pieces."""
    src = save_tiny_bert(tmp_path / "src" / "tiny")
    (src / "desktop.ini").write_text("[.ShellClassInfo]\n")
    blob = tmp_path / "tiny.zip"
    with zipfile.ZipFile(blob, "w") as z:
        for f in sorted(src.rglob("*")):
            z.write(f, Path("tiny") / f.relative_to(src))
    data = blob.read_bytes()
    cut = np.linspace(0, len(data), n + 1).astype(int)
    pieces = []
    for k in range(n):
        p = tmp_path / "pieces" / f"tiny.zip.00{k + 1}"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data[cut[k] : cut[k + 1]])
        pieces.append(p)
    sha = hashlib.sha256((src / "model.safetensors").read_bytes()).hexdigest()
    spec = SplitModel(
        tuple(f"tiny-part-{k}" for k in range(n)), "tiny.zip.", "tiny", "model.safetensors", sha
    )
    return spec, pieces, src


def test_assembled_pieces_are_the_original_folder(tmp_path: Path) -> None:
    spec, pieces, src = _pieces(tmp_path)
    out = assemble(spec, pieces, tmp_path / "cache" / "tiny")
    for f in src.iterdir():
        if f.name != "desktop.ini":
            assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    assert not (out / "desktop.ini").exists()
    assert not any(p.name.startswith(".tiny-") for p in out.parent.iterdir())  # temp folder gone


@pytest.mark.parametrize("damage", ["swap", "drop", "flip"])
def test_damaged_pieces_are_refused_and_nothing_is_written(tmp_path: Path, damage: str) -> None:
    spec, pieces, _ = _pieces(tmp_path)
    if damage == "swap":
        pieces = [pieces[1], pieces[0], pieces[2]]
    elif damage == "drop":
        pieces = pieces[:2]
    else:  # one byte of the weights changed: the zip may still open, the hash must not match
        spec = SplitModel(spec.packages, spec.piece_suffix, spec.folder, spec.weights, "0" * 64)
    dest = tmp_path / "cache" / "tiny"
    with pytest.raises(ValueError, match="tiny"):
        assemble(spec, pieces, dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_missing_packages_name_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SplitModel(("siamkit-no-such-part-1", "siamkit-no-such-part-2"), "x.zip.", "x", "w", "0")
    monkeypatch.setitem(text_zoo.NAMED_TEXT_MODELS, "x-model", spec)
    with pytest.raises(
        ValueError, match="pip install siamkit-no-such-part-1 siamkit-no-such-part-2"
    ):
        text_zoo.named_text_model("x-model")


def test_a_named_model_serves_the_cli_and_is_assembled_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.cli.main import cli

    spec, pieces, src = _pieces(tmp_path)
    monkeypatch.setitem(text_zoo.NAMED_TEXT_MODELS, "tiny-named", spec)
    calls: list[str] = []

    def fake_pieces(s: SplitModel, name: str) -> list[Path]:
        calls.append(name)
        return pieces

    monkeypatch.setattr(text_zoo, "installed_pieces", fake_pieces)
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no folder named "tiny-named" here
    a, b = "the printer is out of toner", "printer needs new toner"
    res = CliRunner().invoke(cli, ["text", "similarity", a, b, "--model", "tiny-named", "--json"])
    assert res.exit_code == 0, res.output
    z = load_text_model(src).embed([a, b])
    out = json.loads(res.stdout)
    assert out["similarity"] == pytest.approx(float(z[0] @ z[1]), abs=1e-5)
    # MiniLM's default threshold is used, and the output says it was not made for this model
    assert "this model is not all-MiniLM-L6-v2" in out["threshold_source"]
    assert (tmp_path / "cache" / "models" / "tiny-named" / "config.json").is_file()
    load_text_model("tiny-named")  # the Python API takes the name too, from the cache
    assert calls == ["tiny-named"]


def test_a_copy_assembled_meanwhile_by_another_process_is_kept(tmp_path: Path) -> None:
    spec, pieces, _ = _pieces(tmp_path)
    dest = tmp_path / "cache" / "tiny"
    first = assemble(spec, pieces, dest)
    (first / "theirs.txt").write_text("another process's copy")
    assert assemble(spec, pieces, dest) == dest
    assert (dest / "theirs.txt").is_file()  # not replaced under a reader's feet
    (dest / text_zoo._READY).unlink()  # a copy without the marker is damaged: replaced
    assemble(spec, pieces, dest)
    assert not (dest / "theirs.txt").exists() and (dest / "config.json").is_file()


def test_the_default_model_is_taken_by_its_name(
    tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--model all-MiniLM-L6-v2 (the name the help and README give the default) was refused as
    'Directory does not exist', so `siamkit calibrate all-MiniLM-L6-v2 --out DIR` (the way to
    serve a gallery enrolled with the default) and --init-from could not name it. The wheel's
    folder is stood in for by a tiny BERT."""
    from siamkit.applications.text import load_text_model
    from siamkit.cli.main import cli
    from siamkit.cli.train_cmd import _named_start
    from siamkit.encoders import text as text_mod

    monkeypatch.setattr(text_mod, "default_text_model_path", lambda: tiny_hf)
    monkeypatch.chdir(tmp_path)  # no folder named all-MiniLM-L6-v2 here
    name = "all-MiniLM-L6-v2"
    assert text_zoo.resolve_text_model(name) == tiny_hf
    a, b = "the printer is out of toner", "printer needs new toner"
    res = CliRunner().invoke(cli, ["text", "similarity", a, b, "--model", name, "--json"])
    assert res.exit_code == 0, res.output
    z = load_text_model(tiny_hf).embed([a, b])
    assert json.loads(res.stdout)["similarity"] == pytest.approx(float(z[0] @ z[1]), abs=1e-5)
    cfg = tmp_path / "text.yaml"
    cfg.write_text("task: text\n")
    assert _named_start(str(cfg), name)
