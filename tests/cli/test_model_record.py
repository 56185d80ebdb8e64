"""A gallery records its model folder as an absolute path: a project folder that is moved or
cloned leaves it pointing at a folder that is gone. The refusals said only to restore that
folder; they now first say how to give the command the folder the model is in now."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli._model_record import other_models_refusal, recorded_model
from siamkit.cli.gallery_cmds import COMMANDS
from siamkit.index import Gallery

MOVED = "if that folder moved (a moved or cloned project)"


def _gallery_of(tmp_path: Path, model_dir: Path) -> Path:
    """A gallery of raw embeddings that records ``model_dir`` as its model folder."""
    model_dir.mkdir(parents=True)
    db = tmp_path / "g.db"
    with Gallery.open(db, embedding_dim=4) as g:
        g.enroll_embeddings("alice", np.ones((1, 4), np.float32))
        g.remember_model_path(model_dir)
    return db


def test_a_gone_folder_is_refused_saying_what_to_pass_if_it_moved(tmp_path: Path) -> None:
    gone = tmp_path / "proj" / "model"
    db = str(_gallery_of(tmp_path, gone))
    gone.rmdir()

    def said(use_it: str, **kw: str) -> str:
        refusal = other_models_refusal(db, "dlib", None, use_it, things="faces", **kw)
        assert refusal is not None
        return str(refusal)

    head = (
        f"{db} was enrolled with the model in {gone}, which no longer exists, and its faces "
        "cannot be compared with another model's: "
    )
    face = "leave out --model (or pass --model {recorded}) to use it, or enroll into a new file"
    assert said(face) == head + (
        f"{MOVED}, pass --model with the folder it is in now (enrolling with it records that "
        f"folder); else restore it and leave out --model (or pass --model {gone}) to use it, or "
        "enroll into a new file."
    )
    serve = "serve {recorded} to use it, or give a new --gallery file"  # MODEL, an argument
    assert said(serve) == head + (
        f"{MOVED}, give the folder it is in now as MODEL; else restore it and serve {gone} to "
        "use it, or give a new --gallery file."
    )
    assert said(serve, option="--model").startswith(head + f"{MOVED}, pass --model with")
    with pytest.raises(ValueError) as err:  # no --model: the recorded folder, gone
        recorded_model(None, db, "dlib", "gallery", refuse_gone=("faces", face))
    assert str(err.value) == said(face)
    folder, note = recorded_model(None, db, "default-model", "bank")  # falls back, with a note
    assert folder == "default-model" and note == (
        f" (the bank was enrolled with {gone}, which no longer exists; if that folder moved, "
        "pass --model with the folder it is in now)"
    )


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("siamkit")
    for command in COMMANDS:
        group.add_command(command)
    return group


def _run(cli: click.Group, *args: object, code: int = 0) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return " ".join(res.output.split())


def test_a_moved_project_folder_is_used_by_giving_the_model_s_new_place(
    cli: click.Group, tmp_path: Path
) -> None:
    """A project folder (model + gallery) moved elsewhere: another model is refused naming the
    recorded folder, gone, and saying to give the new one as MODEL; the moved model opens the
    moved gallery (its fingerprint decides), and an enroll with it records its new place."""
    proj = tmp_path / "proj"
    torch.manual_seed(0)
    pre = siamkit.models.Preprocess(input_shape=(1, 28, 28))
    for name, seed in (("model", 0), ("other", 1)):
        torch.manual_seed(seed)
        enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(8,))
        net = siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre)
        siamkit.save_model(net, proj / name, threshold=0.5)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(proj / f"{name}.png")
    _run(cli, "enroll", proj / "model", "--gallery", proj / "g.db", "--label", "a", proj / "a.png")
    shutil.copytree(proj / "model", tmp_path / "spare")
    moved = shutil.move(proj, tmp_path / "moved")
    db, new = Path(moved) / "g.db", (Path(moved) / "model").resolve()
    here = (Path(moved) / "other", "--gallery", db, Path(moved) / "a.png")
    out = _run(cli, "identify", *here, code=1)  # found where it moved with the gallery
    assert f"was enrolled with the model in {new}, not {Path(moved) / 'other'}" in out
    shutil.rmtree(new)  # gone from both the places the gallery recorded
    out = _run(cli, "identify", *here, code=1)
    assert (
        f"was enrolled with the model in {(proj / 'model').resolve()}, which no longer exists"
    ) in out
    assert f"{MOVED}, give the folder it is in now as MODEL; else restore it and give" in out
    shutil.copytree(tmp_path / "spare", new)
    out = _run(cli, "identify", new, "--gallery", db, Path(moved) / "a.png", "--json")
    assert '"label": "a"' in out
    _run(cli, "enroll", new, "--gallery", db, "--label", "b", Path(moved) / "b.png")
    with Gallery.open(db) as g:
        assert g.stats().model_path == str(new.resolve())
